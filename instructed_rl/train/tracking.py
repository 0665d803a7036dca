"""Training records: metrics as JSONL, a one-line progress bar, a learning-curve PNG, optional wandb."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


class MetricsLog:
    """Appends one JSON object per line to ``metrics.jsonl``; mirrors to wandb when tracking is on."""

    def __init__(self, run_dir: Path, *, track: bool = False, project: str = "instructed-rl",
                 config: dict | None = None, resume_from_frames: int = 0, rank_zero: bool = True):
        self.path = run_dir / "metrics.jsonl"
        self.rank_zero = rank_zero
        self._wandb = None
        if rank_zero and resume_from_frames == 0 and self.path.exists():
            self.path.unlink()
        elif rank_zero and self.path.exists():  # resumed: drop rows past the checkpoint
            rows = [r for r in self.read(self.path) if r.get("frames", 0) <= resume_from_frames]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        if track and rank_zero:
            self._wandb = _start_wandb(project=project, config=config or {}, run_dir=run_dir)

    def write(self, row: dict[str, Any]) -> None:
        if not self.rank_zero:
            return
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        if self._wandb is not None:
            self._wandb.log(row, step=int(row.get("frames", 0)))

    def close(self) -> None:
        if self._wandb is not None:
            self._wandb.finish()

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _start_wandb(*, project: str, config: dict, run_dir: Path):
    try:
        import wandb
    except ImportError:
        print('instructed-rl: --track needs wandb: pip install "instructed-rl[track]"; continuing without it',
              file=sys.stderr)
        return None
    import os

    # No network here is the common case: offline runs sync later with `wandb sync`.
    os.environ.setdefault("WANDB_MODE", "offline")
    return wandb.init(project=project, config=config, dir=str(run_dir), resume="allow", id=run_dir.name)


class Progress:
    """``frames 12,345/300,000 | 1,234 fps | success 87.5% | loss 0.41`` on one stderr line."""

    def __init__(self, total: int, *, enabled: bool = True):
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.perf_counter()

    def update(self, frames: int, fps: float, **values: float) -> None:
        if not self.enabled:
            return
        extra = " | ".join(f"{k} {v:.3g}" if not k.endswith("%") else f"{k[:-1]} {v:.1f}%" for k, v in values.items())
        bar_width = 20
        filled = int(bar_width * min(1.0, frames / max(1, self.total)))
        print(f"\r[{'#' * filled}{'.' * (bar_width - filled)}] frames {frames:,}/{self.total:,} | {fps:,.0f} fps | {extra}   ",
              end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


def plot_curve(metrics_path: Path, png_path: Path, *, keys: tuple[str, ...]) -> None:
    """Learning curve: each metric against frames, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = MetricsLog.read(metrics_path) if metrics_path.exists() else []
    present = [k for k in keys if any(k in r for r in rows)]
    if not present:
        return
    figure, axes = plt.subplots(1, len(present), figsize=(4.5 * len(present), 3.5), squeeze=False)
    for axis, key in zip(axes[0], present):
        points = [(r["frames"], r[key]) for r in rows if key in r and r[key] is not None]
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 30 else None)
        axis.set_xlabel("frames")
        axis.set_title(key)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(png_path, dpi=110)
    plt.close(figure)
