"""Confidence intervals for success rates, and for differences of success rates."""

from __future__ import annotations

import math
from collections.abc import Sequence


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


def paired_table(outcomes_a: Sequence[bool | int], outcomes_b: Sequence[bool | int], *,
                 seeds_a: Sequence[int] | None = None, seeds_b: Sequence[int] | None = None) -> tuple[int, int, int, int]:
    """The 2x2 table ``(both, only_a, only_b, neither)`` of two runs on the same seeds.

    ``outcomes_a[i]`` and ``outcomes_b[i]`` are the successes (bools or 0/1) of the two runs on
    the ``i``-th seed; the lists must be equally long and in the same seed order. Given the seeds
    of each run (``seeds_a``, ``seeds_b``, one per outcome), they must be the same, in the same order.

    >>> paired_table([1, 1, 0, 0, 1], [1, 0, 1, 0, 1])
    (2, 1, 1, 1)
    """
    if len(outcomes_a) != len(outcomes_b):
        raise ValueError(f"paired outcomes need one pair per seed, got {len(outcomes_a)} outcomes for one run "
                         f"and {len(outcomes_b)} for the other")
    for name, seeds, outcomes in (("seeds_a", seeds_a, outcomes_a), ("seeds_b", seeds_b, outcomes_b)):
        if seeds is not None and len(seeds) != len(outcomes):
            raise ValueError(f"{name} has {len(seeds)} seeds for {len(outcomes)} outcomes")
    if seeds_a is not None and seeds_b is not None and list(seeds_a) != list(seeds_b):
        first = next(i for i, (a, b) in enumerate(zip(seeds_a, seeds_b)) if a != b)
        raise ValueError(f"paired outcomes must come from the same seeds in the same order, but outcome {first} "
                         f"is from seed {seeds_a[first]} in one run and {seeds_b[first]} in the other")
    for value in (*outcomes_a, *outcomes_b):
        if value not in (0, 1):  # True / False compare equal to 1 / 0
            raise ValueError(f"an outcome must be a success (True / 1) or a failure (False / 0), got {value!r}")
    pairs = [(bool(a), bool(b)) for a, b in zip(outcomes_a, outcomes_b)]
    return (pairs.count((True, True)), pairs.count((True, False)), pairs.count((False, True)),
            pairs.count((False, False)))


def paired_phi(both: int, only_a: int, only_b: int, neither: int) -> float:
    """Newcombe's (1998) estimate of the correlation between the two runs' outcomes, the phi
    coefficient with a continuity-corrected numerator (see :func:`paired_difference_interval`).

    >>> paired_phi(20, 12, 2, 16)  # (320 - 24 - 25) / sqrt(32 * 18 * 22 * 28)
    0.4549...
    """
    n = both + only_a + only_b + neither
    denominator = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    if denominator == 0:  # a run all successes or all failures: no correlation to estimate
        return 0.0
    numerator = both * neither - only_a * only_b
    if numerator > 0:
        numerator = max(numerator - n / 2, 0.0)
    return numerator / math.sqrt(denominator)


def paired_difference_interval(both: int, only_a: int, only_b: int, neither: int, *,
                               z: float = 1.959963984540054) -> tuple[float, tuple[float, float]]:
    """``p_a - p_b`` for two runs on the same seeds, and its paired interval.

    The arguments are the 2x2 table of per-seed outcomes (A = both succeed, B = only run a,
    C = only run b, D = neither; N = A + B + C + D; :func:`paired_table` builds it). The interval is
    Newcombe's method 10 for paired proportions (R. G. Newcombe, "Improved confidence intervals for
    the difference between binomial proportions based on paired data", Statistics in Medicine 17,
    2635-2650, 1998)::

        p_a = (A + B) / N,  p_b = (A + C) / N,  difference = p_a - p_b = (B - C) / N
        [l_a, u_a], [l_b, u_b] = Wilson score intervals of (A + B) / N and (A + C) / N
        phi = max(AD - BC - N/2, 0) / sqrt((A+B)(C+D)(A+C)(B+D))   when AD > BC
        phi = (AD - BC) / sqrt((A+B)(C+D)(A+C)(B+D))               otherwise
        phi = 0                                                    when the square root is 0
        low  = difference - sqrt((p_a - l_a)^2 - 2 phi (p_a - l_a)(u_b - p_b) + (u_b - p_b)^2)
        high = difference + sqrt((u_a - p_a)^2 - 2 phi (u_a - p_a)(p_b - l_b) + (p_b - l_b)^2)

    With phi = 0 it is the interval for independent samples (``difference_interval`` in
    :mod:`instructed_rl.eval.transfer`); the more the two runs agree seed by seed, the larger phi
    and the narrower the interval. The continuity correction of phi's numerator is Newcombe's own
    (it reproduces the method-10 rows of his Table III); only the Wilson intervals are uncorrected.

    >>> value, (low, high) = paired_difference_interval(20, 12, 2, 16)  # Newcombe's 0.0562 to 0.3292
    >>> round(value, 4), round(low, 4), round(high, 4)
    (0.2, 0.0562, 0.3292)
    """
    counts = (both, only_a, only_b, neither)
    if any(count < 0 for count in counts):
        raise ValueError(f"a paired table holds counts, got {counts}")
    n = sum(counts)
    if n <= 0:
        raise ValueError("a paired interval needs at least one seed")
    p_a, p_b = (both + only_a) / n, (both + only_b) / n
    low_a, high_a = wilson_interval(both + only_a, n, z=z)
    low_b, high_b = wilson_interval(both + only_b, n, z=z)
    phi = paired_phi(both, only_a, only_b, neither)
    value = p_a - p_b
    below_a, above_b = p_a - low_a, high_b - p_b
    above_a, below_b = high_a - p_a, p_b - low_b
    low = value - math.sqrt(max(0.0, below_a ** 2 - 2 * phi * below_a * above_b + above_b ** 2))
    high = value + math.sqrt(max(0.0, above_a ** 2 - 2 * phi * above_a * below_b + below_b ** 2))
    return value, (max(-1.0, low), min(1.0, high))
