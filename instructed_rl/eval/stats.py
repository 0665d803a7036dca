"""Confidence intervals for success rates."""

from __future__ import annotations

import math


def wilson_interval(successes: int, episodes: int, *, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval: honest near 0% and 100%, where the normal approximation collapses.

    >>> wilson_interval(50, 100)
    (0.4038..., 0.5961...)
    """
    if episodes <= 0:
        raise ValueError("a confidence interval needs at least one episode")
    if not 0 <= successes <= episodes:
        raise ValueError(f"successes ({successes}) must lie in [0, {episodes}]")
    p = successes / episodes
    denominator = 1 + z * z / episodes
    center = (p + z * z / (2 * episodes)) / denominator
    half = z * math.sqrt(p * (1 - p) / episodes + z * z / (4 * episodes * episodes)) / denominator
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == episodes else min(1.0, center + half)
    return low, high
