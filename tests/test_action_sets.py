"""Optimal-action sets: every equally short move, found by rolling the real BabyAI bot out on copies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from minigrid.utils.baby_ai_bot import BabyAIBot

from instructed_rl.model.agent import Agent, AgentConfig
from instructed_rl.games.env import InstructedEnv
from instructed_rl.commands.train import run as train_run
from instructed_rl.train.checkpoint import CHECKPOINT
from instructed_rl.rollout.envs import MOVES, _rollout_steps, optimal_moves
from instructed_rl.rollout.episodes import Episode, episodes_from_arrays, episodes_to_arrays
from instructed_rl.train.imitation import imitation_loss
from tests.conftest import success_rate
from tests.test_train import GAME, TINY


def _first_states(game: str, seeds: range):
    env = InstructedEnv(game, split="train", corpus="babyai")
    for seed in seeds:
        env.reset(seed=seed)
        bot = BabyAIBot(env.level)
        yield env, bot, int(bot.replan())


def test_sets_hold_the_label_and_only_moves_that_finish_as_fast():
    ties = 0
    for env, bot, label in _first_states("GoToRoom", range(60)):
        before = (tuple(env.level.agent_pos), env.level.agent_dir, len(bot.stack))
        mask = optimal_moves(bot, env.level, label)
        assert (tuple(env.level.agent_pos), env.level.agent_dir, len(bot.stack)) == before  # copies only
        members = [a for a in range(7) if mask >> a & 1]
        assert label in members
        if label in MOVES:
            steps = {a: _rollout_steps(bot, env.level, a) for a in MOVES}
            assert {a for a in MOVES if steps[a] == min(steps.values())} | {label} == set(members)
        ties += len(members) > 1
    assert ties >= 3, "GoToRoom has ties between equally short paths in some first states"


def test_set_loss_is_minus_log_of_the_sets_probability():
    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 16},
                                    "policy": {"embed_dim": 8, "channels": 8, "film_layers": 0, "goal_attention": False}})
    agent = Agent.create(config, texts=["go to the red ball", "a room"], seed=0)
    rng = np.random.default_rng(0)
    episode = Episode(game="GoToRoom", instruction="go to the red ball", description="a room",
                      image=rng.integers(0, 3, (3, 7, 7, 3)).astype(np.uint8), direction=np.array([0, 1, 2], np.uint8),
                      action=np.array([2, 0, -1], np.int16), done=np.array([0, 0, 1], np.uint8), success=True,
                      optimal=np.array([0b101, 0b001, 0], np.uint8))
    loss, values = imitation_loss(agent, [episode], done_coef=0.0)
    with torch.no_grad():
        goal = agent.encode_goal([episode.instruction], [episode.description])
        out = agent.forward_sequence(torch.from_numpy(episode.image[None].astype(np.int64)),
                                     torch.from_numpy(episode.direction[None].astype(np.int64)), goal,
                                     agent.initial_memory(1))
        probs = torch.softmax(out.logits[0], -1)
    expected = -(torch.log(probs[0, 0] + probs[0, 2]) + torch.log(probs[1, 0])) / 2
    assert values["action_loss"] == pytest.approx(expected.item(), rel=1e-5)
    arrays = episodes_to_arrays([episode])
    del arrays["optimal"]  # a checkpoint from before action sets
    assert episodes_from_arrays(arrays)[0].optimal.tolist() == [0b100, 0b001, 0]  # no recorded set: the label alone


@pytest.mark.integration
def test_a_tiny_run_with_action_sets_learns_and_keeps_the_sets_in_its_checkpoint(tmp_path):
    final = train_run(TINY, str(tmp_path / "run"), ["--games", GAME, "--frames", "4000", "--threads", "1",
                                                     "--action_sets", "true"])
    success = success_rate(final, GAME, 100)
    assert success >= 0.42, f"greedy success {success:.2f} after 4k frames with action sets (random is ~0.28)"
    with np.load(tmp_path / "run" / CHECKPOINT / "arrays.npz", allow_pickle=False) as data:  # the replay buffer
        arrays = {key: data[key] for key in data.files}
    masks = arrays["optimal"][arrays["action"] >= 0]
    labels = arrays["action"][arrays["action"] >= 0]
    assert np.all(masks >> labels & 1)  # every set holds the bot's own action
    assert np.mean([bin(int(m)).count("1") > 1 for m in masks]) > 0.02  # and some hold a tie
