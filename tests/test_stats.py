"""Confidence intervals: the paired interval for a difference of success rates, checked by hand."""

from __future__ import annotations

import itertools

import pytest

from instructed_rl.eval.stats import paired_difference_interval, paired_phi, paired_table, wilson_interval
from instructed_rl.eval.transfer import difference_interval


def test_paired_interval_worked_by_hand():
    # Table (A both, B only run a, C only run b, D neither) = (20, 12, 2, 16), N = 50, z = 1.959964,
    # z^2 = 3.841459. Worked from the formula in paired_difference_interval's docstring:
    both, only_a, only_b, neither = 20, 12, 2, 16
    #
    # p_a = (A + B) / N = 32/50 = 0.64, p_b = (A + C) / N = 22/50 = 0.44, difference = 10/50 = 0.2
    #
    # Wilson for 32/50: centre = (0.64 + z^2/100) / (1 + z^2/50) = 0.678415 / 1.076829 = 0.630011
    #   half = z sqrt(0.64 * 0.36 / 50 + z^2 / 10000) / 1.076829 = z sqrt(0.004992146) / 1.076829 = 0.128601
    #   -> [l_a, u_a] = [0.501410, 0.758613]
    assert wilson_interval(32, 50) == pytest.approx((0.501410, 0.758613), abs=1e-6)
    # Wilson for 22/50: centre = (0.44 + z^2/100) / 1.076829 = 0.444281
    #   half = z sqrt(0.44 * 0.56 / 50 + z^2 / 10000) / 1.076829 = z sqrt(0.005312146) / 1.076829 = 0.132659
    #   -> [l_b, u_b] = [0.311622, 0.576940]
    assert wilson_interval(22, 50) == pytest.approx((0.311622, 0.576940), abs=1e-6)
    #
    # phi: AD - BC = 20 * 16 - 12 * 2 = 296 > 0, so the numerator is max(296 - 50/2, 0) = 271;
    #   sqrt((A+B)(C+D)(A+C)(B+D)) = sqrt(32 * 18 * 22 * 28) = sqrt(354816) = 595.6643
    #   phi = 271 / 595.6643 = 0.454954   (uncorrected it would be 296 / 595.6643 = 0.496924)
    assert paired_phi(both, only_a, only_b, neither) == pytest.approx(0.454954, abs=1e-6)
    #
    # low:  p_a - l_a = 0.138590, u_b - p_b = 0.136940
    #   0.138590^2 - 2 * 0.454954 * 0.138590 * 0.136940 + 0.136940^2 = 0.0192072 - 0.0172687 + 0.0187526
    #   = 0.0206911, sqrt = 0.143844, low = 0.2 - 0.143844 = 0.056156
    # high: u_a - p_a = 0.118613, p_b - l_b = 0.128378
    #   0.118613^2 - 2 * 0.454954 * 0.118613 * 0.128378 + 0.128378^2 = 0.0140690 - 0.0138554 + 0.0164809
    #   = 0.0166945, sqrt = 0.129207, high = 0.2 + 0.129207 = 0.329207
    value, (low, high) = paired_difference_interval(both, only_a, only_b, neither)
    assert value == pytest.approx(0.2)
    assert low == pytest.approx(0.056156, abs=1e-6) and high == pytest.approx(0.329207, abs=1e-6)
    # The same runs taken as independent (phi = 0): sqrt(0.0192072 + 0.0187526) = 0.194833 and
    # sqrt(0.0140690 + 0.0164809) = 0.174785, so 0.005167 to 0.374785: wider, as it ignores the pairing.
    independent = difference_interval(32, 50, 22, 50)[1]
    assert independent == pytest.approx((0.005167, 0.374785), abs=1e-6)
    assert independent[0] < low and high < independent[1]


