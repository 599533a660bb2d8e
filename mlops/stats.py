"""Uncertainty, baselines and multiple-testing statistics (pure: no Django imports).

Every figure a trader reads should come with what it is compared to and how uncertain it is:

- **Baselines**: the majority-class accuracy and a constant predictor's AUC (0.5), log loss
  and Brier score (:func:`constant_baselines`).
- **Intervals that respect time**: a moving-block bootstrap (:func:`block_bootstrap`) resamples
  *blocks* of consecutive observations, so serial dependence (overlapping labels, volatility
  clusters) widens the interval instead of being ignored; a plain bootstrap treats dependent
  observations as independent and reports intervals that are too narrow. Blocks wrap around
  (circular), every statistic is vectorised over the resamples, and the generator is seeded.
- **Overlapping labels**: a label over ``h`` bars shares bars with its neighbours;
  :func:`effective_sample_size` is the sum of the labels' average uniqueness (Lopez de Prado,
  *Advances in Financial Machine Learning*, ch. 4).
- **Multiple testing**: the Deflated Sharpe Ratio (Bailey & Lopez de Prado 2014,
  :func:`deflated_sharpe`) and the Probability of Backtest Overfitting by combinatorially
  symmetric cross-validation (Bailey, Borwein, Lopez de Prado & Zhu 2015, :func:`pbo_cscv`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
from scipy import stats as sps

DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 12345
EULER_GAMMA = 0.5772156649015329
CSCV_BLOCKS = 16
MAX_BOOTSTRAP_CELLS = 4_000_000  # resamples x observations held at once (memory bound)

Statistic = Callable[[np.ndarray], np.ndarray]  # (resamples, n) -> (resamples,)


@dataclass(frozen=True)
class Interval:
    """An estimate with its (two-sided, percentile) bootstrap interval."""

    estimate: float | None
    low: float | None
    high: float | None
    confidence: float
    n: int
    block: int

    def excludes_zero(self) -> bool:
        return (self.low is not None and self.high is not None
                and (self.low > 0 or self.high < 0))

    def contains(self, value: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= value <= self.high

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def block_length(n: int, horizon: int = 1) -> int:
    """Block length: at least the label horizon (observations closer than that share bars)
    and ``n ** (1/3)`` (the usual rate for the moving-block bootstrap)."""
    return int(max(1, horizon, math.ceil(n ** (1.0 / 3.0)) if n > 0 else 1))


def block_bootstrap_indices(n: int, block: int, resamples: int,
                            rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) indices of circular moving-block resamples of ``range(n)``."""
    block = max(1, min(block, n))
    blocks = -(-n // block)
    starts = rng.integers(0, n, size=(resamples, blocks), dtype=np.int32)
    idx = (starts[:, :, None] + np.arange(block, dtype=np.int32)[None, None, :])
    idx = idx.reshape(resamples, blocks * block)[:, :n]
    return np.where(idx >= n, idx - n, idx)  # wrap around (cheaper than a modulo)


def block_bootstrap(values: np.ndarray, statistic: Statistic, *, block: int | None = None,
                    horizon: int = 1, resamples: int = DEFAULT_RESAMPLES,
                    confidence: float = DEFAULT_CONFIDENCE, seed: int = DEFAULT_SEED,
                    ) -> Interval:
    """Percentile interval of ``statistic`` (vectorised over rows) under the block bootstrap.

    ``values`` are in time order. With fewer than 2 values the interval is undefined (None).
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    block = block_length(n, horizon) if block is None else int(block)
    estimate = _finite(statistic(values[None, :])[0]) if n else None
    if n < 2:
        return Interval(estimate, None, None, confidence, n, block)
    draws = _resampled_statistic(values, statistic, block, resamples, seed)
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        return Interval(estimate, None, None, confidence, n, block)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high), confidence, n, block)


def _resampled_statistic(values: np.ndarray, statistic: Statistic, block: int,
                         resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    chunk = max(1, MAX_BOOTSTRAP_CELLS // len(values))
    out = []
    for done in range(0, resamples, chunk):
        idx = block_bootstrap_indices(len(values), block, min(chunk, resamples - done), rng)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(statistic(values[idx]))
    return np.concatenate(out)


def lower_bound(values: np.ndarray, *, confidence: float = DEFAULT_CONFIDENCE,
                horizon: int = 1, resamples: int = DEFAULT_RESAMPLES,
                seed: int = DEFAULT_SEED) -> float | None:
    """One-sided lower confidence bound of the mean (block bootstrap): the mean is above it
    with probability ``confidence``. None with fewer than 2 values."""
    two_sided = 1.0 - 2.0 * (1.0 - confidence)
    return trade_intervals(values, horizon=horizon, resamples=resamples, confidence=two_sided,
                           seed=seed)["expectancy"]["low"]


# Statistics vectorised over resamples: each takes (resamples, n) and returns (resamples,).

def mean(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=1)


def win_rate(x: np.ndarray) -> np.ndarray:
    return (x > 0).mean(axis=1)


def profit_factor(x: np.ndarray) -> np.ndarray:
    """Gross profit / gross loss (inf without losses, NaN without either)."""
    gains = np.maximum(x, 0.0).sum(axis=1)
    losses = -np.minimum(x, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(losses > 0, gains / np.where(losses > 0, losses, 1.0),
                        np.where(gains > 0, np.inf, np.nan))


def sharpe(x: np.ndarray) -> np.ndarray:
    """Mean / sample standard deviation per row (not annualised); NaN when flat."""
    std = x.std(axis=1, ddof=1) if x.shape[1] > 1 else np.zeros(x.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0, x.mean(axis=1) / np.where(std > 0, std, 1.0), np.nan)


TRADE_STATISTICS: dict[str, Statistic] = {
    "win_rate": win_rate, "profit_factor": profit_factor, "expectancy": mean,
    "sharpe": sharpe,
}


def trade_intervals(net: np.ndarray, *, horizon: int = 1,
                    confidence: float = DEFAULT_CONFIDENCE, resamples: int = DEFAULT_RESAMPLES,
                    seed: int = DEFAULT_SEED) -> dict[str, dict[str, Any]]:
    """Win rate, profit factor, expectancy and per-trade Sharpe of the net P/L of trades (in
    time order), each with its moving-block bootstrap interval.

    Hot path (every evaluation window of a training): all four statistics are functions of
    five sums (x, wins, gains, losses, x squared), so each resample adds up the precomputed
    sums of its blocks instead of gathering every observation: (resamples x blocks) work.
    """
    net = np.asarray(net, dtype=np.float64)
    n = len(net)
    block = block_length(n, horizon)
    moments = np.stack([net, (net > 0).astype(np.float64), np.maximum(net, 0.0),
                        -np.minimum(net, 0.0), net * net])
    estimates = _moment_statistics(moments.sum(axis=1)[:, None], float(n))
    if n < 2:
        return {name: Interval(_finite(estimates[name][0]), None, None, confidence, n,
                               block).to_dict() for name in estimates}
    block = min(block, n)
    blocks = -(-n // block)
    circular = np.concatenate([moments, moments[:, :block - 1]], axis=1)
    csum = np.concatenate([np.zeros((5, 1)), np.cumsum(circular, axis=1)], axis=1)
    block_sums = csum[:, block:block + n] - csum[:, :n]  # (5, n): the block starting at each
    starts = np.random.default_rng(seed).integers(0, n, size=(resamples, blocks))
    draws = _moment_statistics(block_sums[:, starts].sum(axis=2), float(blocks * block))
    tail = (1.0 - confidence) / 2.0
    out = {}
    for name, values in draws.items():
        finite = values[np.isfinite(values)]
        low, high = (np.quantile(finite, [tail, 1.0 - tail]) if len(finite)
                     else (math.nan, math.nan))
        out[name] = Interval(_finite(estimates[name][0]), _finite(low), _finite(high),
                             confidence, n, block).to_dict()
    return out


def _moment_statistics(sums: np.ndarray, n: float) -> dict[str, np.ndarray]:
    """The four trade statistics from the sums (x, wins, gains, losses, x^2) per column."""
    total, wins, gains, losses, squares = sums
    with np.errstate(divide="ignore", invalid="ignore"):
        mu, rate = total / n, wins / n
        var = (squares - n * mu * mu) / max(n - 1.0, 1.0)
        pf = np.where(losses > 0, gains / np.where(losses > 0, losses, 1.0),
                      np.where(gains > 0, np.inf, np.nan))
        sr = np.where(var > 1e-300, mu / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    return {"win_rate": rate, "profit_factor": pf, "expectancy": mu, "sharpe": sr}


def wilson_interval(successes: int, n: int,
                    confidence: float = DEFAULT_CONFIDENCE) -> dict[str, Any]:
    """Wilson score interval of a proportion (e.g. accuracy when trading): well-behaved for
    small ``n`` and proportions near 0 or 1, unlike the normal approximation."""
    if n <= 0:
        return {"estimate": None, "low": None, "high": None, "confidence": confidence, "n": 0}
    z = float(sps.norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"estimate": p, "low": max(0.0, centre - half), "high": min(1.0, centre + half),
            "confidence": confidence, "n": int(n)}


def constant_baselines(y: np.ndarray) -> dict[str, float | None]:
    """What a model that learned nothing scores on labels ``y`` (+1/-1).

    Accuracy: always the majority class. AUC: 0.5 (a constant has no ranking). Log loss and
    Brier: predicting the window's own up-share for every row (an optimistic constant: it
    knows the window's base rate).
    """
    y = np.asarray(y)
    n = len(y)
    if n == 0:
        return {"accuracy": None, "roc_auc": 0.5, "log_loss": None, "brier": None}
    share = float((y > 0).mean())
    p = min(max(share, 1e-15), 1 - 1e-15)
    return {
        "accuracy": max(share, 1.0 - share),
        "roc_auc": 0.5,
        "log_loss": float(-(share * math.log(p) + (1 - share) * math.log(1 - p))),
        "brier": share * (1.0 - share),
    }


def effective_sample_size(positions: np.ndarray, horizon: int) -> float:
    """Sum of average uniqueness of labels starting at ``positions`` (bar numbers, sorted or
    not) and spanning the ``horizon`` bars after each (the fill bar to the label's end).

    Non-overlapping labels count 1 each; ``k`` labels over the same bars count 1 together.
    """
    positions = np.asarray(positions, dtype=np.int64)
    if len(positions) == 0:
        return 0.0
    horizon = max(1, int(horizon))
    origin = positions.min()
    start = positions - origin
    span = int(start.max()) + horizon + 1
    delta = np.zeros(span + 1)
    np.add.at(delta, start, 1.0)
    np.add.at(delta, start + horizon, -1.0)
    concurrency = np.cumsum(delta)[:span]
    inverse = np.where(concurrency > 0, 1.0 / np.where(concurrency > 0, concurrency, 1), 0.0)
    csum = np.concatenate(([0.0], np.cumsum(inverse)))
    uniqueness = (csum[start + horizon] - csum[start]) / horizon
    return float(uniqueness.sum())


def weighted_mean(values: list[float | None], weights: list[float]) -> float | None:
    """Mean weighted by ``weights`` (fold sizes), skipping missing values."""
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None and w > 0]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else None


def expected_max_sharpe(trials: int, variance: float) -> float:
    """Expected maximum Sharpe of ``trials`` unskilled strategies whose Sharpe ratios vary
    with ``variance`` (Bailey & Lopez de Prado 2014, eq. for SR0); 0 for one trial."""
    if trials <= 1 or variance <= 0:
        return 0.0
    a = sps.norm.ppf(1.0 - 1.0 / trials)
    b = sps.norm.ppf(1.0 - 1.0 / (trials * math.e))
    return float(math.sqrt(variance) * ((1.0 - EULER_GAMMA) * a + EULER_GAMMA * b))


def probabilistic_sharpe(sr: float, benchmark: float, n: int, skew: float,
                         kurtosis: float) -> float | None:
    """P(true Sharpe > benchmark) given an observed per-period ``sr`` over ``n`` returns with
    their skewness and (non-excess) kurtosis (Bailey & Lopez de Prado 2012)."""
    if n < 2 or not math.isfinite(sr):
        return None
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if var <= 0:
        return None
    return float(sps.norm.cdf((sr - benchmark) * math.sqrt(n - 1) / math.sqrt(var)))


@dataclass(frozen=True)
class DeflatedSharpe:
    """The Deflated Sharpe Ratio: ``probability`` that the true Sharpe is above zero after
    ``trials`` configurations were tried (``benchmark`` is the expected best Sharpe of as many
    unskilled ones). Sharpe figures are per period (not annualised)."""

    probability: float | None
    sharpe: float | None
    benchmark: float
    trials: int
    n: int
    skew: float | None
    kurtosis: float | None
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def significant(self) -> bool:
        return self.probability is not None and self.probability >= self.confidence

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant}


def deflated_sharpe(returns: np.ndarray, trials: int = 1,
                    trial_sharpes: np.ndarray | None = None,
                    confidence: float = DEFAULT_CONFIDENCE) -> DeflatedSharpe:
    """Deflated Sharpe Ratio of per-period ``returns`` of the chosen configuration.

    ``trial_sharpes``: the per-period Sharpe of every configuration tried (their variance sets
    the benchmark); ``trials`` their number (at least ``len(trial_sharpes)``).
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n = len(r)
    trials = max(1, int(trials), 0 if trial_sharpes is None else len(trial_sharpes))
    sr = float(sharpe(r[None, :])[0]) if n > 1 else math.nan
    variance = 0.0
    if trial_sharpes is not None:
        finite = np.asarray(trial_sharpes, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        variance = float(finite.var(ddof=1)) if len(finite) > 1 else 0.0
    benchmark = expected_max_sharpe(trials, variance)
    if n < 3 or not math.isfinite(sr):
        return DeflatedSharpe(None, _finite(sr) if n > 1 else None, benchmark, trials, n,
                              None, None, confidence)
    skew = float(sps.skew(r))
    kurt = float(sps.kurtosis(r, fisher=False))
    prob = probabilistic_sharpe(sr, benchmark, n, skew, kurt)
    return DeflatedSharpe(prob, sr, benchmark, trials, n, skew, kurt, confidence)


def pbo_cscv(returns: np.ndarray, n_blocks: int = CSCV_BLOCKS) -> dict[str, Any]:
    """Probability of Backtest Overfitting by combinatorially symmetric cross-validation.

    ``returns``: (T, N) per-period returns of N configurations over the same T periods. The
    periods are cut into ``n_blocks`` consecutive blocks; for every way of choosing half of
    them as in-sample, the configuration with the best in-sample Sharpe is ranked out of
    sample (the other half). PBO is the share of splits where that best configuration ranks
    at or below the out-of-sample median (logit <= 0). Vectorised: per-block sums make each
    split's Sharpe ratios a few array sums.

    Configurations whose returns never change over the whole period (a threshold that never
    trades) are left out: their undefined Sharpe would always rank last and make any other
    configuration look robust. Elsewhere an undefined Sharpe (flat in one half) counts as 0.
    """
    m = np.asarray(returns, dtype=np.float64)
    flat = 0
    if m.ndim == 2:
        varying = np.nanstd(m, axis=0) > 0
        flat = int((~varying).sum())
        m = m[:, varying]
    if m.ndim != 2 or m.shape[1] < 2:
        return {"pbo": None, "splits": 0, "configurations": int(m.shape[1]) if m.ndim == 2
                else 0, "blocks": n_blocks, "reason": "needs at least two configurations"}
    t, n_cfg = m.shape
    n_blocks = min(n_blocks, t - t % 2) if t >= 4 else 0
    n_blocks -= n_blocks % 2
    if n_blocks < 2:
        return {"pbo": None, "splits": 0, "configurations": n_cfg, "blocks": n_blocks,
                "reason": "too few periods"}
    m = np.nan_to_num(m)
    edges = np.linspace(0, t, n_blocks + 1).astype(np.int64)
    count = np.diff(edges).astype(np.float64)
    s1 = np.add.reduceat(m, edges[:-1], axis=0)
    s2 = np.add.reduceat(m * m, edges[:-1], axis=0)
    combos = np.array(list(combinations(range(n_blocks), n_blocks // 2)))
    member = np.zeros((len(combos), n_blocks))
    member[np.arange(len(combos))[:, None], combos] = 1.0
    is_sr = np.nan_to_num(_split_sharpe(member, s1, s2, count))
    oos_sr = np.nan_to_num(_split_sharpe(1.0 - member, s1, s2, count))
    best = np.argmax(is_sr, axis=1)
    oos_best = oos_sr[np.arange(len(combos)), best]
    # Relative rank in (0, 1) of the in-sample winner among the out-of-sample Sharpe ratios.
    rank = (oos_sr < oos_best[:, None]).sum(axis=1) + 1
    omega = rank / (n_cfg + 1.0)
    logits = np.log(omega / (1.0 - omega))
    return {"pbo": float((logits <= 0).mean()), "splits": len(combos),
            "configurations": int(n_cfg), "blocks": int(n_blocks), "flat_left_out": flat,
            "median_logit": float(np.median(logits))}


def _split_sharpe(member: np.ndarray, s1: np.ndarray, s2: np.ndarray,
                  count: np.ndarray) -> np.ndarray:
    n = member @ count
    total, squares = member @ s1, member @ s2
    mu = total / n[:, None]
    var = (squares - n[:, None] * mu * mu) / np.maximum(n[:, None] - 1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 1e-300, mu / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
