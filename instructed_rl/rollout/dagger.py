"""Imitation's collection: whole episodes in which the BabyAI bot labels every visited state.

With probability ``beta`` a step executes the bot's action, otherwise the agent's own: at
``beta = 1`` this is behaviour cloning on bot trajectories, below it DAgger (the bot replans
from wherever the agent's mistakes lead, so the agent learns to recover from them). With
``takeover`` the bot also drives for that many steps whenever the agent returns to a pose it
held a few steps before: a greedy agent that loops would otherwise fill the buffer with hundreds
of steps of the same few states, and the labels that matter are where the loop starts. An episode
the bot gives up on is dropped. Episodes run to the end inside one call, so a trainer's state
between calls is counters and a buffer: that is what makes resuming exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from instructed_rl.model.policy import choose_actions, preprocess_obs
from instructed_rl.rollout.envs import EnvVector, EpisodeStart, Plan
from instructed_rl.rollout.episodes import Episode
from instructed_rl.rollout.goals import GoalBatch


@dataclass
class CollectStats:
    episodes: int = 0
    successes: int = 0
    frames: int = 0
    agree: int = 0  # steps where the agent's action equalled the bot's
    bot_failures: int = 0
    takeovers: int = 0  # loops the bot drove the agent out of
    per_game: dict[str, list[int]] = field(default_factory=dict)  # game -> [successes, episodes]


def _episode(start: EpisodeStart, rows: list[tuple], success: bool) -> Episode:
    images, directions, actions, dones, optimal = zip(*rows)
    return Episode(
        game=start.game, instruction=start.mission, description=start.description,
        image=np.stack(images).astype(np.uint8), direction=np.asarray(directions, dtype=np.uint8),
        action=np.asarray(actions, dtype=np.int16), done=np.asarray(dones, dtype=np.uint8), success=success,
        optimal=np.asarray(optimal, dtype=np.uint8), target=start.target, plain=start.plain,
    )


def collect_episodes(agent, envs: EnvVector, *, iteration: int, episodes: int, beta: float,
                     rng: np.random.Generator, generator: torch.Generator, sample: bool = True,
                     action_sets: bool = False, seeds: list[int] | None = None,
                     takeover: int = 0) -> tuple[list[Episode], CollectStats]:
    """Run ``episodes`` episodes on ``envs`` (as evenly spread as they go); with ``seeds``, one
    episode on each of those worlds instead (``episodes`` is then ignored, the order is theirs)."""
    count = envs.count
    if seeds is not None:
        per_env = tuple(tuple(seeds[i::count]) for i in range(count))
        plan = Plan(iteration, labels=True, seeds=per_env, action_sets=action_sets, drop_unlabelled=True,
                    track_poses=takeover > 0)
    else:
        quota = tuple(episodes // count + (i < episodes % count) for i in range(count))
        plan = Plan(iteration, labels=True, quota=quota, action_sets=action_sets, drop_unlabelled=True,
                    track_poses=takeover > 0)
    batch = envs.start(plan)
    stats = CollectStats(bot_failures=batch.bot_failures)
    goals = GoalBatch(agent, count)
    current: list[EpisodeStart | None] = [None] * count
    rows: list[list[tuple]] = [[] for _ in range(count)]
    started = [0] * count
    finished: list[tuple[tuple[int, int], Episode]] = []
    memory = agent.initial_memory(count)
    bot_drives = np.zeros(count, np.int64)  # steps the bot still drives env i after a loop
    live_goal = (None, None, None)  # (goal batch, live envs, their rows): re-indexed only when either changes

    def adopt(starts: dict[int, EpisodeStart]) -> None:
        for i, start in starts.items():
            current[i], rows[i] = start, []
        goals.update({i: (start.mission, start.description) for i, start in starts.items()})

    adopt(batch.starts)
    with torch.inference_mode():
        while not batch.idle.all():
            live = np.flatnonzero(~batch.idle)
            image, direction = preprocess_obs({"image": batch.image[live], "direction": batch.direction[live]},
                                              device=agent.device)
            rows_t = torch.as_tensor(live, device=memory.device)
            if len(live) == count:
                goal = goals.features
            else:  # the same object from step to step, so the policy reuses its conditioning
                if live_goal[0] is not goals.features or not np.array_equal(live_goal[1], live):
                    live_goal = (goals.features, live, goals.features.index(rows_t))
                goal = live_goal[2]
            out = agent(image, direction, goal, memory[rows_t])
            memory[rows_t] = out.memory
            agent_actions = choose_actions(out.logits, greedy=not sample, generator=generator)[0].numpy()
            labels = batch.label[live].astype(np.int64)
            taken = np.where((rng.random(len(live)) < beta) | (bot_drives[live] > 0), labels, agent_actions)
            bot_drives[live] = np.maximum(bot_drives[live] - 1, 0)
            stats.agree += int((agent_actions == labels).sum())
            for i, label in zip(live, labels):
                rows[i].append((batch.image[i], batch.direction[i], label, 0, batch.optimal[i]))
            actions = np.zeros(count, np.int64)
            actions[live] = taken
            batch = envs.step(actions)
            stats.frames += len(live)
            stats.bot_failures += batch.bot_failures
            for i in live:
                if takeover and batch.repeat[i] and not bot_drives[i]:
                    bot_drives[i] = takeover
                    stats.takeovers += 1
                if batch.ended[i]:
                    success = bool(batch.success[i])
                    if success:
                        image_i, direction_i = batch.terminal[i]
                        rows[i].append((image_i, direction_i, -1, 1, 0))
                    finished.append(((started[i], i), _episode(current[i], rows[i], success)))
                    record = stats.per_game.setdefault(current[i].game, [0, 0])
                    record[0] += success
                    record[1] += 1
                    stats.episodes += 1
                    stats.successes += success
                if batch.ended[i] or batch.dropped[i]:
                    started[i] += 1
                    memory[i] = 0.0
                    bot_drives[i] = 0
            adopt(batch.starts)
    return [episode for _, episode in sorted(finished, key=lambda item: item[0])], stats
