"""Statistics for experiments (docs/metrics.md "Experiments"), each from a published method:

- Wald (normal-approximation) intervals for a proportion and a difference of proportions;
- relative lift p₁/p₀ − 1 with the log (Katz) interval for a risk ratio, as in Altman (1991);
- probability to beat control and expected loss (relative to control's rate) under Beta(1 + x, 1 + n − x)
  posteriors;
- the pooled two-proportion z-test, Holm's step-down correction across variants, and the sample size per variant
  for a chosen power (shown when an experiment is created);
- sample-ratio mismatch: Pearson's χ² goodness of fit against the planned weights (alert at p < 0.001);
- an anytime-valid confidence sequence for p₁ − p₀: the normal-mixture sequential probability ratio test of
  Johari, Koomen, Pekelis & Walsh (2017, "Peeking at A/B tests"), and its always-valid p-value, so peeking
  does not inflate errors. While an experiment runs, only these are its headline; the fixed-horizon figures
  wait for the sample size fixed at creation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import integrate, stats

ALPHA = 0.05
POWER = 0.8
Z95 = float(stats.norm.ppf(0.975))
SRM_ALERT = 0.001
TAU2 = 1e-3  # mixing variance of the mSPRT: effects around ±3 points of conversion are what we look for
DRAWS = 200_000


def wald(x: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    if n <= 0:
        return None
    p = x / n
    half = z * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


def wald_difference(x1: int, n1: int, x0: int, n0: int, z: float = Z95) -> tuple[float, float] | None:
    if n1 <= 0 or n0 <= 0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    half = z * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return p1 - p0 - half, p1 - p0 + half


def lift(x1: int, n1: int, x0: int, n0: int, z: float = Z95) -> tuple[float | None, tuple[float, float] | None]:
    """(relative lift, its interval) from the log risk-ratio interval; None where a rate is zero."""
    if n1 <= 0 or n0 <= 0 or x0 <= 0:
        return None, None
    ratio = (x1 / n1) / (x0 / n0)
    if x1 <= 0:
        return ratio - 1, None
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x0 - 1 / n0)
    return ratio - 1, (ratio * math.exp(-z * se) - 1, ratio * math.exp(z * se) - 1)


def _beta(x: int, n: int) -> tuple[float, float]:
    return 1.0 + x, 1.0 + n - x


def prob_beat(x1: int, n1: int, x0: int, n0: int) -> float:
    """P(p₁ > p₀) = ∫ f₁(t) F₀(t) dt for independent Beta posteriors (uniform priors)."""
    a1, b1 = _beta(x1, n1)
    a0, b0 = _beta(x0, n0)
    lo = min(stats.beta.ppf(1e-12, a1, b1), stats.beta.ppf(1e-12, a0, b0))
    hi = max(stats.beta.ppf(1 - 1e-12, a1, b1), stats.beta.ppf(1 - 1e-12, a0, b0))
    value, _ = integrate.quad(lambda t: stats.beta.pdf(t, a1, b1) * stats.beta.cdf(t, a0, b0), lo, hi, limit=200)
    return float(min(1.0, max(0.0, value)))


def expected_loss(x1: int, n1: int, x0: int, n0: int, seed: int = 20261128) -> float:
    """E[max(p₀ − p₁, 0)] / E[p₀]: the share of control's conversion rate given up, on average, by choosing
    variant 1 over control (0.05 = 5 % of control's rate, not 5 points). Monte Carlo with a fixed seed, so a
    report is reproducible."""
    rng = np.random.default_rng(seed)
    a1, b1 = _beta(x1, n1)
    a0, b0 = _beta(x0, n0)
    p1, p0 = rng.beta(a1, b1, DRAWS), rng.beta(a0, b0, DRAWS)
    return float(np.maximum(p0 - p1, 0.0).mean() / (a0 / (a0 + b0)))


def srm(observed: Sequence[int], weights: Sequence[float]) -> tuple[float, float] | None:
    """(χ², p) of the observed exposures against the planned split; None before there are any."""
    total = sum(observed)
    if total <= 0 or len(observed) < 2:
        return None
    share = sum(weights)
    expected = [total * w / share for w in weights]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    return chi2, float(stats.chi2.sf(chi2, len(observed) - 1))


def confidence_sequence(
    x1: int, n1: int, x0: int, n0: int, alpha: float = 0.05, tau2: float = TAU2
) -> tuple[float, float] | None:
    """An always-valid (1 − α) interval for p₁ − p₀ (mSPRT with a N(0, τ²) mixture): θ̂ ± √(V(V+τ²)/τ² ·
    (ln((V+τ²)/V) − 2 ln α)), with V the estimated variance of θ̂. It is wider than a fixed-sample interval;
    in exchange it may be looked at after every visitor."""
    if n1 <= 0 or n0 <= 0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    variance = _smoothed_variance(x1, n1, x0, n0)
    half = math.sqrt(
        variance * (variance + tau2) / tau2 * (math.log((variance + tau2) / variance) - 2 * math.log(alpha))
    )
    return p1 - p0 - half, p1 - p0 + half


def always_valid_p(x1: int, n1: int, x0: int, n0: int, tau2: float = TAU2) -> float | None:
    """The mSPRT's always-valid p-value for p₁ = p₀, 1 / Λₙ with Λₙ = √(V/(V+τ²)) · exp(τ²θ̂² / (2V(V+τ²))):
    rejecting when it falls below α keeps the false-positive rate at α however often it is looked at. It is
    below α exactly when 0 leaves ``confidence_sequence`` at the same α."""
    if n1 <= 0 or n0 <= 0:
        return None
    theta = x1 / n1 - x0 / n0
    variance = _smoothed_variance(x1, n1, x0, n0)
    log_lambda = 0.5 * math.log(variance / (variance + tau2)) + tau2 * theta**2 / (2 * variance * (variance + tau2))
    return float(min(1.0, math.exp(-log_lambda)))


def _smoothed_variance(x1: int, n1: int, x0: int, n0: int) -> float:
    s1, s0 = (x1 + 1) / (n1 + 2), (x0 + 1) / (n0 + 2)  # smoothed in the variance only: never zero
    return s1 * (1 - s1) / n1 + s0 * (1 - s0) / n0


def z_test_p(x1: int, n1: int, x0: int, n0: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test (the fixed-horizon test)."""
    if n1 <= 0 or n0 <= 0:
        return None
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if se == 0:
        return 1.0
    return float(2 * stats.norm.sf(abs(x1 / n1 - x0 / n0) / se))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment across the variants' comparisons with control (family-wise error ≤ α)."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running, m = 0.0, len(present)
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def sample_size(
    baseline: float, relative_effect: float, comparisons: int = 1, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Visitors per variant for a two-sided two-proportion z-test to detect ``baseline`` → ``baseline·(1+effect)``
    with the given power; α is split over the comparisons with control (Bonferroni, which Holm never needs more
    than)."""
    p0 = baseline
    p1 = min(1.0 - 1e-9, baseline * (1 + relative_effect))
    delta = abs(p1 - p0)
    if not 0 < p0 < 1 or delta == 0:
        raise ValueError("baseline must be between 0 and 1 and the effect not zero")
    z_alpha = float(stats.norm.ppf(1 - alpha / (2 * max(1, comparisons))))
    z_power = float(stats.norm.ppf(power))
    return math.ceil((z_alpha + z_power) ** 2 * (p0 * (1 - p0) + p1 * (1 - p1)) / delta**2)


def clip(interval: tuple[float, float] | None, low: float, high: float) -> tuple[float, float] | None:
    """An interval cut to what the quantity can be (a rate in [0, 1], a difference in [−1, 1], a lift ≥ −1)."""
    if interval is None:
        return None
    return max(low, interval[0]), min(high, interval[1])
