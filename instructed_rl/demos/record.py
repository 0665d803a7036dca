"""The BabyAI bot plays a shard's seed range; its finished episodes become one shard on disk.

Episode ``i`` of a run is the world of seed ``seed + i``. Episodes the bot cannot finish (a
give-up caught by :class:`~instructed_rl.acting.bot.Bot`, or no success within the env's step
limit) are listed by seed with a reason, never written as demos.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from instructed_rl.acting.bot import Bot
from instructed_rl.demos.shards import STEP_ARRAYS, atomic_write, pack_shard, shard_name
from instructed_rl.games.env import InstructedEnv
from instructed_rl.language.instructions import instruction_targets


def bot_episode(env: InstructedEnv, seed: int) -> tuple[dict | None, str | None]:
    """Let the BabyAI bot play the world of ``seed``: ``(episode, None)`` or ``(None, failure reason)``.

    ``episode`` holds the per-step arrays of :data:`~.shards.STEP_ARRAYS`, the view after the
    last action and the episode's texts.
    """
    obs, info = env.reset(seed=seed)
    target = instruction_targets(env.level.instrs)
    bot = Bot(env.level)  # a fresh bot per world: it caches the map it has seen
    columns: dict[str, list] = {name: [] for name in STEP_ARRAYS}
    done_count = sum(info["subtasks_done"])
    active = info["active_subtask"]
    action = None
    success = False
    while True:
        action = bot.next_action(action)
        if action is None:
            return None, bot.gave_up
        next_obs, _, terminated, truncated, step_info = env.step(action)
        done_after = sum(step_info["subtasks_done"])
        success = bool(step_info["success"])
        columns["image"].append(obs["image"])
        columns["direction"].append(obs["direction"])
        columns["action"].append(int(action))
        columns["active_subtask"].append(-1 if active is None else active)
        columns["subtasks_done"].append(done_count)
        columns["subtasks_done_after"].append(done_after)
        columns["done_after"].append(success)
        obs, done_count, active = next_obs, done_after, step_info["active_subtask"]
        if terminated or truncated:
            break
    length = len(columns["action"])
    if not success:
        return None, f"no success in {length} steps (step limit {env.level.max_steps})"
    episode = {name: np.asarray(values, dtype=STEP_ARRAYS[name]) for name, values in columns.items()}
    episode["final_image"], episode["final_direction"] = obs["image"], obs["direction"]
    episode["meta"] = {
        "seed": int(seed),
        "mission": info["mission"],
        "description": info["description"],
        "instruction": info["instruction"],
        "subtasks": list(info["subtasks"]),
        "subtask_instructions": info["subtask_instructions"],
        "phrasing": list(info["phrasing"]),
        "plain": info["plain_mission"],
        "target": [int(t) for t in target],
        "length": length,
        "success": success,
    }
    return episode, None


@dataclass(frozen=True)
class ShardJob:
    index: int
    first_episode: int  # episodes [first_episode, stop_episode); episode i is the world of seed + i
    stop_episode: int


def plan_shards(episodes: int, shard_size: int) -> list[ShardJob]:
    return [ShardJob(index=i, first_episode=start, stop_episode=min(start + shard_size, episodes))
            for i, start in enumerate(range(0, episodes, shard_size))]


def write_shard(env: InstructedEnv, out: Path, job: ShardJob, *, seed: int,
                on_episode: Callable[[bool], None] | None = None) -> dict:
    """Play the shard's seed range with the bot, write ``shard_NNNNN.npz/.json``; return its manifest entry."""
    episodes, failures = [], []
    for i in range(job.first_episode, job.stop_episode):
        episode, reason = bot_episode(env, seed + i)
        if episode is None:
            failures.append({"seed": seed + i, "reason": reason})
        else:
            episodes.append(episode)
        if on_episode is not None:
            on_episode(episode is None)
    header = {"shard": job.index, "first_episode": job.first_episode, "stop_episode": job.stop_episode,
              "bot_failures": failures}
    npz_bytes, json_bytes = pack_shard(episodes, view=env.observation_space["image"].shape, header=header)
    name = shard_name(job.index)
    atomic_write(out / f"{name}.npz", npz_bytes)
    atomic_write(out / f"{name}.json", json_bytes)
    return {
        "index": job.index, "npz": f"{name}.npz", "json": f"{name}.json",
        "first_episode": job.first_episode, "stop_episode": job.stop_episode,
        "episodes": len(episodes), "failed": len(failures), "steps": sum(len(e["action"]) for e in episodes),
        "bot_failures": failures,
        "sha256": {"npz": hashlib.sha256(npz_bytes).hexdigest(), "json": hashlib.sha256(json_bytes).hexdigest()},
    }
