"""Games: env checker and determinism on every registered env, split rules, subtask bookkeeping."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from minigrid.utils.baby_ai_bot import BabyAIBot

import instructed_rl  # noqa: F401  (registers the games)
from instructed_rl.errors import GameSpecError
from instructed_rl.games.descriptions import LAYOUTS
from instructed_rl.games.env import InstructedEnv, quiet
from instructed_rl.games.spec import find_game, load_game_spec, shipped_games

GAME_SPLITS = [(spec.id, split) for spec in shipped_games().values() for split in spec.splits]


def test_every_game_is_registered():
    for spec in shipped_games().values():
        assert spec.env_id in gymnasium.registry


@pytest.mark.parametrize("game,split", GAME_SPLITS)
def test_env_checker_passes(game, split):
    check_env(InstructedEnv(game, split=split), skip_render_check=True)


def _rollout(env, seed: int, steps: int):
    obs, info = env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(env.action_space.n, size=steps)
    trace = [(obs["mission"], obs["description"], obs["image"].tobytes(), int(obs["direction"]), info["instruction"])]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(int(action))
        trace.append((obs["image"].tobytes(), int(obs["direction"]), reward, terminated, truncated,
                      info["subtasks_done"], info["success"]))
        if terminated or truncated:
            obs, info = env.reset()
            trace.append((obs["mission"], obs["image"].tobytes()))
    return trace


@pytest.mark.parametrize("game,split", GAME_SPLITS)
def test_seeded_rollouts_are_deterministic(game, split):
    corpus = "paraphrase" if split != "unseen_phrasings" else None
    make = lambda: gymnasium.make(f"InstructedRL/{game}-v0", split=split, corpus=corpus)  # noqa: E731
    first, second = _rollout(make(), seed=7, steps=120), _rollout(make(), seed=7, steps=120)
    assert first == second
    assert _rollout(make(), seed=8, steps=5)[0] != first[0]


def _leaf_compositions(instruction: dict):
    if instruction["kind"] in ("and", "before", "after"):
        return _leaf_compositions(instruction["a"]) + _leaf_compositions(instruction["b"])
    objects = [instruction["obj"]] + ([instruction["obj2"]] if "obj2" in instruction else [])
    return [(instruction["kind"], obj["color"], obj["type"]) for obj in objects]


def _is_heldout(spec, instruction) -> bool:
    return any(c.matches(skill, [{"color": color, "type": kind}])
               for skill, color, kind in _leaf_compositions(instruction) for c in spec.heldout_compositions)


@pytest.mark.parametrize("game", ["GoToRoom", "SkillRoom", "PickupRoom", "OpenRoom", "PutNextRoom"])
def test_heldout_compositions_never_in_train_and_always_in_their_split(game):
    spec = find_game(game)
    train = InstructedEnv(spec, split="train", corpus="paraphrase")
    seen_pairs = set()
    for seed in range(1500):
        _, info = train.reset(seed=seed)
        assert not _is_heldout(spec, info["instruction"]), info["mission"]
        assert not any(t.startswith("heldout.") for t in info["phrasing"])
        seen_pairs.update(_leaf_compositions(info["instruction"]))
    held = InstructedEnv(spec, split="unseen_compositions")
    for seed in range(150):
        _, info = held.reset(seed=seed)
        assert _is_heldout(spec, info["instruction"]), info["mission"]
    if len(spec.skills) > 1:  # in a mixed game each part of a held-out pair is trained, only the pair is new
        for c in spec.heldout_compositions:
            assert any(s == c.skill and (col, t) != (c.color, c.type) for s, col, t in seen_pairs)
            assert any(s != c.skill and (col, t) == (c.color, c.type) for s, col, t in seen_pairs)


def test_same_seed_same_world_and_phrasing_different_seed_differs():
    env = InstructedEnv("SkillRoom", split="train", corpus="paraphrase")
    a = [env.reset(seed=s)[0]["mission"] for s in range(30)]
    b = [env.reset(seed=s)[0]["mission"] for s in range(30)]
    assert a == b and len(set(a)) > 20


def test_observation_and_info_contents():
    env = gymnasium.make("InstructedRL/SkillRoom-v0", split="train")
    obs, info = env.reset(seed=3)
    assert set(obs) == {"image", "direction", "map", "world", "pose", "mission", "description"}
    assert obs["image"].shape == (7, 7, 3) and obs["image"].dtype == np.uint8
    assert obs["mission"] == info["mission"] and obs["description"] == info["description"]
    # one room with doors (its wording varies: the description family's training templates)
    assert any(t in obs["description"] for t in LAYOUTS["room_doors"].train) and " door" in obs["description"]
    assert info["game"] == "SkillRoom" and info["split"] == "train" and info["corpus"] == "babyai"
    assert info["instruction"]["kind"] in ("goto", "pickup", "open", "putnext")
    assert info["subtasks"] == [obs["mission"]] and info["subtasks_done"] == [False] and info["active_subtask"] == 0
    assert env.unwrapped.instrs is not None  # minigrid's verifier tree, for the bot and trainers


def _solve_with_bot(env, seed: int):
    obs, info = env.reset(seed=seed)
    bot = BabyAIBot(env.unwrapped.level)
    history = [list(info["subtasks_done"])]
    action, done = None, False
    while not done:
        action = bot.replan(action)
        obs, reward, terminated, truncated, info = env.step(action)
        history.append(list(info["subtasks_done"]))
        done = terminated or truncated
    return info, history


@pytest.mark.parametrize("game", ["SkillRoom", "SkillRoomSeq"])
def test_bot_solves_our_worlds_and_subtasks_complete_in_plan_order(game):
    spec = find_game(game)
    env = InstructedEnv(spec, split=spec.splits[0])
    successes = 0
    for seed in range(40):
        info, history = _solve_with_bot(env, seed)
        successes += info["success"]
        for before, after in zip(history, history[1:]):
            assert all(a or not b for a, b in zip(after, before)), "a done subtask never becomes undone"
        if info["success"]:
            assert history[-1] == [True] * len(history[-1]) and info["active_subtask"] is None
    assert successes == 40


def test_after_you_puts_the_second_clause_first_in_the_plan():
    env = InstructedEnv("SkillRoomSeq", split="unseen_sequences")
    found = 0
    for seed in range(60):
        _, info = env.reset(seed=seed)
        assert len(info["subtasks"]) == 2
        kind = info["instruction"]["kind"]
        a, b = info["subtasks"] if kind != "after" else info["subtasks"][::-1]
        if kind == "after":
            found += 1
            assert info["mission"] == f"{a} after you {b}"
            assert info["subtasks"][0] == b  # b is done first
        elif kind == "before":
            assert info["mission"] == f"{a}, then {b}"
    assert found > 5


def test_unseen_sequences_split_yields_only_sequences_on_babyai_levels():
    env = gymnasium.make("InstructedRL/GoToSeq-v0", split="unseen_sequences")
    for seed in range(30):
        _, info = env.reset(seed=seed)
        assert info["instruction"]["kind"] in ("and", "before", "after")
        assert len(info["subtasks"]) >= 2


def test_unknown_game_and_split_errors_are_one_line_with_suggestions():
    with pytest.raises(GameSpecError, match=r"unknown game 'SkilRoom': did you mean SkillRoom"):
        find_game("SkilRoom")
    with pytest.raises(GameSpecError, match=r"game GoToSeq has no split 'train'"):
        InstructedEnv("GoToSeq", split="train")
    assert find_game("instructedrl/gotoroom-v0").id == "GoToRoom"
    assert find_game("BabyAI-GoToLocal-v0").world == "BabyAI-GoToLocal-v0"


BAD_SPECS = [
    ("id: X\nworld: BabyAI-GoToLocal-v0\ndescription: d\nskills: [goto]\nsplits: [train]\ncolour: red\n", "colour", "unknown key"),
    ("id: X\nworld: Atari-Pong\ndescription: d\nskills: [goto]\nsplits: [train]\n", "world", "unknown world"),
    ("id: X\nworld: BabyAI-GoToLocal-v0\ndescription: d\nskills: [fly]\nsplits: [train]\n", "skills", "unknown entry 'fly'"),
    ("id: X\nworld: BabyAI-GoToLocal-v0\ndescription: d\nskills: [goto]\nsplits: [train, unseen_compositions]\n",
     "heldout_compositions", "empty"),
    ("id: X\nworld: BabyAI-GoToLocal-v0\ndescription: d\nskills: [goto]\nsplits: [train]\n"
     "heldout_compositions: [{skill: goto, color: pink}]\n", "heldout_compositions[0].color", "'pink'"),
    ("id: X\nworld: BabyAI-GoToLocal-v0\ndescription: [d]\nskills: [goto]\nsplits: [train]\n", "description", "not a string"),
    ("id: X\nworld: BabyAI-GoToLocal-v0\ndescription: d\nskills: [goto]\nsplits: [training]\n", "splits", "unknown entry"),
]


@pytest.mark.parametrize("text,key,problem", BAD_SPECS)
def test_bad_game_spec_gives_one_line_error(write_yaml, text, key, problem):
    path = write_yaml(text, "bad_game.yaml")
    with pytest.raises(GameSpecError) as caught:
        load_game_spec(path)
    message = str(caught.value)
    assert "\n" not in message and "bad_game.yaml" in message and key in message and problem in message
    assert "Fix:" in message


def test_description_lists_what_the_world_holds():
    env = InstructedEnv("OpenRoom", split="train")
    with quiet():
        obs, _ = env.reset(seed=1)
    doors = [o for o in env.level.grid.grid if o is not None and o.type == "door"]
    for door in doors:
        assert f"{door.color} door" in obs["description"]


def test_a_level_that_starts_carrying_keeps_the_carried_object_in_its_verifier():
    # BabyAI-PutNext*Carrying puts the object to move in the agent's hands after its verifier has
    # found it on the grid; phrasing the mission must not make the verifier look for it again.
    env = InstructedEnv("BabyAI-PutNextS6N3Carrying-v0")
    for seed in range(7_900_000, 7_900_005):
        env.reset(seed=seed)
        level = env.unwrapped.level
        assert level.carrying is not None
        assert any(obj is level.carrying for obj in level.instrs.desc_move.obj_set)
    # The agent starts at (1, 1) facing east with the green box; the purple box is at (8, 1):
    # five steps east and a drop put the green box right beside it.
    env.reset(seed=7_900_000)
    assert env.unwrapped.level.instrs.desc_fixed.obj_poss == [(8, 1)]
    for action in (2, 2, 2, 2, 2):
        env.step(action)
    _, reward, terminated, _, info = env.step(4)
    assert terminated and reward > 0 and info["success"]
