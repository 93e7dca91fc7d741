"""The optimizer: the next stream's budget split, interaction plan and price that maximize expected R = A × P × V
within the creator's constraints, learnt from their own past streams.

What it rests on (each estimate is returned with its standard error and how many streams it came from):
- **A**: the unpaid audience (mean of past streams' viewers from channels without spend) plus, per channel, a
  saturating response to spend, viewers = a · (1 − e^(−spend / b)) (diminishing returns), fitted by nonlinear
  least squares (scipy's curve_fit) on the streams that spent there. A channel with fewer than MIN_SPENDS such
  streams is not given money; the answer says so.
- **P**: log conversion = c + ε · log(price / reference) + Σ γₖ · (cadence of polls, draws, coupon drops per
  hour), weighted least squares over past streams (statsmodels), the price term combined (inverse-variance)
  with the elasticity measured in price experiments when there is one.
- **V**: value per buyer at the reference price, times the price ratio.

The model is separable, so the optimum is exact: the budget is water-filled over the channels' fitted curves
(scipy's SLSQP), the price ratio goes to the end of its allowed range that R = m^(1+ε) prefers, each cadence to
the end of the range the shop has tried that its effect prefers (never beyond what was tried: no extrapolation).
Uncertainty: the recommendation's expected R under 2,000 draws of every estimate from its sampling distribution
(80 % and 95 % ranges). Below MIN_STREAMS streams the answer is that the history is too thin to recommend.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

MIN_STREAMS = 6
MIN_SPENDS = 3
DRAWS = 2000
KINDS = ("polls", "draws", "drops")


@dataclass(frozen=True)
class PastStream:
    hours: float
    unpaid: int  # viewers who came by channels without spend
    spend: dict[str, tuple[int, int]]  # channel → (spend in minor units, viewers from it)
    uv: int
    buyers: int
    gmv: int
    polls: int = 0
    draws: int = 0
    drops: int = 0

    @property
    def price(self) -> float:
        """The price level the buyers met: value per buyer (minor units)."""
        return self.gmv / self.buyers if self.buyers else 0.0

    def cadence(self, kind: str) -> float:
        return float(getattr(self, kind)) / max(self.hours, 0.25)


@dataclass(frozen=True)
class Constraints:
    budget: int = 0  # the most to spend on ads (minor units)
    min_price_ratio: float = 0.5  # the lowest price allowed, as a share of today's (margin floor)
    max_price_ratio: float = 2.0


@dataclass(frozen=True)
class PriceEvidence:
    """The elasticity of conversion to price measured in price experiments, and the price ratios they tried."""

    elasticity: float
    se: float
    ratios: tuple[float, ...] = ()


@dataclass
class Curve:
    channel: str
    a: float
    b: float
    cov: NDArray[np.float64]
    streams: int

    def viewers(self, spend: float, a: float | None = None, b: float | None = None) -> float:
        return (a or self.a) * (1 - math.exp(-spend / (b or self.b)))


@dataclass
class Conversion:
    intercept: float
    elasticity: float
    elasticity_se: float
    elasticity_source: str  # "history", "experiments", "both", "assumed"
    effects: dict[str, tuple[float, float]] = field(default_factory=dict)  # kind → (γ, se)
    cov: NDArray[np.float64] | None = None


def fit_curve(channel: str, pairs: list[tuple[int, int]]) -> Curve | None:
    """viewers = a · (1 − e^(−spend/b)) through the streams that spent on the channel; None when too few."""
    spends = np.asarray([s for s, _ in pairs], dtype=float)
    viewers = np.asarray([v for _, v in pairs], dtype=float)
    if len(pairs) < MIN_SPENDS or len(set(spends.tolist())) < 2:
        return None
    scale = float(np.median(spends))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            params, cov = optimize.curve_fit(
                lambda s, a, b: a * (1 - np.exp(-s / b)),
                spends,
                viewers,
                p0=(2 * float(viewers.max()), scale),
                bounds=((1e-9, 1e-9), (np.inf, np.inf)),
                maxfev=20000,
            )
        except (RuntimeError, ValueError):
            return None
    if not np.all(np.isfinite(cov)):
        cov = np.diag((np.asarray(params) * 0.5) ** 2)
    return Curve(channel, float(params[0]), float(params[1]), np.asarray(cov), len(pairs))


def fit_conversion(streams: list[PastStream], reference: float, experiment: PriceEvidence | None) -> Conversion:
    import statsmodels.api as sm

    names = ["price"] + [k for k in KINDS if len({s.cadence(k) for s in streams}) > 1]
    if len({round(s.price / reference, 6) for s in streams}) < 2:
        names.remove("price")
    x = np.asarray(
        [[1.0] + [math.log(s.price / reference) if n == "price" else s.cadence(n) for n in names] for s in streams]
    )
    y = np.asarray([math.log((s.buyers + 0.5) / s.uv) for s in streams])
    weights = np.asarray([s.uv for s in streams], dtype=float)
    if len(streams) < x.shape[1] + 3:  # too few streams for every term: keep the price only
        names = [n for n in names if n == "price"]
        x = x[:, : 1 + len(names)]
    fitted = sm.WLS(y, x, weights=weights).fit()
    params, ses = np.asarray(fitted.params), np.asarray(fitted.bse)
    effects = {n: (float(params[i + 1]), float(ses[i + 1])) for i, n in enumerate(names) if n != "price"}
    eps, eps_se, source = -1.0, 0.5, "assumed"
    if "price" in names:
        i = names.index("price") + 1
        eps, eps_se, source = float(params[i]), float(ses[i]), "history"
    if experiment is not None:
        if source == "assumed":
            eps, eps_se, source = experiment.elasticity, experiment.se, "experiments"
        else:
            w1, w2 = 1 / max(eps_se, 1e-6) ** 2, 1 / max(experiment.se, 1e-6) ** 2
            eps = (w1 * eps + w2 * experiment.elasticity) / (w1 + w2)
            eps_se, source = math.sqrt(1 / (w1 + w2)), "both"
    return Conversion(float(params[0]), eps, eps_se, source, effects, np.asarray(fitted.cov_params()))


def split_budget(curves: list[Curve], budget: float, params: list[tuple[float, float]] | None = None) -> list[float]:
    """The spend per channel that brings the most viewers for the budget (concave: the optimum is unique)."""
    if not curves or budget <= 0:
        return [0.0] * len(curves)
    ab = params or [(c.a, c.b) for c in curves]

    def minus_viewers(x: NDArray[np.float64]) -> float:
        return -sum(a * (1 - math.exp(-xi / b)) for xi, (a, b) in zip(x, ab, strict=True))

    start = np.full(len(curves), budget / len(curves))
    found = optimize.minimize(
        minus_viewers,
        start,
        method="SLSQP",
        bounds=[(0.0, budget)] * len(curves),
        constraints=[{"type": "ineq", "fun": lambda x: budget - float(np.sum(x))}],
    )
    return [max(0.0, float(v)) for v in found.x]


@dataclass
class Model:
    """Everything learnt from the history: A, P and V as functions of the decisions."""

    base: tuple[float, float, int]  # unpaid audience: mean, standard error of the mean, streams
    curves: list[Curve]
    untested: list[str]
    conversion: Conversion
    reference_price: float
    reference_conversion: float
    value: float  # value per buyer at the reference price
    price_range: tuple[float, float]  # the price ratios the shop has met (history and experiments)
    cadence_range: dict[str, tuple[float, float]]
    cadence_mean: dict[str, float]

    def expected(self, spend: list[float], ratio: float, cadence: dict[str, float]) -> dict[str, float]:
        audience = self.base[0] + sum(c.viewers(x) for c, x in zip(self.curves, spend, strict=True))
        conversion = self.p(ratio, cadence, self.conversion.elasticity, self.conversion.effects)
        value = self.value * ratio
        return {"A": audience, "P": conversion, "V": value, "R": audience * conversion * value}

    def p(self, ratio: float, cadence: dict[str, float], eps: float, effects: dict[str, tuple[float, float]]) -> float:
        shift = sum(g * (cadence[k] - self.cadence_mean[k]) for k, (g, _) in effects.items())
        return float(min(1.0, self.reference_conversion * ratio**eps * math.exp(shift)))


def learn(streams: list[PastStream], experiment: PriceEvidence | None = None) -> Model:
    reference = float(np.median([s.price for s in streams[-5:]]))
    pairs: dict[str, list[tuple[int, int]]] = {}
    for s in streams:
        for channel, (spent, viewers) in s.spend.items():
            if spent > 0:
                pairs.setdefault(channel, []).append((spent, viewers))
    curves: list[Curve] = []
    untested: list[str] = []
    for channel, found in sorted(pairs.items()):
        curve = fit_curve(channel, found)
        if curve is None:
            untested.append(channel)
        else:
            curves.append(curve)
    conversion = fit_conversion(streams, reference, experiment)
    unpaid = [float(s.unpaid) for s in streams]
    ratios = [s.price / reference for s in streams]
    if experiment is not None:
        ratios += list(experiment.ratios)
    means = {k: float(np.mean([s.cadence(k) for s in streams])) for k in KINDS}
    # P at the reference price and the average cadence: log P centred where the regression is best known
    centre = math.exp(conversion.intercept) * math.exp(sum(g * means[k] for k, (g, _) in conversion.effects.items()))
    return Model(
        base=(float(np.mean(unpaid)), float(np.std(unpaid, ddof=1) / math.sqrt(len(unpaid))), len(unpaid)),
        curves=curves,
        untested=untested,
        conversion=conversion,
        reference_price=reference,
        reference_conversion=centre,
        value=reference,
        price_range=(min(ratios), max(ratios)),
        cadence_range={k: (min(s.cadence(k) for s in streams), max(s.cadence(k) for s in streams)) for k in KINDS},
        cadence_mean=means,
    )


def decide(model: Model, limits: Constraints) -> tuple[list[float], float, dict[str, float]]:
    spend = split_budget(model.curves, limits.budget)
    low = max(limits.min_price_ratio, model.price_range[0])
    high = min(limits.max_price_ratio, model.price_range[1])
    low, high = min(low, high), max(low, high)
    ratio = high if 1 + model.conversion.elasticity > 0 else low
    cadence = {}
    for kind in KINDS:
        lo, hi = model.cadence_range[kind]
        gamma = model.conversion.effects.get(kind, (0.0, 0.0))[0]
        cadence[kind] = hi if gamma > 0 else lo if gamma < 0 else model.cadence_mean[kind]
    return spend, ratio, cadence


def uncertainty(
    model: Model, spend: list[float], ratio: float, cadence: dict[str, float], seed: int
) -> dict[str, list[float]]:
    """Expected A, P, V, R at the decision under draws of every estimate from its sampling distribution."""
    rng = np.random.default_rng(seed)
    conv = model.conversion
    base = rng.normal(model.base[0], model.base[1] or 1e-9, DRAWS)
    audience = np.maximum(base, 0.0)
    for curve, x in zip(model.curves, spend, strict=True):
        draws = rng.multivariate_normal([curve.a, curve.b], curve.cov, DRAWS, check_valid="ignore")
        a, b = np.maximum(draws[:, 0], 1e-9), np.maximum(draws[:, 1], 1e-9)
        audience = audience + a * (1 - np.exp(-x / b))
    eps = rng.normal(conv.elasticity, conv.elasticity_se, DRAWS)
    shift = np.zeros(DRAWS)
    for kind, (gamma, se) in conv.effects.items():
        shift += rng.normal(gamma, se, DRAWS) * (cadence[kind] - model.cadence_mean[kind])
    level = rng.normal(0.0, _level_se(conv), DRAWS)
    conversion = np.minimum(1.0, model.reference_conversion * np.exp(level) * ratio**eps * np.exp(shift))
    value = model.value * ratio
    revenue = audience * conversion * value
    quantiles = (0.025, 0.1, 0.9, 0.975)
    return {
        "A": [float(q) for q in np.quantile(audience, quantiles)],
        "P": [float(q) for q in np.quantile(conversion, quantiles)],
        "R": [float(q) for q in np.quantile(revenue, quantiles)],
        "R_mean": [float(revenue.mean())],
        "V": [value],
    }


def _level_se(conv: Conversion) -> float:
    return float(math.sqrt(conv.cov[0, 0])) if conv.cov is not None and conv.cov.size else 0.1


def recommend(
    streams: list[PastStream],
    limits: Constraints,
    experiment: PriceEvidence | None = None,
    seed: int = 7,
) -> dict[str, Any]:
    usable = [s for s in streams if s.uv > 0]
    if len(usable) < MIN_STREAMS or not any(s.buyers for s in usable):
        return {"enough": False, "streams": len(usable), "note": "thin_history", "min_streams": MIN_STREAMS}
    model = learn(usable, experiment)
    spend, ratio, cadence = decide(model, limits)
    point = model.expected(spend, ratio, cadence)
    today = model.expected(split_budget(model.curves, 0), 1.0, dict(model.cadence_mean))
    spread = uncertainty(model, spend, ratio, cadence, seed)
    conv = model.conversion
    return {
        "enough": True,
        "streams": len(usable),
        "budget": {c.channel: round(x) for c, x in zip(model.curves, spend, strict=True)},
        "price_ratio": ratio,
        "price": model.reference_price * ratio,
        "cadence_per_hour": cadence,
        "expected": point,
        "ranges": {
            "R80": spread["R"][1:3],
            "R95": [spread["R"][0], spread["R"][3]],
            "A80": spread["A"][1:3],
            "P80": spread["P"][1:3],
        },
        "without_changes": today,
        "rests_on": {
            "streams": len(usable),
            "unpaid_audience": {"mean": model.base[0], "se": model.base[1]},
            "channels": [
                {
                    "channel": c.channel,
                    "a": c.a,
                    "b": c.b,
                    "streams": c.streams,
                    "se": [float(math.sqrt(max(c.cov[0, 0], 0))), float(math.sqrt(max(c.cov[1, 1], 0)))],
                }
                for c in model.curves
            ],
            "untested_channels": model.untested,
            "elasticity": {"value": conv.elasticity, "se": conv.elasticity_se, "source": conv.elasticity_source},
            "interaction": {k: {"effect": g, "se": se} for k, (g, se) in conv.effects.items()},
            "price_range": list(model.price_range),
            "cadence_range": {k: list(v) for k, v in model.cadence_range.items()},
            "reference_price": model.reference_price,
        },
    }
