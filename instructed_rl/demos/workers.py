"""Shard jobs in worker processes: each plays whole shards and reports progress, shards and errors.

The bot reads the live world, so it runs in the env's own process; a worker owns one env.
The main process writes the manifest as each finished shard is reported.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from instructed_rl.demos.manifest import remove_temporaries
from instructed_rl.demos.record import ShardJob, write_shard
from instructed_rl.errors import UserError
from instructed_rl.games.env import InstructedEnv

PROGRESS_INTERVAL_S = 0.2  # how often a worker reports progress to the main process


def worker_main(game: str, split: str, corpus: str | None, seed: int, out: str, jobs, events) -> None:
    """A worker process: take shard jobs until ``None``, report progress, finished shards and errors."""
    try:
        parent = os.getppid()
        env = InstructedEnv(game, split=split, corpus=corpus)
        pending = [0, 0]  # attempted, failed since the last report
        last = time.monotonic()

        def on_episode(failed: bool) -> None:
            nonlocal last
            if os.getppid() != parent:  # the main process was killed: stop rather than play on as an orphan
                raise SystemExit(1)
            pending[0] += 1
            pending[1] += failed
            if time.monotonic() - last >= PROGRESS_INTERVAL_S:
                events.put(("progress", tuple(pending)))
                pending[:] = [0, 0]
                last = time.monotonic()

        while (job := jobs.get()) is not None:
            entry = write_shard(env, Path(out), job, seed=seed, on_episode=on_episode)
            if pending[0]:
                events.put(("progress", tuple(pending)))
                pending[:] = [0, 0]
            events.put(("shard", entry))
        env.close()
    except Exception as error:
        user = isinstance(error, UserError)
        events.put(("error", (user, str(error) if user else traceback.format_exc())))


def run_in_workers(*, game: str, split: str, corpus: str | None, seed: int, out: Path,
                   jobs: list[ShardJob], workers: int,
                   on_shard: Callable[[dict], None], on_episodes: Callable[[int, int], None]) -> None:
    """Play ``jobs`` in ``workers`` processes; ``on_shard(entry)`` for each finished shard,
    ``on_episodes(attempted, failed)`` as they go. On any failure or Ctrl-C the workers are
    stopped and half-written files removed."""
    context = multiprocessing.get_context("spawn")  # the bot and minigrid run in the worker's own process
    job_queue, events = context.Queue(), context.Queue()
    for job in jobs:
        job_queue.put(job)
    for _ in range(workers):
        job_queue.put(None)
    processes = [context.Process(target=worker_main, name=f"demos-worker-{i}", daemon=True,
                                 args=(game, split, corpus, seed, str(out), job_queue, events))
                 for i in range(workers)]
    # Workers are born ignoring Ctrl-C (a disposition exec keeps), even while they import: the
    # terminal sends it to the whole group, and cleaning up is the main process's job.
    main_thread = threading.current_thread() is threading.main_thread()  # only it may touch signals
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        for process in processes:
            process.start()
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    finished = False
    try:
        remaining = len(jobs)
        while remaining:
            try:
                kind, payload = events.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"demos worker {dead[0].name} died (exit code {dead[0].exitcode})") from None
                if all(p.exitcode is not None for p in processes):
                    raise RuntimeError(f"demos workers exited with {remaining} shards unreported") from None
                continue
            if kind == "progress":
                on_episodes(*payload)
            elif kind == "shard":
                on_shard(payload)
                remaining -= 1
            else:
                user, message = payload
                if user:
                    raise UserError(message)
                raise RuntimeError(f"a demos worker failed:\n{message}")
        finished = True
    finally:
        for process in processes:
            if not finished and process.is_alive():
                process.terminate()
            process.join()
        if not finished:
            remove_temporaries(out)
