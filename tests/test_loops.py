"""Greedy actions that leave loops (instructed_rl.model.loops), on real minigrid worlds and the shipped agent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from minigrid.core.constants import OBJECT_TO_IDX

from instructed_rl.acting.actors import escapes_loops, make_actor
from instructed_rl.eval.cell import EvalConfig, format_cell, run_cell
from instructed_rl.games.env import InstructedEnv
from instructed_rl.model.loops import LoopGuard, action_mode

LEFT, RIGHT, FORWARD = 0, 1, 2


def _choose(guard: LoopGuard, logits: list[float], obs: dict) -> int:
    return int(guard.choose(torch.tensor([logits]), obs["image"][None], np.asarray([obs["direction"]]))[0])


@pytest.mark.parametrize("game", ["BabyAI-GoTo-v0", "BabyAI-BossLevel-v0"])
def test_the_dead_reckoned_cell_is_where_the_agent_is(game):
    """Through walls, closed and locked doors, objects and toggles: the cell the guard counts from
    the agent's own actions and views is always the env's."""
    env = InstructedEnv(game, split="test")
    generator = torch.Generator().manual_seed(0)
    moved = 0
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        start = tuple(env.unwrapped.level.agent_pos)
        guard = LoopGuard(1)
        for _ in range(150):
            logits = torch.randn(1, env.action_space.n, generator=generator)
            logits[0, FORWARD] += 1.0  # walk about, not only turn
            action = int(guard.choose(logits, obs["image"][None], np.asarray([obs["direction"]]))[0])
            obs, _, terminated, truncated, _ = env.step(action)
            x, y = env.unwrapped.level.agent_pos
            assert guard.cells[0] == (x - start[0], y - start[1])
            moved += guard.cells[0] != (0, 0)
            if terminated or truncated:
                break
    assert moved > 100  # the test walked, it did not stand still


def test_a_policy_that_only_turns_is_sent_on_and_never_repeats_itself():
    env = InstructedEnv("BabyAI-GoToLocal-v0", split="test")
    obs, _ = env.reset(seed=1)
    start = tuple(env.unwrapped.level.agent_pos)
    spin = [3.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0]  # left, then forward, then right
    guard, seen = LoopGuard(1), []
    for _ in range(12):
        key = (guard.cells[0], int(obs["direction"]), obs["image"].tobytes())
        action = _choose(guard, spin, obs)
        assert (key, action) not in seen  # every action here is still untried where it is taken
        seen.append((key, action))
        obs, *_ = env.step(action)
    assert [action for _, action in seen[:4]] == [LEFT] * 4  # the argmax until it is back where it began
    assert seen[4][1] != LEFT
    assert tuple(env.unwrapped.level.agent_pos) != start  # the spin was left: it went forward
    guard.restart(0)
    assert guard.cells[0] == (0, 0) and not guard.taken[0]


def test_once_every_action_was_tried_the_least_used_ones_come_first():
    """Facing a wall, where no action moves it, the agent takes every action once in the policy's
    order, then every action a second time in that order: no action twice before all once more."""
    env = InstructedEnv("BabyAI-GoToLocal-v0", split="test")
    obs, _ = env.reset(seed=1)
    image = obs["image"].copy()
    image[3, 5] = (OBJECT_TO_IDX["wall"], 0, 0)  # a wall ahead: forward does not move it
    preference = [0.5, 3.0, 1.0, -1.0, 2.0, 0.0, -2.0]
    order = sorted(range(7), key=lambda a: -preference[a])
    guard = LoopGuard(1)
    taken = [_choose(guard, preference, dict(obs, image=image)) for _ in range(14)]
    assert taken == order + order
    assert guard.cells[0] == (0, 0)


def test_the_guard_is_named_and_can_be_switched_off():
    assert escapes_loops("default") is True  # the shipped agent's config says so
    assert escapes_loops("default", False) is False
    assert escapes_loops("default", greedy=False) is False  # sampled actions have no loops to leave
    assert escapes_loops("bot") is False
    assert action_mode(True, True) == "greedy, escaping loops" and action_mode(True) == "greedy"
    assert make_actor("default", escape_loops=False).agent.config.escape_loops is False


def test_the_shipped_agent_leaves_the_loops_its_argmax_fails_in():
    """On 64 PickupLoc worlds where the plain argmax loops in some (4 of them, measured), the guard
    does better; both results name their mode."""
    common = dict(agent="default", game="BabyAI-PickupLoc-v0", split="test", episodes=64, seed=3000128)
    plain = run_cell(EvalConfig(**common, escape_loops=False), progress=False)
    guarded = run_cell(EvalConfig(**common), progress=False)
    assert (plain.escape_loops, guarded.escape_loops) == (False, True)
    assert "greedy, escaping loops]" in format_cell(guarded) and "greedy]" in format_cell(plain)
    assert plain.failures >= 2, "the seeds no longer show a loop; pick a block where the plain argmax fails"
    assert guarded.failures < plain.failures
