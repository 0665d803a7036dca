"""``instructed-rl make-demos``: BabyAI-bot demonstrations into a directory of shards (resumable, parallel).

    instructed-rl make-demos --game GoToRoom --split train --episodes 10000 --out data/demos/goto_room --workers 2
    instructed-rl make-demos --game GoToSeq --split test --episodes 500 --out data/demos/goto_seq

Running the same command again resumes an interrupted run. ``instructed-rl train --demos DIR``
clones from such a directory (train split); the format is documented in
``instructed_rl/demos/shards.py``, and ``instructed_rl.demos.load_demos`` reads it.
"""

from __future__ import annotations

from typing import TextIO

from instructed_rl.errors import UserError
from instructed_rl.eval.cell import MAX_SEED
from instructed_rl.paths import check_output_dir
from instructed_rl.progress import Progress, duration
from instructed_rl.demos import DemosConfig, DemosSummary, generate_demos

__all__ = ["DemosConfig", "ProgressLine", "format_summary", "run"]


class ProgressLine(Progress):
    """``demos GoToRoom: 120/200 episodes  85.3 ep/s  ETA 1s  0 failures``: :class:`Progress` with
    the failure count, called as the demos writer's callback. The rate counts this run's
    episodes only (the first call says what the directory already held)."""

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None, log_interval: float = 10.0):
        super().__init__(label, total, stream=stream, log_interval=log_interval)
        self.baseline: int | None = None
        self.failed = 0

    def __call__(self, attempted: int, failed: int) -> None:
        if self.baseline is None:
            self.baseline = self.start = attempted  # what the directory already held
        self.failed = failed
        self.update(attempted)

    @property
    def attempted(self) -> int:
        return self.done

    def text(self) -> str:
        rate = self.rate()
        left = self.total - self.done
        eta = f"ETA {duration(left / rate)}  " if rate > 0 and left > 0 else ""
        return (f"demos {self.label}: {self.done}/{self.total} episodes  {rate:.1f} ep/s  {eta}"
                f"{self.failed} failure{'' if self.failed == 1 else 's'}")

    def close(self) -> None:
        if self.baseline is None or self.done == self.baseline:
            return  # nothing was played: the summary line says so
        self._draw()
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def format_summary(summary: DemosSummary) -> str:
    run = (f"{summary.shards_written} shard{'' if summary.shards_written == 1 else 's'} played "
           f"in {summary.seconds:.2f} s ({summary.episodes_per_second:.1f} episodes/s)" if summary.shards_written
           else "nothing left to play")
    return (f"demos of {summary.game} [{summary.split}, corpus {summary.corpus}] in {summary.out}: "
            f"{summary.done} demos, {summary.failed} bot failures, {summary.done + summary.failed}/{summary.requested} "
            f"episodes, {summary.steps} steps, {summary.shards} shards; {run}")


def run(config: DemosConfig) -> DemosSummary:
    if config.seed > MAX_SEED:
        raise UserError(f"--seed must be from 0 to {MAX_SEED:,}, got {config.seed}. Fix: --seed 0")
    check_output_dir(config.out, "--out")  # before the first episode, not at the first shard
    progress = ProgressLine(config.game, config.episodes) if config.progress else None
    try:
        summary = generate_demos(config, on_progress=progress)
    finally:
        if progress is not None:
            progress.close()
    print(format_summary(summary))
    return summary
