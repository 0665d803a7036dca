"""Progress for long work (training, evaluation, demonstrations): count, rate and time left.

On a terminal one line redraws in place; anywhere else (a log file, a pipe) a plain line is
written every ``log_interval`` seconds, flushed, so a log fills as the work goes::

    progress = Progress("eval GoToRoom [test]", total=500, unit="episodes")
    progress.update(done)            # cheap: draws only when it is time
    progress.close()                 # a terminal's line is cleared; the caller prints the result
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

LOG_INTERVAL = 10.0  # seconds between plain lines when not on a terminal
TTY_INTERVAL = 0.2


def duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """``label: [######......] 120/500 episodes  3.1 episodes/s  ETA 2m03s  extra`` on stderr.

    The rate counts only what this run did (``start`` is what was done before it: a resumed run).
    """

    def __init__(self, label: str, total: int, *, unit: str = "episodes", start: int = 0,
                 stream: TextIO | None = None, enabled: bool = True, log_interval: float | None = None):
        self.label, self.total, self.unit, self.start = label, total, unit, start
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = TTY_INTERVAL if self.tty else (LOG_INTERVAL if log_interval is None else log_interval)
        self.started = time.perf_counter()
        self.last_draw = self.started if not self.tty else 0.0  # a log's first line comes after one interval
        self.done = start
        self.extra = ""
        self._shown = False

    def rate(self) -> float:
        return (self.done - self.start) / max(time.perf_counter() - self.started, 1e-9)

    def text(self) -> str:
        rate = self.rate()
        left = self.total - self.done
        eta = f"ETA {duration(left / rate)}" if rate > 0 and left > 0 else ("ETA ?" if left > 0 else "done")
        per_second = f"{rate:,.1f}" if rate < 100 else f"{rate:,.0f}"
        bar = ""
        if self.tty:
            filled = int(20 * min(1.0, self.done / max(1, self.total)))
            bar = f"[{'#' * filled}{'.' * (20 - filled)}] "
        line = f"{self.label}: {bar}{self.done:,}/{self.total:,} {self.unit}  {per_second} {self.unit}/s  {eta}"
        return line + (f"  {self.extra}" if self.extra else "")

    def update(self, done: int, extra: str = "", *, force: bool = False) -> None:
        self.done, self.extra = done, extra
        now = time.perf_counter()
        if self.enabled and (force or now - self.last_draw >= self.interval):
            self.last_draw = now
            self._draw()

    def _draw(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.text() + "\x1b[K")
        else:
            self.stream.write(self.text() + "\n")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """On a terminal, clear the line (the caller prints the result in its place)."""
        if self.enabled and self.tty and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
