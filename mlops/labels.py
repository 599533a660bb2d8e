"""Training labels: what the model learns to predict (pure: no Django imports).

A decision at bar ``t`` is taken at its CLOSE and filled at bar ``t+1``'s OPEN. Every label
here is defined from that fill, so a label never rewards a price the strategy could not get.

For each decision bar we compute what a LONG and a SHORT trade opened at the fill would have
made, in price units and before costs (``pnl_long``, ``pnl_short``). The class label is the
better side: ``+1`` (BUY) when the long did better, ``-1`` (SELL) when the short did, and NaN
when both did the same (a zero-return next bar, or a triple-barrier bar where both trades were
stopped). NaN labels are dropped from training and from the classification metrics, but their
P/L still counts when the gated strategy is costed: the strategy trades on those bars too.

Rows whose outcome would need bars past the end of the data are NaN in every column: they are
unknown, never filled.

``next_bar``
    The direction of the next bar's candle: ``pnl_long = close[t+1] - open[t+1]`` (enter at
    the fill, exit at that bar's close), ``pnl_short = -pnl_long``. Horizon 1 bar.
``triple_barrier``
    Take-profit and stop-loss at ``tp_atr`` / ``sl_atr`` times ATR(``atr_period``) of the
    decision bar, measured from the fill; time limit ``max_bars`` bars (exit at the close of
    the last one). Bars ``t+1 .. t+max_bars`` are scanned in order. A bar touching both the
    stop and the target of a trade counts as the STOP (we cannot know the order inside a bar;
    the backtester does the same). A stop is filled at the stop price, or at the bar's open when
    the bar gaps through it; a target is filled at its price. Horizon ``max_bars`` bars.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

BUY = 1
SELL = -1
HOLD = 0
LABEL_KINDS = ("next_bar", "triple_barrier")


@dataclass(frozen=True)
class LabelSpec:
    """What to predict. ``horizon`` is how many bars after the decision bar the label reads."""

    kind: str = "next_bar"
    tp_atr: float = 1.5
    sl_atr: float = 1.5
    max_bars: int = 24
    atr_period: int = 14

    def __post_init__(self) -> None:
        if self.kind not in LABEL_KINDS:
            raise ValueError(f"unknown label {self.kind!r}; use one of {', '.join(LABEL_KINDS)}")
        if self.kind == "triple_barrier":
            if self.tp_atr <= 0 or self.sl_atr <= 0:
                raise ValueError("tp_atr and sl_atr must be positive ATR multiples")
            if self.max_bars < 1 or self.atr_period < 1:
                raise ValueError("max_bars and atr_period must be at least 1")

    @property
    def horizon(self) -> int:
        """Bars after the decision bar that the label depends on (the splitter purges these)."""
        return 1 if self.kind == "next_bar" else self.max_bars

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "next_bar":
            return {"kind": "next_bar", "horizon": 1}
        return {**asdict(self), "horizon": self.horizon}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelSpec:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**fields)

    def describe(self) -> str:
        if self.kind == "next_bar":
            return "next_bar (direction of the next bar, 1-bar horizon)"
        return (f"triple_barrier (TP {self.tp_atr:g} ATR, SL {self.sl_atr:g} ATR, "
                f"time limit {self.max_bars} bars, ATR{self.atr_period})")


def make_labels(bars: pd.DataFrame, spec: LabelSpec) -> pd.DataFrame:
    """Columns ``label`` (+1/-1/NaN), ``pnl_long``, ``pnl_short`` on the bars' index.

    Hot path (one call per training run over ~130k bars): numpy only, no per-row Python.
    """
    o, h, lo, c = (bars[col].to_numpy(dtype=np.float64) for col in ("open", "high", "low", "close"))
    if spec.kind == "next_bar":
        pnl_long, pnl_short = _next_bar_pnl(o, c)
    else:
        atr = average_true_range(bars, spec.atr_period).to_numpy()
        pnl_long, pnl_short = _triple_barrier_pnl(o, h, lo, c, atr, spec)
    diff = pnl_long - pnl_short
    label = np.where(diff > 0, float(BUY), np.where(diff < 0, float(SELL), np.nan))
    label[np.isnan(diff)] = np.nan
    return pd.DataFrame({"label": label, "pnl_long": pnl_long, "pnl_short": pnl_short},
                        index=bars.index)


def average_true_range(bars: pd.DataFrame, period: int = 14) -> pd.Series:
    """Wilder's ATR, causal: the value at bar t uses bars up to t only; NaN during warm-up."""
    high, low, close = bars["high"], bars["low"], bars["close"]
    prev_close = close.shift(1)
    true_range = pd.concat(
        [high - low, (high - prev_close).abs(), (low - prev_close).abs()], axis=1
    ).max(axis=1)
    return true_range.ewm(alpha=1.0 / period, adjust=False, min_periods=period).mean()


