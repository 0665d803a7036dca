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
from tests.test_ppo import _tiny_agent  # the small GRU agent the PPO tests roll out

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


@pytest.mark.parametrize("game,locations", [(game, False) for game in SKILL_GAMES]
                         + [("BabyAI-PickupLoc-v0", True), ("BabyAI-GoToLocal-v0", True)])
@pytest.mark.parametrize("policy", ["bot", "random"])
def test_every_achievement_is_confirmed_by_the_level_at_its_step(game, locations, policy):
    kinds, located = set(), 0
    for seed in range(4):
        start, actions, _, _ = _rollout(game, seed, policy=policy)
        for achievement in achieved_instructions(start, actions, locations=locations):
            located += bool(achievement.instruction["obj"].get("loc"))
            kinds.add(achievement.kind)
            assert _level_says_done_at(start, achievement.instruction, actions) == achievement.step, \
                (game, seed, achievement.instruction)
    assert kinds, f"{policy} play on {game} achieved nothing in 4 episodes"
    assert bool(located) == locations, f"{located} achievements named by location"


def test_nothing_the_level_would_accept_is_missed():
    """Completeness: every candidate the relabeller did not report, the level never accepts either."""
    for game, policy in [("PutNextRoom", "bot"), ("OpenRoom", "random"), ("PickupRoom", "random")]:
        start, actions, _, _ = _rollout(game, 1, policy=policy)
        reported = {str(a.instruction) for a in achieved_instructions(start, actions)}
        for instr in candidate_instructions(start):
            structured = instruction_to_dict(instr)
            if str(structured) not in reported:
                assert _level_says_done_at(start, structured, actions) is None, (game, structured)


@pytest.mark.parametrize("game", ["GoToRoom", "PickupRoom", "OpenRoom", "PutNextRoom", "BabyAI-PickupLoc-v0"])
def test_a_bot_episode_achieves_its_own_mission_at_its_last_step(game):
    located = 0
    for seed in range(22, 28):  # PickupLoc names its object by location at seed 25
        start, actions, mission, success = _rollout(game, seed, policy="bot")
        assert success
        mission_named = {(str(mission["obj"]), str(mission.get("obj2")))}
        located += bool(mission["obj"].get("loc"))
        found = [a for a in achieved_instructions(start, actions, locations=True) if a.kind == mission["kind"]
                 and {(str(a.instruction["obj"]), str(a.instruction.get("obj2")))} == mission_named]
        assert found and found[0].step == len(actions), (game, seed, mission)
    if game == "BabyAI-PickupLoc-v0":
        assert located, "no mission named a location: the check above did not cover them"


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


