"""The relabeller: what it says an episode achieved, minigrid's own levels confirm.

Each achievement is checked independently of the relabeller: a fresh copy of the start world
gets the achieved instruction as its mission, the same actions are replayed through the
level's own ``step``, and the level must end in success at exactly the reported step.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from instructed_rl.acting.bot import QuickBabyAIBot
from instructed_rl.games.env import InstructedEnv
from instructed_rl.hindsight import AchievementTracker, achieved_instructions, candidate_instructions
from instructed_rl.language.instructions import instruction_from_dict, instruction_to_dict

SKILL_GAMES = ("GoToRoom", "PickupRoom", "OpenRoom", "PutNextRoom", "SkillMaze")
# Random play that picks things up, drops and toggles often enough to achieve every skill.
RANDOM_ACTIONS = (0, 1, 2, 2, 2, 3, 4, 5)


def _rollout(game: str, seed: int, *, policy: str, steps: int = 60):
    """(start world, actions, the mission as a dict, whether the level reported success)."""
    env = InstructedEnv(game)
    env.reset(seed=seed)
    level = env.level
    start = copy.deepcopy(level)
    mission = instruction_to_dict(level.instrs)
    rng = np.random.default_rng(seed)
    bot = QuickBabyAIBot(level) if policy == "bot" else None
    actions, success = [], False
    for _ in range(steps if bot is None else level.max_steps):
        action = int(bot.replan()) if bot is not None else int(rng.choice(RANDOM_ACTIONS))
        actions.append(action)
        _, reward, terminated, truncated, _ = level.step(action)
        if terminated or truncated:
            success = terminated and reward > 0
            break
    return start, actions, mission, success


def _level_says_done_at(start, instruction: dict, actions: list[int]) -> int | None:
    """The step at which the level itself, given ``instruction`` as its mission, ends in success."""
    level = copy.deepcopy(start)
    level.instrs = instruction_from_dict(instruction)
    level.instrs.reset_verifier(level)
    for step, action in enumerate(actions, start=1):
        _, reward, terminated, _, _ = level.step(action)
        if terminated:
            return step if reward > 0 else None
    return None


@pytest.mark.parametrize("game", SKILL_GAMES)
@pytest.mark.parametrize("policy", ["bot", "random"])
def test_every_achievement_is_confirmed_by_the_level_at_its_step(game, policy):
    kinds = set()
    for seed in range(4):
        start, actions, _, _ = _rollout(game, seed, policy=policy)
        for achievement in achieved_instructions(start, actions):
            kinds.add(achievement.kind)
            assert _level_says_done_at(start, achievement.instruction, actions) == achievement.step, \
                (game, seed, achievement.instruction)
    assert kinds, f"{policy} play on {game} achieved nothing in 4 episodes"


def test_nothing_the_level_would_accept_is_missed():
    """Completeness: every candidate the relabeller did not report, the level never accepts either."""
    for game, policy in [("PutNextRoom", "bot"), ("OpenRoom", "random"), ("PickupRoom", "random")]:
        start, actions, _, _ = _rollout(game, 1, policy=policy)
        reported = {str(a.instruction) for a in achieved_instructions(start, actions)}
        for instr in candidate_instructions(start):
            structured = instruction_to_dict(instr)
            if str(structured) not in reported:
                assert _level_says_done_at(start, structured, actions) is None, (game, structured)


@pytest.mark.parametrize("game", ["GoToRoom", "PickupRoom", "OpenRoom", "PutNextRoom"])
def test_a_bot_episode_achieves_its_own_mission_at_its_last_step(game):
    for seed in range(3):
        start, actions, mission, success = _rollout(game, seed, policy="bot")
        assert success
        mission_named = {(str(mission["obj"]), str(mission.get("obj2")))}
        found = [a for a in achieved_instructions(start, actions) if a.kind == mission["kind"]
                 and {(str(a.instruction["obj"]), str(a.instruction.get("obj2")))} == mission_named]
        if any(obj.get("loc") for obj in (mission["obj"], mission.get("obj2") or {})):
            continue  # candidates never name locations
        assert found and found[0].step == len(actions), (game, seed, mission)


def test_every_skill_is_relabelled_and_phrased_by_the_corpus():
    env = InstructedEnv("SkillRoom", corpus="paraphrase")
    kinds, texts = set(), []
    for seed in range(30):
        env.reset(seed=seed)
        tracker = AchievementTracker(env.level)
        bot = QuickBabyAIBot(env.level)
        for _ in range(env.level.max_steps):
            action = int(bot.replan())
            _, _, terminated, truncated, _ = env.level.step(action)
            for achievement in tracker.step(action):
                kinds.add(achievement.kind)
                texts.append(tracker.phrase(achievement, env.phraser, np.random.default_rng(seed)))
            if terminated or truncated:
                break
    assert kinds == {"goto", "pickup", "open", "putnext"}
    assert all(text and text == " ".join(text.split()) for text in texts)
    # Phrased with the world as it began: an object picked up is still named ("the red ball").
    assert any(t for t in texts if "ball" in t or "box" in t or "key" in t)


def test_unknown_skill_is_refused_with_the_known_ones():
    env = InstructedEnv("GoToRoom")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="knows goto, pickup, open, putnext"):
        candidate_instructions(env.level, skills=["jump"])
