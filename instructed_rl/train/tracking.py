"""Training records: metrics as JSONL, a progress line, a learning-curve PNG, optional wandb."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from instructed_rl.progress import Progress as BaseProgress


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


class Progress(BaseProgress):
    """``train: [####....] 12,345/300,000 frames  1,234 frames/s  ETA 3m50s  success 87.5%  acc 0.41`` on stderr.

    A bar on a terminal; plain lines every few seconds in a log (``progress.py``). The rate is
    the trainer's own (frames over wall time, earlier sessions of a resumed run included).
    """

    def __init__(self, total: int, *, enabled: bool = True, stream=None):
        super().__init__("train", total, unit="frames", enabled=enabled, stream=stream)
        self._fps = 0.0

    def rate(self) -> float:
        return self._fps

    def update(self, frames: int, fps: float, **values: float) -> None:  # type: ignore[override]
        self._fps = fps
        extra = "  ".join(f"{k} {v:.3g}" if not k.endswith("%") else f"{k[:-1]} {v:.1f}%" for k, v in values.items())
        super().update(frames, extra, force=self.done == 0 and frames > 0)  # the first iteration shows at once

    def close(self) -> None:
        if self.enabled and self.tty and self._shown:
            self.stream.write("\n")  # keep the last bar: the trainer's summary follows it
            self.stream.flush()


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