def _facing_an_object_beside_another(level) -> tuple[object, object] | None:
    """Put the agent on a free cell facing an object that touches another one; (that object, its
    neighbour), or None if this world has no such place."""
    from minigrid.core.constants import DIR_TO_VEC
    grid = level.grid
    for x in range(1, grid.width - 1):
        for y in range(1, grid.height - 1):
            moved = grid.get(x, y)
            if moved is None or moved.type not in ("ball", "box", "key"):
                continue
            beside = [grid.get(x + dx, y + dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
            beside = [o for o in beside if o is not None and o.type in ("ball", "box", "key")]
            for direction, (dx, dy) in enumerate(DIR_TO_VEC):
                ax, ay = x - dx, y - dy
                if beside and grid.get(ax, ay) is None:
                    level.agent_pos, level.agent_dir = (ax, ay), direction
                    return moved, beside[0]
    return None


def test_put_next_is_only_relabelled_where_the_level_could_have_asked_it():
    """Picking up an object that already touches another and dropping it back satisfies minigrid's
    put-next verifier, but BabyAI never asks that (its levels reject such missions): no candidate."""
    from minigrid.envs.babyai.core.verifier import ObjDesc, PutNextInstr
    checked = 0
    for seed in range(40):
        env = InstructedEnv("BabyAI-PutNextLocal-v0")
        env.reset(seed=seed)
        level = env.level
        found = _facing_an_object_beside_another(level)
        if found is None:
            continue
        moved, neighbour = found
        start = copy.deepcopy(level)
        for instr in candidate_instructions(start, skills=["putnext"]):
            probe = copy.deepcopy(start)
            probe.validate_instrs(instr)  # raises RejectSampling if the level would not ask it
        raw = PutNextInstr(ObjDesc(moved.type, moved.color), ObjDesc(neighbour.type, neighbour.color))
        raw.reset_verifier(level)
        for action in (3, 4):  # pick up, drop back where it lay
            level.step(action)
            said = raw.verify(action)
        assert said == "success", "the verifier alone accepts the drop back (the check could fail)"
        kinds = {a.kind for a in achieved_instructions(start, [3, 4])}
        assert "pickup" in kinds and "putnext" not in kinds, (seed, kinds)
        checked += 1
    assert checked >= 5, f"only {checked} worlds had an object beside another"


def test_unknown_skill_is_refused_with_the_known_ones():
    env = InstructedEnv("GoToRoom")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="knows goto, pickup, open, putnext"):
        candidate_instructions(env.level, skills=["jump"])


# ---- relabelling in PPO: the rollout reports achievements, relabelled episodes, learning ----

def _achieving_rollout(agent, *, workers: int = 1):
    import torch

    from instructed_rl.rollout.envs import EnvVector
    from instructed_rl.rollout.steps import collect_rollout

    envs = EnvVector(games=["BabyAI-PickupLoc-v0", "BabyAI-GoToLocalS5N2-v0"], corpus="babyai", seed=5, first=0,
                     count=4, workers=workers)
    try:
        rollout, _ = collect_rollout(agent, envs, iteration=1, steps=60, generator=torch.Generator().manual_seed(2),
                                     achievements=True)
    finally:
        envs.close()
    return rollout


@pytest.mark.integration
def test_a_rollout_reports_what_its_steps_achieved_and_relabels_it():
    from instructed_rl.hindsight.relabel import SKILLS
    from instructed_rl.train.hindsight import relabelled_episodes

    agent = _tiny_agent()
    rollout = _achieving_rollout(agent)
    assert rollout.achieved and {skill for _, _, skill, _, _ in rollout.achieved} <= set(SKILLS)
    assert all(text and text == " ".join(text.split()) for _, _, _, text, _ in rollout.achieved)
    # Wherever the level reported success, the relabeller found the mission's own skill at that step.
    for t, n, _, _ in rollout.terminal:
        mission_kind = "pickup" if rollout.texts[rollout.goal[t, n]][1].startswith("pick") else "goto"
        assert any((t2, n2, skill) == (t, n, mission_kind) for t2, n2, skill, *_ in rollout.achieved)

    episodes, skills = relabelled_episodes(rollout)
    assert episodes and len(episodes) == len(skills)
    by_text = {}
    for t, n, _, text, _ in rollout.achieved:
        by_text.setdefault(text, []).append((t, n))
    unlabelled = 0
    for episode in episodes:
        assert episode.done[-1] == 1 and episode.done[:-1].sum() == 0 and episode.action[-1] == -1
        # The episode's actions are the agent's own from its episode's start to the achieving step,
        # but for the steps after which the agent's view and heading were as before.
        kept = episode.action[:-1] >= 0
        still = (episode.image[1:] == episode.image[:-1]).reshape(len(episode) - 1, -1).all(1) \
            & (episode.direction[1:] == episode.direction[:-1])
        np.testing.assert_array_equal(kept, ~still)
        unlabelled += int(still.sum())
        matches = [(t, n) for t, n in by_text[episode.instruction] if t + 2 - len(episode) >= 0
                   and rollout.start[t + 2 - len(episode), n]
                   and np.array_equal(rollout.action[t + 2 - len(episode):t + 1, n][kept], episode.action[:-1][kept])]
        assert matches, episode.instruction
    assert unlabelled, "no step of an untrained agent's episodes left its view as it was"

    # Worker processes report the same achievements, phrased the same way.
    assert _achieving_rollout(agent, workers=2).achieved == rollout.achieved


def test_relabelled_episodes_round_trip_through_the_buffer():
    from instructed_rl.rollout.episodes import episodes_from_arrays, episodes_to_arrays
    from instructed_rl.train.hindsight import relabelled_episodes

    episodes, _ = relabelled_episodes(_achieving_rollout(_tiny_agent()))
    again = episodes_from_arrays(episodes_to_arrays(episodes))
    assert len(again) == len(episodes)
    for a, b in zip(episodes, again):
        assert (a.instruction, a.description, a.game, a.success) == (b.instruction, b.description, b.game, b.success)
        for name in ("image", "direction", "action", "done", "optimal"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.integration
def test_relabelled_episodes_name_their_objects_for_the_target_map():
    import torch

    from instructed_rl.language.corpus import load_corpus, sample_instructions
    from instructed_rl.language.instructions import TARGET_COLORS, TARGET_TYPES
    from instructed_rl.model.agent import Agent, AgentConfig
    from instructed_rl.train.grounding import target_cells
    from instructed_rl.train.hindsight import relabelled_episodes, relabelled_loss

    rollout = _achieving_rollout(_tiny_agent())
    episodes, skills = relabelled_episodes(rollout)
    kept = [a for a in rollout.achieved if a[0] + 1 < rollout.action.shape[0] or rollout.ended[a[0], a[1]]]
    assert len(kept) == len(episodes)
    for episode, (_, _, _, text, targets) in zip(episodes, kept):
        assert episode.target == targets and episode.instruction == text
        color, kind = targets[:2]
        assert TARGET_TYPES[kind] in text  # "pick up the yellow key": key
        assert color == len(TARGET_COLORS) or TARGET_COLORS[color] in text
    # What an episode picked up lay right ahead of the agent (view cell x 3, y 5) before its last step.
    picked = [e for e, skill in zip(episodes, skills) if skill == "pickup"]
    assert picked
    labels, labelled = target_cells(torch.from_numpy(np.stack([e.image[-2] for e in picked]))[:, None].long(),
                                    torch.tensor([e.target for e in picked]))
    assert labelled[:, 0].all() and (labels[:, 0, 0, 3, 5] == 1).all()

    config = AgentConfig.from_dict({
        "text": {"encoder": "gru", "dim": 16},
        "policy": {"embed_dim": 16, "channels": 16, "film_layers": 1, "goal_attention": False, "memory": "gru",
                   "memory_dim": 16, "head_dim": 16, "target_map": True}})
    mapped = Agent.create(config, texts=sample_instructions(load_corpus("babyai"), count=200, seed=0), seed=0)
    _, without = relabelled_loss(mapped, episodes[:8], discount=0.9, done_coef=0.5)
    loss, values = relabelled_loss(mapped, episodes[:8], discount=0.9, done_coef=0.5, grounding_coef=3.0)
    assert "grounding_loss" not in without and 0 < values["grounding_loss"]
    total = values["action_loss"] + 0.5 * values["done_loss"] + 3.0 * values["grounding_loss"]
    assert abs(loss.item() - total) < 1e-4


def test_skills_are_drawn_evenly():
    from instructed_rl.train.hindsight import pick_balanced

    skills = ["goto"] * 90 + ["putnext"] * 10
    picked = [skills[i] for _ in range(200) for i in pick_balanced(skills, 8, np.random.default_rng(_))]
    assert 0.35 < picked.count("putnext") / len(picked) < 0.65  # 10% of the pool, about half of the draws
    assert pick_balanced(skills[:5], 8, np.random.default_rng(0)) == [0, 1, 2, 3, 4]


@pytest.mark.integration
def test_relabelling_without_any_bot_learns(tmp_path, monkeypatch):
    """Tiny PPO runs with relabelling learn, and no BabyAI bot is built while they train (their envs
    step in this process). Greedy on 200 test worlds after 12k frames, seeds 0, 1 and 2: 0.705, 0.995
    and 0.885 (2026-12-07; seed 0 gave 0.98 on the machine and packages of 2026-12-06, so one seed
    is too fragile a measure); plain PPO, seed 0: 0.695."""
    from instructed_rl.acting import bot
    from instructed_rl.commands.train import run as train_run
    from instructed_rl.train.tracking import MetricsLog
    from tests.conftest import success_rate

    def no_bot(*args, **kwargs):
        raise AssertionError("a BabyAI bot was built in a hindsight run")

    successes = []
    for seed in ("0", "1", "2"):
        for cls in (bot.Bot, bot.BabyAIBot):  # ours and minigrid's (QuickBabyAIBot is a BabyAIBot)
            monkeypatch.setattr(cls, "__init__", no_bot)
        run = tmp_path / f"run{seed}"
        final = train_run("configs/ppo_tiny.yaml", str(run), ["--threads", "1", "--hindsight", "true", "--seed", seed])
        monkeypatch.undo()  # the evaluation below runs the bot for its path-length ratio
        rows = MetricsLog.read(run / "metrics.jsonl")
        assert all(row["collect/relabelled"] > 0 for row in rows)
        assert rows[-1]["train/hindsight_last_action_accuracy"] > rows[0]["train/hindsight_last_action_accuracy"] + 0.1
        successes.append(success_rate(final, "BabyAI-GoToLocalS5N2-v0", 200, greedy=True))
    mean = sum(successes) / len(successes)
    assert mean >= 0.8, f"greedy success {successes} after 12k relabelled PPO frames (plain PPO, seed 0: ~0.7)"


def test_relabelled_loss_weights_the_actions_that_did_the_job():
    import torch

    from instructed_rl.train.hindsight import relabelled_episodes, relabelled_loss
    from instructed_rl.train.imitation import imitation_loss, unroll

    agent = _tiny_agent()
    episodes, _ = relabelled_episodes(_achieving_rollout(agent))
    episodes = sorted(episodes, key=len)[-6:]  # the longest: the weights differ most
    with torch.no_grad():
        flat, values = relabelled_loss(agent, episodes, discount=1.0, done_coef=0.5)
        plain, _ = imitation_loss(agent, episodes, done_coef=0.5)  # every action alike
        assert abs(flat.item() - plain.item()) < 1e-5
        _, weighted = relabelled_loss(agent, episodes, discount=0.5, done_coef=0.5)
        out, padded, _ = unroll(agent, episodes)
    log_probs = torch.log_softmax(out.logits, -1).numpy()
    numerator = denominator = 0.0
    for row, episode in enumerate(episodes):
        steps = len(episode) - 1
        for t in range(steps):
            if episode.action[t] < 0:  # a step that changed nothing
                continue
            weight = 0.5 ** (steps - 1 - t)
            numerator -= weight * log_probs[row, t, episode.action[t]]
            denominator += weight
    assert abs(weighted["action_loss"] - numerator / denominator) < 1e-4
    assert 0 <= values["last_action_accuracy"] <= 1


@pytest.mark.integration
def test_the_benchmark_config_trains_and_resumes_with_its_relabelling(tmp_path):
    """configs/hindsight.yaml (overlapped collection: achievements come from the rollout process)."""
    from instructed_rl.commands.train import run as train_run
    from instructed_rl.train.tracking import MetricsLog

    small = ["--frames", "2048", "--envs", "4", "--steps", "128", "--minibatches", "2", "--eval-every", "0",
             "--eval-episodes", "2", "--threads", "2"]
    train_run("configs/hindsight.yaml", str(tmp_path / "run"), small)
    rows = MetricsLog.read(tmp_path / "run" / "metrics.jsonl")
    assert len(rows) == 4 and all(row["collect/relabelled"] > 0 for row in rows)
    assert all(row["train/hindsight_grounding_loss"] > 0 for row in rows)  # its target map learns from them
    train_run("configs/hindsight.yaml", str(tmp_path / "run"), small[:1] + ["4096"] + small[2:])  # resumed, grown
    assert len(MetricsLog.read(tmp_path / "run" / "metrics.jsonl")) == 8


def test_grounding_without_a_target_map_or_relabelling_is_refused_before_training(tmp_path):
    from instructed_rl.commands.train import run as train_run
    from instructed_rl.errors import UserError

    with pytest.raises(UserError, match="target_map: true"):
        train_run("configs/ppo_tiny.yaml", str(tmp_path / "run"), ["--hindsight", "true", "--grounding-coef", "1"])
    with pytest.raises(UserError, match="hindsight: true"):
        train_run("configs/hindsight.yaml", str(tmp_path / "plain"), ["--hindsight", "false"])
    assert not (tmp_path / "run" / "checkpoint").exists()


@pytest.mark.integration
def test_a_match_map_learns_where_relabelled_objects_lie(tmp_path):
    """A ``match`` target map learns from the relabelled episodes of a tiny run where their objects
    lie: its balanced loss falls below 0.4x its first values in 24k frames (measured 0.55 -> 0.12),
    and the saved agent's map marks the mission's object in fresh worlds with few false cells."""
    import torch

    from instructed_rl.commands.train import run as train_run
    from instructed_rl.model.agent import Agent
    from instructed_rl.language.instructions import instruction_targets
    from instructed_rl.model.policy import preprocess_obs
    from instructed_rl.train.grounding import target_cells
    from instructed_rl.train.tracking import MetricsLog

    config = tmp_path / "mapped.yaml"
    config.write_text(open("configs/ppo_tiny.yaml").read().replace(
        "head_dim: 64}", "head_dim: 64, target_map: true, target_map_head: match}"))
    train_run(str(config), str(tmp_path / "run"), ["--hindsight", "true", "--grounding-coef", "1",
                                                   "--grounding-balanced", "true", "--frames", "24576"])
    losses = [row["train/hindsight_grounding_loss"] for row in MetricsLog.read(tmp_path / "run" / "metrics.jsonl")]
    assert np.mean(losses[-3:]) < 0.4 * np.mean(losses[:3]), losses

    agent = Agent.from_pretrained(tmp_path / "run" / "agent")  # the saved map marks the named objects
    assert agent.config.policy.target_map_head == "match"
    env = InstructedEnv("BabyAI-GoToLocalS5N2-v0", split="test")
    found, named, false_cells = 0, 0, 0
    for seed in range(200):  # 30 worlds name about 19 cells: too few to judge a rate of false cells by
        obs, _ = env.reset(seed=seed)
        image, direction = preprocess_obs({"image": obs["image"][None], "direction": np.array([obs["direction"]])})
        goal = agent.encode_goal([obs["mission"]], [obs["description"]])
        with torch.no_grad():
            marked = agent(image, direction, goal, agent.initial_memory(1)).target_map[0, 0] > 0
        target = torch.tensor([instruction_targets(env.unwrapped.level.instrs)])
        labels, _ = target_cells(torch.from_numpy(obs["image"][None, None, ..., :3].astype(np.int64)), target)
        truth = labels[0, 0, 0] > 0.5
        found, named, false_cells = found + int((marked & truth).sum()), named + int(truth.sum()), \
            false_cells + int((marked & ~truth).sum())
    assert named > 60 and found >= 0.8 * named and false_cells <= 0.35 * named, (found, named, false_cells)
