"""Doors for other libraries and agents: token ids that SB3 accepts on every game, the
text-only view checked against the world, anyone's policy scored by eval, and the SB3 example."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
from stable_baselines3.common.env_checker import check_env

import instructed_rl  # noqa: F401  (registers the games)
from instructed_rl.eval.cell import EvalConfig, run_cell, run_episode
from instructed_rl.games.spec import find_game, shipped_game_ids
from instructed_rl.games.text_view import TextView, describe_view, where
from instructed_rl.acting.foreign import make_python_actor
from instructed_rl.interop import TokenIds, agent_vocabulary, corpus_vocabulary
from instructed_rl.resources import CHECKOUT_ROOT
from instructed_rl.model.text.tokenizer import PAD_ID

GAMES = list(shipped_game_ids())
POLICY = f"python:{CHECKOUT_ROOT / 'examples' / 'wall_follower.py'}:make_policy"


def make(game: str, **kwargs) -> gymnasium.Env:
    return gymnasium.make(f"InstructedRL/{game}-v0", split=find_game(game).splits[0], **kwargs)


@pytest.fixture(scope="module")
def vocabulary():
    return agent_vocabulary("default")


@pytest.mark.parametrize("game", GAMES)
def test_sb3_check_env_passes_on_token_ids(game, vocabulary):
    env = TokenIds(make(game), vocabulary)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*minimal resolution.*")  # 7x7 symbolic view, not pixels
        check_env(env, warn=True)
    obs, _ = env.reset(seed=7)
    raw, _ = make(game).reset(seed=7)
    assert vocabulary.decode(obs["mission"]) == raw["mission"].lower()  # the same text, case-folded
    assert env.observation_space.contains(obs) and obs["mission"][0] == vocabulary.bos_id


def test_token_ids_are_the_agents_frozen_vocabulary_cut_and_padded(vocabulary):
    env = TokenIds(make("GoToRoom"), agent="default", mission_length=8, description_length=64)
    obs, _ = env.reset(seed=1)
    expected = vocabulary.encode(env.unwrapped.mission)
    cut = len(expected) > 8
    want = expected[:7] + [vocabulary.eos_id] if cut else expected + [PAD_ID] * (8 - len(expected))
    assert list(obs["mission"]) == want
    unseen = env.ids("mission", "go to the zorblaxian frobnicator")
    assert unseen.max() < vocabulary.vocab_size  # unseen words are pieces of the vocabulary, never new ids
    long = env.ids("description", "a red ball " * 40)
    assert long[-1] == vocabulary.eos_id and env.truncated_texts == int(cut) + 2


def test_token_ids_batch_in_gymnasiums_vector_envs_as_cleanrl_uses_them(vocabulary):
    envs = gymnasium.vector.SyncVectorEnv([lambda: TokenIds(make("GoToRoom"), vocabulary) for _ in range(3)])
    obs, _ = envs.reset(seed=[5, 6, 7])
    assert obs["mission"].shape == (3, 64) and obs["description"].shape == (3, 192) and obs["image"].shape == (3, 7, 7, 3)
    assert obs["mission"].dtype == np.int64 and len({tuple(row) for row in obs["description"]}) == 3  # three worlds
    obs, reward, terminated, truncated, _ = envs.step(np.array([2, 1, 0]))
    assert reward.shape == (3,) and envs.single_observation_space["mission"].contains(obs["mission"][0])
    envs.close()


def test_a_corpus_vocabulary_reads_the_invented_language():
    tokens = corpus_vocabulary("zorblax")
    env = TokenIds(gymnasium.make("InstructedRL/GoToRoom-v0", corpus="zorblax"), tokens)
    obs, _ = env.reset(seed=2)
    assert tokens.decode(obs["mission"]) == env.unwrapped.mission.lower()
    assert tokens.unk_id not in obs["mission"]


def test_describe_view_of_a_handmade_view():
    image = np.zeros((7, 7, 3), dtype=np.uint8)
    image[:, :, 0] = 1  # empty cells
    image[:, 2, 0] = 2  # a wall across the view, 4 steps ahead
    image[2, 4] = (6, 0, 0)  # a red ball 1 left, 2 forward
    image[5, 6] = (4, 3, 2)  # a locked purple door 2 right
    image[3, 6] = (5, 1, 0)  # carrying a green key
    assert describe_view(image) == [
        "You see a wall 4 steps forward.", "You see a locked purple door 2 steps right.",
        "You see a red ball 1 step left and 2 steps forward.", "You carry a green key."]


@pytest.mark.parametrize("game", GAMES)
def test_the_text_view_names_every_object_in_view_where_the_world_has_it(game):
    env = TextView(make(game))
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        raw = env.unwrapped._observation(env.unwrapped.level.gen_obs())  # the same step, with the image
        assert env.observation_space.contains(obs) and set(obs) == {"mission", "description", "view"}
        level = env.unwrapped.level
        named = 0
        for x in range(level.width):
            for y in range(level.height):
                thing = level.grid.get(x, y)
                if thing is None or thing.type not in ("ball", "box", "key", "door"):
                    continue
                view = level.get_view_coords(x, y)
                if not (0 <= view[0] < 7 and 0 <= view[1] < 7) or raw["image"][view][0] == 0:
                    continue  # outside the view, or hidden
                state = "" if thing.type != "door" else (
                    "open " if thing.is_open else "locked " if thing.is_locked else "closed ")
                assert f"a {state}{thing.color} {thing.type} {where(*view)}." in obs["view"], (game, seed, obs["view"])
                named += 1
        assert obs["view"].count("You see a ") >= named
        obs, *_ = env.step(2)
        assert obs["view"].endswith(("You carry nothing.", "."))


def test_eval_scores_anyones_policy_like_its_own_episodes():
    config = EvalConfig(agent=POLICY, game="GoToRoom", episodes=6, seed=100)
    result = run_cell(config, progress=False)
    assert result.agent == POLICY and result.episodes == 6 and result.seeds == list(range(100, 106))
    actor = make_python_actor(POLICY)
    from instructed_rl.games.env import InstructedEnv

    env = InstructedEnv("GoToRoom", split="test")
    by_hand = [int(run_episode(env, actor, seed)[0]) for seed in range(100, 106)]
    assert result.outcomes == by_hand


def test_a_text_only_agent_reads_the_view_well_enough_to_beat_random():
    """examples/text_reader.py sees only the instruction and the view's sentences (a stand-in for a
    language-model agent); eval scores it through python: on the same seeds as random actions."""
    reader = run_cell(EvalConfig(agent=f"python:{CHECKOUT_ROOT / 'examples' / 'text_reader.py'}:make_policy",
                                 game="GoToRoom", split="unseen_compositions", episodes=30), progress=False)
    random = run_cell(EvalConfig(agent="random", game="GoToRoom", split="unseen_compositions", episodes=30),
                      progress=False)
    assert reader.seeds == random.seeds
    assert reader.success_rate >= 0.6 and reader.success_rate > random.success_rate + 0.2, (reader, random)


@pytest.mark.integration
def test_the_sb3_example_trains_recurrent_ppo_for_a_moment(tmp_path):
    result = subprocess.run([sys.executable, str(CHECKOUT_ROOT / "examples" / "sb3_recurrent_ppo.py"),
                             "--timesteps", "128", "--eval-episodes", "1"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RecurrentPPO, 128 steps on GoToRoom [train]: success" in result.stdout
    assert "on unseen_compositions (seeds 1,000,000+, 1 episodes)" in result.stdout