def _next_bar_pnl(o: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pnl = np.full(o.shape, np.nan)
    pnl[:-1] = c[1:] - o[1:]
    return pnl, -pnl


def _forward_windows(values: np.ndarray, width: int) -> np.ndarray:
    """Row t holds values[t+1 .. t+width]; rows whose window runs past the end are NaN."""
    n = len(values)
    out = np.full((n, width), np.nan)
    if n > width:
        view = np.lib.stride_tricks.sliding_window_view(values[1:], width)
        out[: len(view)] = view
    return out


def _triple_barrier_pnl(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                        atr: np.ndarray, spec: LabelSpec) -> tuple[np.ndarray, np.ndarray]:
    width = spec.max_bars
    highs, lows, opens = (_forward_windows(a, width) for a in (h, lo, o))
    entry = opens[:, 0]
    last_close = np.full(len(c), np.nan)
    last_close[: len(c) - width] = c[width:]
    tp_dist, sl_dist = spec.tp_atr * atr, spec.sl_atr * atr
    # Long: target above, stop below. Short: the mirror image.
    long_pnl = _barrier_trade(entry, highs, lows, opens, last_close, tp_dist, sl_dist, side=1)
    short_pnl = _barrier_trade(entry, highs, lows, opens, last_close, tp_dist, sl_dist, side=-1)
    unknown = np.isnan(entry) | np.isnan(atr) | np.isnan(last_close)
    long_pnl[unknown] = np.nan
    short_pnl[unknown] = np.nan
    return long_pnl, short_pnl


def _first_true(mask: np.ndarray) -> np.ndarray:
    """Index of the first True per row, or the row width when there is none."""
    width = mask.shape[1]
    return np.where(mask.any(axis=1), mask.argmax(axis=1), width)


def _barrier_trade(entry: np.ndarray, highs: np.ndarray, lows: np.ndarray, opens: np.ndarray,
                   last_close: np.ndarray, tp_dist: np.ndarray, sl_dist: np.ndarray,
                   side: int) -> np.ndarray:
    """P/L (price units, before costs) of one side's trade over the forward window."""
    with np.errstate(invalid="ignore"):
        if side == 1:
            target, stop = entry + tp_dist, entry - sl_dist
            hit_target = highs >= target[:, None]
            hit_stop = lows <= stop[:, None]
        else:
            target, stop = entry - tp_dist, entry + sl_dist
            hit_target = lows <= target[:, None]
            hit_stop = highs >= stop[:, None]
    first_target, first_stop = _first_true(hit_target), _first_true(hit_stop)
    width = highs.shape[1]
    rows = np.arange(len(entry))
    # A gap through the stop fills at the open (worse than the stop), never better.
    stop_open = opens[rows, np.minimum(first_stop, width - 1)]
    stop_fill = np.minimum(stop, stop_open) if side == 1 else np.maximum(stop, stop_open)
    # Ties (stop and target in the same bar) go to the stop: "<=" below.
    pnl = side * (last_close - entry)
    pnl = np.where(first_target < np.minimum(first_stop, width), side * (target - entry), pnl)
    return np.where(first_stop <= np.minimum(first_target, width - 1),
                    side * (stop_fill - entry), pnl)
