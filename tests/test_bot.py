"""The quicker BabyAI bot is minigrid's bot step for step: same actions, same search."""

from __future__ import annotations

import gymnasium as gym
import minigrid  # noqa: F401 - registers the BabyAI levels
import numpy as np
import pytest
from minigrid.utils.baby_ai_bot import BabyAIBot

from instructed_rl.acting.bot import PLAN_DEPTH_LIMIT, Bot, QuickBabyAIBot
from instructed_rl.games.env import make_game_env


def _replan(bot, last_action):
    """The bot's action, or the name of the error it gave up with."""
    try:
        return int(bot.replan(last_action))
    except Exception as error:  # noqa: BLE001 - both bots must give up the same way
        return type(error).__name__


# minigrid's own envs (the bot builds the view grid) and our game envs (the level says what it sees).
@pytest.mark.parametrize("level", ["BabyAI-GoToLocal-v0", "BabyAI-PutNextLocal-v0", "BabyAI-GoTo-v0",
                                   "BabyAI-UnblockPickup-v0", "BabyAI-BossLevel-v0", "SkillRoom", "SkillMaze"])
def test_quick_bot_matches_minigrids_bot_under_off_policy_actions(level):
    rng = np.random.default_rng(0)
    ours = not level.startswith("BabyAI-")
    env = make_game_env(level) if ours else gym.make(level)
    steps = 0
    for seed in range(10):
        env.reset(seed=seed)
        world = env.unwrapped.level if ours else env.unwrapped
        assert hasattr(world, "view_mask") == ours
        reference, quick = BabyAIBot(world), QuickBabyAIBot(world)
        last = None
        for _ in range(120):
            expected, got = _replan(reference, last), _replan(quick, last)
            assert got == expected, f"{level} seed {seed} step {steps}"
            assert np.array_equal(quick.vis_mask, reference.vis_mask)
            assert quick.bfs_step_counter == reference.bfs_step_counter
            if isinstance(expected, str):
                break
            # A third of the actions are random, as in DAgger: the bots must replan alike.
            last = int(rng.integers(6)) if rng.random() < 0.3 else expected
            _, _, terminated, truncated, _ = env.step(last)
            steps += 1
            if terminated or truncated:
                break
    assert steps > 60  # the comparison covered real episodes


def test_the_bot_gives_up_where_minigrids_bot_would_plan_forever():
    # On this BabyAI-UnlockToUnlock-v0 world minigrid's bot pushes "explore" and "go next to" in
    # turn inside one replan, without end, its memory growing; ours gives up with a reason.
    env = gym.make("BabyAI-UnlockToUnlock-v0")
    env.reset(seed=7_900_000)
    bot = Bot(env.unwrapped)
    for _ in range(10):
        action = bot.next_action()
        if action is None:
            break
        env.step(action)
    assert action is None
    assert "PlanLoopError" in bot.gave_up and "subgoals" in bot.gave_up
    assert len(bot.bot.stack) <= PLAN_DEPTH_LIMIT
