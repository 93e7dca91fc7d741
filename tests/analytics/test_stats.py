"""Experiment statistics checked against published worked examples and formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import betaln

from knowcast.analytics import stats


def test_srm_matches_the_worked_example_of_kohavi_tang_xu() -> None:
    """Kohavi, Tang & Xu, *Trustworthy Online Controlled Experiments* (2020), ch. 3 and 21: a planned 50/50
    split observed as 821,588 control vs 815,482 treatment has a χ² p-value of about 1.8e-6: an SRM alert."""
    chi2, p = stats.srm([821_588, 815_482], [1, 1])  # type: ignore[misc]
    assert math.isclose(chi2, 22.77, abs_tol=0.01)
    assert 1.7e-6 < p < 1.9e-6 and p < stats.SRM_ALERT


def test_srm_without_mismatch_is_quiet() -> None:
    chi2, p = stats.srm([5000, 5020, 4990], [1, 1, 1])  # type: ignore[misc]
    assert p > 0.5 and chi2 < 1
    assert stats.srm([0, 0], [1, 1]) is None


def test_wald_interval_of_a_proportion_matches_newcombe_1998() -> None:
    """Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat Med 17:857–872,
    worked example 81/263: the simple asymptotic (Wald) interval is 0.2522 to 0.3638."""
    low, high = stats.wald(81, 263)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.2522, 0.3638)


def test_wald_interval_of_a_difference_matches_newcombe_1998() -> None:
    """Newcombe (1998), "Interval estimation for the difference between independent proportions", Stat Med
    17:873–890, example (a) 56/70 − 48/80: the Wald interval is 0.0575 to 0.3425."""
    low, high = stats.wald_difference(56, 70, 48, 80)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.0575, 0.3425)


def test_lift_interval_is_the_log_risk_ratio_interval_of_altman() -> None:
    """Altman (1991), *Practical Statistics for Medical Research*, §10.11 (and Gardner & Altman, *Statistics
    with Confidence*): SE(ln RR) = √(1/a − 1/n₁ + 1/c − 1/n₀), limits exp(ln RR ± 1.96 SE). Lift = RR − 1.
    The numbers are computed here independently of the module, from the textbook formula."""
    relative, (low, high) = stats.lift(56, 70, 48, 80)  # type: ignore[misc]
    rr = (56 / 70) / (48 / 80)
    se = math.sqrt(1 / 56 - 1 / 70 + 1 / 48 - 1 / 80)
    assert math.isclose(relative, rr - 1)
    assert math.isclose(low, rr * math.exp(-1.959964 * se) - 1, rel_tol=1e-6)
    assert math.isclose(high, rr * math.exp(1.959964 * se) - 1, rel_tol=1e-6)
    assert low < relative < high


def evan_miller(x1: int, n1: int, x0: int, n0: int) -> float:
    """Evan Miller, "Formulas for Bayesian A/B testing" (2015): with αB integer,
    P(pB > pA) = Σ_{i=0}^{αB−1} B(αA+i, βA+βB) / ((βB+i) B(1+i, βB) B(αA, βA))."""
    a_a, b_a, a_b, b_b = 1 + x0, 1 + n0 - x0, 1 + x1, 1 + n1 - x1
    total = 0.0
    for i in range(a_b):
        total += math.exp(betaln(a_a + i, b_a + b_b) - math.log(b_b + i) - betaln(1 + i, b_b) - betaln(a_a, b_a))
    return total


@pytest.mark.parametrize(("x1", "n1", "x0", "n0"), [(120, 1000, 100, 1000), (30, 400, 41, 420), (5, 50, 5, 50)])
def test_probability_to_beat_control_matches_evan_millers_closed_form(x1: int, n1: int, x0: int, n0: int) -> None:
    assert math.isclose(stats.prob_beat(x1, n1, x0, n0), evan_miller(x1, n1, x0, n0), abs_tol=1e-6)


def test_expected_loss_is_small_for_a_clear_winner_and_symmetric_for_twins() -> None:
    assert stats.expected_loss(200, 1000, 100, 1000) < 1e-4
    twin = stats.expected_loss(100, 1000, 100, 1000)
    # for identical independent posteriors E[max(p0 − p1, 0)] = E|p0 − p1| / 2, relative to control's mean rate
    rng = np.random.default_rng(1)
    a, b = rng.beta(101, 901, 400_000), rng.beta(101, 901, 400_000)
    assert math.isclose(twin, float(np.abs(a - b).mean() / 2) / (101 / 1002), rel_tol=0.03)


def test_the_sequential_interval_is_wider_than_the_fixed_one_and_holds_under_peeking() -> None:
    """A/A simulation, 400 experiments looked at after every 50 visitors per arm up to 5,000: the fixed 95 %
    interval excludes the true difference (0) at some look far more often than 5 %, the confidence sequence
    of Johari et al. (2017) stays under 5 %."""
    fixed = stats.wald_difference(60, 1000, 50, 1000)
    seq = stats.confidence_sequence(60, 1000, 50, 1000)
    assert fixed and seq and seq[0] < fixed[0] and seq[1] > fixed[1]
    rng = np.random.default_rng(20261128)
    sims, looks, step, p = 400, 100, 50, 0.1
    a = rng.binomial(1, p, (sims, looks * step)).cumsum(axis=1)[:, step - 1 :: step]
    b = rng.binomial(1, p, (sims, looks * step)).cumsum(axis=1)[:, step - 1 :: step]
    naive_hits = seq_hits = 0
    for s in range(sims):
        naive = seqs = False
        for k in range(looks):
            n = (k + 1) * step
            lo, hi = stats.wald_difference(int(a[s, k]), n, int(b[s, k]), n)  # type: ignore[misc]
            naive |= lo > 0 or hi < 0
            lo, hi = stats.confidence_sequence(int(a[s, k]), n, int(b[s, k]), n)  # type: ignore[misc]
            seqs |= lo > 0 or hi < 0
        naive_hits += naive
        seq_hits += seqs
    assert naive_hits / sims > 0.15
    assert seq_hits / sims <= 0.05
