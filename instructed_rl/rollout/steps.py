"""PPO's collection: every env steps ``steps`` times with actions sampled from the agent.

Each iteration every env starts a new episode and starts the next whenever one ends; episodes
still running at the end are cut and bootstrapped with the critic's value. With ``labels`` each
env's BabyAI bot labels every visited state; with a ``teacher`` its log-probabilities are kept
(kickstarting); with ``achievements`` every instruction a step completed is kept (hindsight).
Used by :mod:`instructed_rl.train.ppo` and, for ``overlap: true``, by the rollout process of
:mod:`instructed_rl.train.overlap`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from instructed_rl.model.agent import Agent
from instructed_rl.model.policy import choose_actions, preprocess_obs
from instructed_rl.rollout.envs import EnvVector, EpisodeStart, Plan
from instructed_rl.rollout.goals import GoalBatch


@dataclass
class Rollout:
    """``steps`` x ``envs`` of experience; ``memory[t]`` is the memory the policy had before step t."""

    image: np.ndarray  # (T, N, 7, 7, C) uint8 (:func:`policy_view`)
    direction: np.ndarray  # (T, N)
    action: np.ndarray  # (T, N) int64
    logp: np.ndarray  # (T, N) float32, log-probability of action when it was taken
    value: np.ndarray  # (T, N) float32
    reward: np.ndarray  # (T, N) float32, as the env gave it
    ended: np.ndarray  # (T, N) bool
    start: np.ndarray  # (T, N) bool: step t is the first of an episode
    goal: np.ndarray  # (T, N) int64 index into texts
    memory: np.ndarray  # (T, N, M) float32
    label: np.ndarray  # (T, N) int64 bot action, -1 where none
    teacher_logp: np.ndarray | None  # (T, N, A) a saved teacher's log-probabilities
    bootstrap: np.ndarray  # (N,) value after the last step
    texts: list[tuple[str, str, str]]  # (game, instruction, description)
    terminal: list[tuple[int, int, np.ndarray, int]]  # (t, n, image, direction) after a successful step t
    achieved: list[tuple[int, int, str, str, tuple[int, ...]]] = field(default_factory=list)  # (t, n, skill, phrase,
    # targets): an instruction step t completed, its objects as :func:`instruction_targets` gives them
    achieved_last: dict[tuple[int, int], tuple[np.ndarray, int]] = field(default_factory=dict)  # (t, n) -> the view
    # after an achieving step t that ended its episode


@dataclass
class RolloutStats:
    episodes: int = 0
    successes: int = 0
    return_sum: float = 0.0
    length_sum: int = 0
    bot_failures: int = 0
    per_game: dict[str, list[int]] = field(default_factory=dict)  # game -> [successes, episodes]


def rollout_generator(seed: int, iteration: int, rank: int) -> torch.Generator:
    """The action-sampling generator of one iteration's rollout (the same in either process)."""
    return torch.Generator().manual_seed(seed * 7919 + iteration + 10**12 * rank)


def collect_rollout(agent: Agent, envs: EnvVector, *, iteration: int, steps: int, generator: torch.Generator,
                    labels: bool = False, teacher: Agent | None = None,
                    achievements: bool = False) -> tuple[Rollout, RolloutStats]:
    """Step every env ``steps`` times with actions sampled from ``agent`` (new episodes each iteration)."""
    count, device = envs.count, agent.device
    stats = RolloutStats()
    batch = envs.start(Plan(iteration, labels=labels, achievements=achievements))
    texts: list[tuple[str, str, str]] = []
    current = np.zeros(count, np.int64)
    lengths = np.zeros(count, np.int64)
    goals = GoalBatch(agent, count)
    teacher_goals = GoalBatch(teacher, count) if teacher is not None else None

    def adopt(starts: dict[int, EpisodeStart]) -> None:
        for i, start in starts.items():
            current[i] = len(texts)
            texts.append((start.game, start.mission, start.description))
        new = {i: (start.mission, start.description) for i, start in starts.items()}
        goals.update(new)
        if teacher_goals is not None:
            teacher_goals.update(new)

    adopt(batch.starts)
    stats.bot_failures += batch.bot_failures
    memory_size = agent.memory_size
    rollout = Rollout(
        image=np.zeros((steps, count, *batch.image.shape[1:]), np.uint8), direction=np.zeros((steps, count), np.int64),
        action=np.zeros((steps, count), np.int64), logp=np.zeros((steps, count), np.float32),
        value=np.zeros((steps, count), np.float32), reward=np.zeros((steps, count), np.float32),
        ended=np.zeros((steps, count), bool), start=np.zeros((steps, count), bool),
        goal=np.zeros((steps, count), np.int64), memory=np.zeros((steps, count, memory_size), np.float32),
        label=np.full((steps, count), -1, np.int64), teacher_logp=None, bootstrap=np.zeros(count, np.float32),
        texts=texts, terminal=[],
    )
    if teacher is not None:
        rollout.teacher_logp = np.zeros((steps, count, agent.policy.config.num_actions), np.float32)
    memory = agent.initial_memory(count)
    teacher_memory = teacher.initial_memory(count) if teacher is not None else None
    starting = np.ones(count, bool)
    with torch.inference_mode():
        for t in range(steps):
            image, direction = preprocess_obs({"image": batch.image, "direction": batch.direction}, device=device)
            rollout.image[t], rollout.direction[t] = batch.image, batch.direction
            rollout.memory[t] = memory.float().cpu().numpy()
            rollout.start[t], rollout.goal[t], rollout.label[t] = starting, current, batch.label
            out = agent(image, direction, goals.features, memory)
            action, logp = choose_actions(out.logits, generator=generator)
            rollout.action[t], rollout.logp[t] = action.numpy(), logp.numpy()
            rollout.value[t] = out.value.float().cpu().numpy()
            if teacher is not None:
                teacher_out = teacher(image.to(teacher.device), direction.to(teacher.device),
                                      teacher_goals.features, teacher_memory)
                rollout.teacher_logp[t] = torch.log_softmax(teacher_out.logits.float(), -1).cpu().numpy()
                teacher_memory = teacher_out.memory
            batch = envs.step(rollout.action[t])
            rollout.reward[t], rollout.ended[t] = batch.reward, batch.ended
            lengths += 1
            stats.bot_failures += batch.bot_failures
            for i, (image_i, direction_i) in batch.terminal.items():
                rollout.terminal.append((t, i, image_i, direction_i))
            rollout.achieved += [(t, i, *done) for i, all_done in batch.achieved.items() for done in all_done]
            rollout.achieved_last.update({(t, i): view for i, view in batch.achieved_last.items()})
            for i in np.flatnonzero(batch.ended):
                game = texts[current[i]][0]
                record = stats.per_game.setdefault(game, [0, 0])
                record[0] += int(batch.success[i])
                record[1] += 1
                stats.episodes += 1
                stats.successes += int(batch.success[i])
                stats.return_sum += float(batch.reward[i])
                stats.length_sum += int(lengths[i])
                lengths[i] = 0
            memory = out.memory
            if batch.ended.any():
                ended = torch.from_numpy(batch.ended).to(memory.device)
                memory = memory.masked_fill(ended[:, None], 0.0)
                if teacher is not None:
                    teacher_memory = teacher_memory.masked_fill(ended.to(teacher_memory.device)[:, None], 0.0)
                adopt(batch.starts)
            starting = batch.ended.copy()
        image, direction = preprocess_obs({"image": batch.image, "direction": batch.direction}, device=device)
        rollout.bootstrap[:] = agent(image, direction, goals.features, memory).value.float().cpu().numpy()
    return rollout, stats