# Method-10 limits of Newcombe (1998, Table III) for tables (A, B, C, D), as quoted in a public
# re-implementation; the hand-worked case above is the second row. An uncorrected phi would miss
# the rows with AD > BC > 0, e.g. give 0.0618 to 0.3242 for (20, 12, 2, 16).
NEWCOMBE_TABLE_III = [
    ((36, 12, 2, 0), (0.0569, 0.3404)),
    ((20, 12, 2, 16), (0.0562, 0.3292)),
    ((18, 12, 2, 18), (0.0562, 0.3290)),
    ((36, 14, 0, 0), (0.1528, 0.4167)),
    ((35, 14, 0, 1), (0.1461, 0.4175)),
    ((18, 14, 0, 18), (0.1441, 0.3963)),
    ((2, 97, 1, 0), (0.8721, 0.9854)),
    ((1, 97, 1, 1), (0.8736, 0.9850)),  # 0.87367 here: the one row off in the 4th decimal
    ((0, 29, 1, 0), (0.6666, 0.9882)),
    ((2, 98, 0, 0), (0.9178, 0.9945)),
    ((1, 98, 0, 1), (0.9171, 0.9916)),
    ((0, 30, 0, 0), (0.8395, 1.0)),
    ((54, 0, 0, 0), (-0.0664, 0.0664)),
]


@pytest.mark.parametrize("table,limits", NEWCOMBE_TABLE_III)
def test_paired_interval_matches_newcombes_table(table, limits):
    value, (low, high) = paired_difference_interval(*table)
    assert value == pytest.approx((table[1] - table[2]) / sum(table))
    assert (low, high) == pytest.approx(limits, abs=1.5e-4)


def test_identical_runs_give_zero_and_a_narrower_interval_than_independent_samples():
    outcomes = [True, False, True, True, False, True, True, True, False, True] * 4  # 28 of 40
    table = paired_table(outcomes, outcomes)
    assert table == (28, 0, 0, 12)
    value, (low, high) = paired_difference_interval(*table)
    _, (independent_low, independent_high) = difference_interval(28, 40, 28, 40)
    assert value == 0 and low < 0 < high and low == pytest.approx(-high)
    assert independent_low < low and high < independent_high
    # All successes: no correlation can be estimated (phi = 0), so the interval is the independent one.
    value, (low, high) = paired_difference_interval(*paired_table([1] * 40, [1] * 40))
    assert value == 0 and (low, high) == pytest.approx(difference_interval(40, 40, 40, 40)[1])


def test_all_successes_against_all_failures():
    # (A, B, C, D) = (0, 10, 0, 0): phi = 0 (zero denominator); 1 - l_a = u_b = z^2 / (10 + z^2) = 0.277533,
    # so low = 1 - sqrt(2) * 0.277533 = 0.607509 and high = 1 + sqrt(0 + 0) = 1.
    table = paired_table([True] * 10, [False] * 10)
    assert table == (0, 10, 0, 0)
    value, (low, high) = paired_difference_interval(*table)
    assert value == 1 and low == pytest.approx(0.607509, abs=1e-6) and high == 1
    value, (low, high) = paired_difference_interval(*paired_table([0] * 10, [1] * 10))
    assert value == -1 and low == -1 and high == pytest.approx(-0.607509, abs=1e-6)


def test_swapping_the_runs_mirrors_the_interval_and_limits_stay_in_bounds():
    for table in itertools.product(range(4), repeat=4):
        if sum(table) == 0:
            continue
        value, (low, high) = paired_difference_interval(*table)
        assert -1 <= low <= value <= high <= 1
        both, only_a, only_b, neither = table
        mirrored, (mirrored_low, mirrored_high) = paired_difference_interval(both, only_b, only_a, neither)
        assert mirrored == pytest.approx(-value) and (mirrored_low, mirrored_high) == pytest.approx((-high, -low))


def test_paired_table_counts_and_checks_its_inputs():
    assert paired_table([1, 1, 0, 0, 1], [1, 0, 1, 0, 1]) == (2, 1, 1, 1)
    assert paired_table([True, False], [1, 0], seeds_a=[7, 8], seeds_b=[7, 8]) == (1, 0, 0, 1)
    with pytest.raises(ValueError, match="3 outcomes for one run and 2 for the other"):
        paired_table([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="same seeds in the same order.*outcome 1 is from seed 8 in one run and 9"):
        paired_table([1, 0], [1, 0], seeds_a=[7, 8], seeds_b=[7, 9])
    with pytest.raises(ValueError, match="seeds_b has 1 seeds for 2 outcomes"):
        paired_table([1, 0], [1, 0], seeds_a=[7, 8], seeds_b=[7])
    with pytest.raises(ValueError, match="success .* or a failure"):
        paired_table([1, 2], [1, 0])
    with pytest.raises(ValueError, match="at least one seed"):
        paired_difference_interval(0, 0, 0, 0)
    with pytest.raises(ValueError, match="counts"):
        paired_difference_interval(1, -1, 0, 0)
