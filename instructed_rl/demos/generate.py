"""Generating a demos directory: the command's config, its summary, and the resumable run.

Work is split into shards of ``shard_size`` consecutive episodes; a shard is written
atomically, then the manifest is updated, so an interrupted run loses at most the shards in
progress, and running the same command again resumes. Because every shard is a fixed seed
range, a resumed run, a run with more workers and an uninterrupted run write identical shards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from instructed_rl.config import option
from instructed_rl.demos.manifest import (game_name, locked, open_directory, refuse_foreign, remove_temporaries,
                                          tally, write_manifest)
from instructed_rl.demos.record import plan_shards, write_shard
from instructed_rl.demos.workers import run_in_workers
from instructed_rl.games.env import InstructedEnv
from instructed_rl.games.spec import SPLITS, find_game


@dataclass
class DemosConfig:
    """The config of ``instructed-rl make-demos``."""

    game: str = option("", "game id (see 'instructed-rl envs') or any BabyAI level id")
    out: str = option("", "output directory; running the same command again resumes an interrupted run")
    split: str = option("train", f"one of the game's splits ({', '.join(SPLITS)})")
    corpus: str | None = option(None, "corpus name or YAML path (default: babyai; paraphrase for unseen_phrasings)")
    episodes: int = option(1000, "episodes to attempt, seeds seed .. seed+episodes-1 (bot failures are counted, not written)")
    seed: int = option(0, "seed of the first episode; episode i uses seed + i")
    shard_size: int = option(256, "episodes per shard: the unit a worker writes, and the most an interruption loses")
    workers: int = option(1, "worker processes, each writing whole shards (1: in this process)")
    progress: bool = option(True, "one-line progress (episodes, episodes/s, failures) on stderr")

    def __post_init__(self):
        if not self.game:
            raise ValueError("give --game GAME, e.g. 'instructed-rl make-demos --game GoToRoom --out data/demos/goto_room'")
        if not self.out:
            raise ValueError("give --out DIR, the directory the demos go to")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; use one of {', '.join(SPLITS)}")
        if self.episodes <= 0:
            raise ValueError(f"--episodes must be positive, got {self.episodes}")
        if self.seed < 0:
            raise ValueError(f"--seed must be non-negative (minigrid seeds), got {self.seed}")
        if self.shard_size <= 0:
            raise ValueError(f"--shard-size must be positive, got {self.shard_size}")
        if self.workers <= 0:
            raise ValueError(f"--workers must be at least 1, got {self.workers}")


@dataclass
class DemosSummary:
    """What a run did: the directory's totals plus this run's share."""

    out: str
    game: str
    split: str
    corpus: str
    requested: int
    done: int
    failed: int
    steps: int
    shards: int
    shards_written: int  # by this run; the rest were already there
    new_episodes: int  # attempted by this run
    seconds: float

    @property
    def episodes_per_second(self) -> float:
        return self.new_episodes / self.seconds if self.seconds > 0 else 0.0


def generate_demos(config: DemosConfig, *, on_progress: Callable[[int, int], None] | None = None) -> DemosSummary:
    """Fill ``config.out`` with bot demos, resuming what is already there.

    ``on_progress(attempted, failed)`` gets the directory's running totals (episodes attempted,
    bot failures); its first call reports what the directory already held.
    """
    started = time.perf_counter()
    spec = find_game(config.game)
    env = InstructedEnv(spec, split=config.split, corpus=config.corpus)  # game, split and corpus errors now
    game = game_name(spec)
    identity = {"game": game, "split": config.split, "corpus": env.corpus.name, "seed": config.seed,
                "shard_size": config.shard_size}
    out = Path(config.out)
    refuse_foreign(out)  # before the lock file lands in someone else's directory
    out.mkdir(parents=True, exist_ok=True)
    with locked(out):
        remove_temporaries(out)
        manifest, kept = open_directory(out, identity, config.episodes)
        manifest = tally(manifest, requested=config.episodes)
        write_manifest(out, manifest)
        jobs = [job for job in plan_shards(config.episodes, config.shard_size) if job.index not in kept]
        totals = [sum(s["episodes"] + s["failed"] for s in manifest["shards"]), manifest["episodes_failed"]]
        if on_progress is not None:
            on_progress(*totals)

        def on_episodes(attempted: int, failed: int) -> None:
            totals[0] += attempted
            totals[1] += failed
            if on_progress is not None:
                on_progress(*totals)

        def on_shard(entry: dict) -> None:
            nonlocal manifest
            manifest = tally(dict(manifest, shards=manifest["shards"] + [entry]), requested=config.episodes)
            write_manifest(out, manifest)

        workers = min(config.workers, len(jobs))
        try:
            if workers <= 1:
                for job in jobs:
                    entry = write_shard(env, out, job, seed=config.seed,
                                        on_episode=lambda failed: on_episodes(1, int(failed)))
                    on_shard(entry)
            else:
                env.close()
                run_in_workers(game=game, split=config.split, corpus=config.corpus, seed=config.seed, out=out,
                               jobs=jobs, workers=workers, on_shard=on_shard, on_episodes=on_episodes)
        finally:
            env.close()
    return DemosSummary(
        out=str(out), game=game, split=config.split, corpus=identity["corpus"],
        requested=config.episodes, done=manifest["episodes_done"], failed=manifest["episodes_failed"],
        steps=manifest["steps"], shards=len(manifest["shards"]), shards_written=len(jobs),
        new_episodes=sum(j.stop_episode - j.first_episode for j in jobs), seconds=time.perf_counter() - started,
    )
