"""The HOLD gate, net expectancy after costs, and threshold tuning (pure: no Django imports).

Gate: the chosen side is the more probable one; the model says BUY or SELL only when that
side's (calibrated) probability is at least the threshold, otherwise HOLD. An exact 50/50 is
HOLD. Thresholds live in [0.5, 1].

Net expectancy: the mean P/L per trade in price units after a round-trip ``cost`` (spread plus
commission, in price units), using the labels' ``pnl_long``/``pnl_short`` (fill at the next
bar's open). Tuning picks, from a grid, the threshold with the best net expectancy among those
giving at least ``min_trades`` trades. It must only ever be given validation data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mlops.labels import BUY, HOLD, SELL

DEFAULT_THRESHOLD = 0.60
THRESHOLD_GRID = tuple(round(0.50 + 0.01 * i, 2) for i in range(26))  # 0.50 .. 0.75
DEFAULT_MIN_TRADES = 50
# Confidence of the out-of-sample edge an automatic activation needs (settings
# ML_ACTIVATION_CONFIDENCE overrides it): the one-sided lower bound of the net expectancy
# at this level must be above zero.
DEFAULT_ACTIVATION_CONFIDENCE = 0.95


def validate_threshold(threshold: float) -> float:
    if not 0.5 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0.5 and 1.0, got {threshold}")
    return float(threshold)


def gate(proba_up: np.ndarray, threshold: float) -> np.ndarray:
    """+1 (BUY), -1 (SELL) or 0 (HOLD) per row. Hot path: vectorised."""
    validate_threshold(threshold)
    p_up = np.asarray(proba_up, dtype=np.float64)
    p_down = 1.0 - p_up
    decisions = np.full(p_up.shape, HOLD, dtype=np.int8)
    decisions[(p_up > p_down) & (p_up >= threshold)] = BUY
    decisions[(p_down > p_up) & (p_down >= threshold)] = SELL
    return decisions


def decision_name(decision: int) -> str:
    return {BUY: "BUY", SELL: "SELL", HOLD: "HOLD"}[int(decision)]


@dataclass(frozen=True)
class TradeStats:
    """What trading every non-HOLD decision would have made, in price units after costs."""

    n_trades: int
    n_rows: int
    coverage: float
    win_rate: float | None
    expectancy: float | None
    expectancy_gross: float | None
    total: float

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def trade_pnl(decisions: np.ndarray, pnl_long: np.ndarray, pnl_short: np.ndarray,
              cost: float) -> np.ndarray:
    """Net P/L of each traded row, in time order (price units after ``cost``)."""
    decisions = np.asarray(decisions)
    gross = np.where(decisions == BUY, pnl_long, pnl_short)
    return gross[decisions != HOLD] - cost


def trade_stats(decisions: np.ndarray, pnl_long: np.ndarray, pnl_short: np.ndarray,
                cost: float) -> TradeStats:
    """Net P/L of the decisions; rows with unknown P/L (NaN) must be removed by the caller."""
    decisions = np.asarray(decisions)
    gross = np.where(decisions == BUY, pnl_long, np.where(decisions == SELL, pnl_short, 0.0))
    traded = decisions != HOLD
    n_trades, n_rows = int(traded.sum()), len(decisions)
    if n_trades == 0:
        return TradeStats(0, n_rows, 0.0, None, None, None, 0.0)
    net = gross[traded] - cost
    return TradeStats(
        n_trades=n_trades,
        n_rows=n_rows,
        coverage=n_trades / n_rows,
        win_rate=float((net > 0).mean()),
        expectancy=float(net.mean()),
        expectancy_gross=float(gross[traded].mean()),
        total=float(net.sum()),
    )


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    n_trades: int
    coverage: float
    win_rate: float | None
    expectancy: float | None
    total: float


@dataclass(frozen=True)
class ThresholdChoice:
    """The tuned threshold and the table it was picked from (validation data only)."""

    threshold: float
    row: ThresholdRow
    table: tuple[ThresholdRow, ...]
    cost: float
    min_trades: int

    @property
    def profitable(self) -> bool:
        return self.row.expectancy is not None and self.row.expectancy > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "threshold": self.threshold,
            "cost": self.cost,
            "min_trades": self.min_trades,
            "profitable": self.profitable,
            "chosen": asdict(self.row),
            "table": [asdict(r) for r in self.table],
        }


def threshold_table(proba_up: np.ndarray, pnl_long: np.ndarray, pnl_short: np.ndarray,
                    cost: float, grid: tuple[float, ...] = THRESHOLD_GRID) -> list[ThresholdRow]:
    rows = []
    for threshold in grid:
        stats = trade_stats(gate(proba_up, threshold), pnl_long, pnl_short, cost)
        rows.append(ThresholdRow(threshold, stats.n_trades, stats.coverage, stats.win_rate,
                                 stats.expectancy, stats.total))
    return rows


def choose_threshold(proba_up: np.ndarray, pnl_long: np.ndarray, pnl_short: np.ndarray,
                     cost: float, min_trades: int = DEFAULT_MIN_TRADES,
                     grid: tuple[float, ...] = THRESHOLD_GRID) -> ThresholdChoice:
    """Best net expectancy with at least ``min_trades`` trades; ties go to the lower threshold.

    Raises ValueError when no threshold of the grid gives ``min_trades`` trades.
    """
    table = threshold_table(proba_up, pnl_long, pnl_short, cost, grid)
    eligible = [r for r in table if r.n_trades >= min_trades and r.expectancy is not None]
    if not eligible:
        most = max(r.n_trades for r in table)
        raise ValueError(f"no threshold gives {min_trades} trades on the validation data "
                         f"(at most {most}); lower min_trades or use more data")
    best = max(eligible, key=lambda r: (r.expectancy, -r.threshold))
    return ThresholdChoice(best.threshold, best, tuple(table), float(cost), int(min_trades))


@dataclass(frozen=True)
class EdgeVerdict:
    """Whether a model showed a net edge after costs out of sample, at a confidence."""

    ok: bool
    reason: str
    lower_bound: float | None
    confidence: float


def oos_edge_check(metrics: dict, confidence: float = DEFAULT_ACTIVATION_CONFIDENCE,
                   ) -> EdgeVerdict:
    """The rule for AUTOMATIC activation: the out-of-sample net expectancy per trade after
    costs (pooled walk-forward test folds, else the test window; ``metrics["selection"]``)
    has a one-sided block-bootstrap lower bound above zero at ``confidence``.

    A model trained before these figures existed, or evaluated at a lower confidence than
    asked, fails the rule (an admin may still activate it, with a reason)."""
    oos = (metrics.get("selection") or {}).get("oos") or {}
    bound, level = oos.get("lower_bound"), oos.get("confidence")
    if bound is None or level is None:
        return EdgeVerdict(False, "no out-of-sample interval of the net expectancy (too few "
                                  "out-of-sample trades, or trained before intervals existed)",
                           None, confidence)
    if level + 1e-9 < confidence:
        return EdgeVerdict(False, f"its out-of-sample bound was computed at {level:.0%}, below "
                                  f"the {confidence:.0%} required: retrain", bound, confidence)
    if bound <= 0:
        return EdgeVerdict(False, f"out-of-sample net expectancy not positive at {level:.0%} "
                                  f"confidence (one-sided lower bound {bound:.4f} per trade, "
                                  f"{oos.get('source', 'out of sample')})", bound, confidence)
    return EdgeVerdict(True, f"out-of-sample net expectancy above {bound:.4f} per trade at "
                             f"{level:.0%} confidence", bound, confidence)
