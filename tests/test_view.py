"""The fast partial-view encoder must equal minigrid's own, bit for bit, in every world we ship."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from minigrid.minigrid_env import MiniGridEnv
from minigrid.utils.baby_ai_bot import BabyAIBot

from instructed_rl.games.env import InstructedEnv
from instructed_rl.games.spec import find_game, shipped_games
from instructed_rl.games.view import encode_view, view_sources


def minigrid_image(level) -> np.ndarray:
    return MiniGridEnv.gen_obs(level)["image"]  # the class's method, not the one installed on the instance


def mixed_rollout(env, level, rng, steps: int):
    """Bot actions with random ones mixed in: the agent carries things, opens doors, bumps walls."""
    env.reset(seed=int(rng.integers(10**6)))
    bot = BabyAIBot(level)
    for _ in range(steps):
        action = int(rng.integers(7))
        if rng.random() < 0.6:
            try:
                action = int(bot.replan())
            except Exception:  # the bot gives up on some states random actions lead to
                pass
        _, _, terminated, truncated, _ = env.step(action)
        yield
        if terminated or truncated:
            env.reset(seed=int(rng.integers(10**6)))
            bot = BabyAIBot(level)


@pytest.mark.parametrize("game", shipped_games())
def test_fast_view_equals_minigrids_observation(game):
    spec = find_game(game)
    env = InstructedEnv(game, split=spec.splits[0])
    level = env.level
    rng = np.random.default_rng(0)
    carried = opened = 0
    obs, _ = env.reset(seed=3)
    assert np.array_equal(obs["image"], minigrid_image(level))
    for _ in mixed_rollout(env, level, rng, steps=250):
        assert np.array_equal(encode_view(level), minigrid_image(level))
        carried += level.carrying is not None
        opened += any(getattr(obj, "is_open", False) for obj in level.grid.grid if obj is not None)
    # Otherwise the comparison would never have seen a carried object or an open door.
    if {"pickup", "putnext"} & set(spec.skills):
        assert carried
    if "open" in spec.skills:
        assert opened


def test_steps_return_the_fast_view_and_minigrid_envs_that_see_through_walls_match_too():
    env = InstructedEnv("SkillRoom")
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(1)
    assert np.array_equal(obs["image"], minigrid_image(env.level))
    for env_id in ("MiniGrid-GoToObject-8x8-N2-v0", "MiniGrid-Empty-5x5-v0"):  # see_through_walls=True
        level = gymnasium.make(env_id, agent_view_size=5).unwrapped
        level.reset(seed=0)
        for action in (1, 2, 2, 0, 2):
            level.step(action)
            assert np.array_equal(encode_view(level), minigrid_image(level))


def test_view_sources_turn_like_minigrids_rotation():
    # Facing right (dir 0), minigrid rotates the slice once: the agent's cell (3, 6) is slice (0, 3).
    assert view_sources(7, 0)[3 * 7 + 6] == (0, 3)
    # Facing up (dir 3), four turns: no rotation at all.
    assert view_sources(7, 3) == tuple((i, j) for i in range(7) for j in range(7))


@pytest.mark.parametrize("game", ["SkillMaze", "BabyAI-BossLevel-v0"])
def test_seen_map_holds_what_the_agent_saw_where_it_is(game):
    """Every cell the map marks seen holds what the world has there (unless something moved since
    the agent last looked), the map's view region is the view, and the map grows as the agent looks around."""
    from instructed_rl.games.view import MAP_CENTER, MAP_SIZE

    env = InstructedEnv(game)
    level = env.level
    rng = np.random.default_rng(1)
    checked = stale = 0
    seen_counts = []
    obs, _ = env.reset(seed=4)
    for _ in mixed_rollout(env, level, rng, steps=200):
        obs = env._observation({"image": level.gen_obs()["image"], "direction": level.agent_dir})
        seen, image = obs["map"], obs["image"]
        assert seen.shape == (MAP_SIZE, MAP_SIZE, 3) and env.observation_space["map"].contains(seen)
        visible = image[..., 0] != 0
        visible[3, 6] = False  # the view shows what the agent carries in its own cell
        region = seen[MAP_CENTER - 3:MAP_CENTER + 4, MAP_CENTER - 6:MAP_CENTER + 1]
        assert np.array_equal(region[visible], image[visible])
        (ax, ay), ahead, right = level.agent_pos, level.dir_vec, level.right_vec
        for i, j in zip(*np.nonzero(seen[..., 0])):
            x = ax + (i - MAP_CENTER) * right[0] + (MAP_CENTER - j) * ahead[0]
            y = ay + (i - MAP_CENTER) * right[1] + (MAP_CENTER - j) * ahead[1]
            cell = level.grid.get(x, y)
            truth = (1, 0, 0) if cell is None else tuple(cell.encode())
            checked += 1
            stale += tuple(seen[i, j]) != truth
        seen_counts.append(int((seen[..., 0] != 0).sum()))
    assert checked > 10_000
    assert stale < 0.02 * checked  # only objects moved or doors opened out of sight since
    assert max(seen_counts) > 2 * min(seen_counts)


def test_seen_map_forgets_at_reset():
    env = InstructedEnv("GoToAnyMaze")
    obs, _ = env.reset(seed=0)
    for step in range(12):
        obs, *_ = env.step(2 if step % 3 else 0)
    assert int((obs["map"][..., 0] != 0).sum()) > 49  # more than one view's worth
    obs, _ = env.reset(seed=1)
    assert int((obs["map"][..., 0] != 0).sum()) <= 49
