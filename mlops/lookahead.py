"""The look-ahead check: does anything the model sees at a bar depend on later bars? (no Django)

How it works, in plain words: we compute every feature, probability and BUY/SELL/HOLD decision
once over the whole history. Then, for each checked bar, we throw away every bar after it,
recompute everything from what existed at that bar's close (what a live system would have had),
and compare. A feature that reads the future gives a different value when the future is
missing; a model that depends on it may give a different decision. Any difference is reported
by name, bar and size, and makes the check fail.

Which bars (``select_bars``): every bar in the most recent ``window`` bars where the model
would trade (a check of HOLD bars alone says little about trades); a deterministic set at every
kind of calendar boundary, where a higher-timeframe join or a session rule would leak first
(the first and last bar of a week, of a trading day, of an H4 bin, and the bars on each side of
a holiday closure: ``per_kind`` of each, evenly spread over the history, the latest included);
and ``points`` bars drawn at random. The report states the coverage: how many of each kind,
and how many of the traded bars.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from marketdata.calendar import (
    DAY_BOUNDARY_NY17,
    DAY_NS,
    DEFAULT_DAY_BOUNDARY,
    HOUR_NS,
    bins_in_days,
    trading_days,
)
from mlops.gating import decision_name
from mlops.labels import HOLD

FeaturesFn = Callable[[pd.DataFrame], pd.DataFrame]
# Features frame -> (probability of up, decision) per row; NaN / HOLD for unusable rows.
DecideFn = Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray]]
Progress = Callable[[int, int], None]
RTOL = 1e-9
ATOL = 1e-12
DEFAULT_PER_KIND = 8
# Boundary kinds, in report order, with the words the report uses.
BOUNDARY_KINDS: dict[str, str] = {
    "week_first": "first bar of a week", "week_last": "last bar of a week",
    "day_first": "first bar of a trading day", "day_last": "last bar of a trading day",
    "h4_first": "first bar of an H4 bin", "h4_last": "last bar of an H4 bin",
    "holiday": "bar next to a holiday closure",
}
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; Monday = 0


@dataclass(frozen=True)
class FeatureChange:
    feature: str
    bar_time: pd.Timestamp
    full_value: float
    cut_value: float

    @property
    def size(self) -> float:
        if np.isnan(self.full_value) or np.isnan(self.cut_value):
            return float("inf")
        return abs(self.full_value - self.cut_value)


@dataclass(frozen=True)
class DecisionChange:
    bar_time: pd.Timestamp
    full_decision: int
    cut_decision: int
    full_proba_up: float
    cut_proba_up: float


@dataclass(frozen=True)
class LookaheadReport:
    checked: tuple[pd.Timestamp, ...]
    n_random: int
    n_trade_bars: int
    feature_changes: tuple[FeatureChange, ...] = ()
    decision_changes: tuple[DecisionChange, ...] = ()
    proba_changes: tuple[DecisionChange, ...] = ()
    title: str = "Look-ahead check"
    notes: tuple[str, ...] = field(default=())
    # kind -> bars checked ("random", "traded", BOUNDARY_KINDS) and "traded_in_window"
    coverage: Mapping[str, int] = field(default_factory=dict)
    fingerprint: str = ""  # the model fingerprint the check ran on (set by the service)

    @property
    def clean(self) -> bool:
        return not (self.feature_changes or self.decision_changes or self.proba_changes)

    def changed_features(self) -> list[tuple[str, int, float, list[pd.Timestamp]]]:
        """(feature, bars changed, largest change, first bars) per changed feature."""
        by_name: dict[str, list[FeatureChange]] = {}
        for change in self.feature_changes:
            by_name.setdefault(change.feature, []).append(change)
        rows = [(name, len(items), max(c.size for c in items),
                 sorted(c.bar_time for c in items)[:3]) for name, items in by_name.items()]
        return sorted(rows, key=lambda r: (-r[1], r[0]))

    def to_dict(self) -> dict[str, object]:
        return {
            "clean": self.clean,
            "bars_checked": len(self.checked),
            "random_bars": self.n_random,
            "trade_bars": self.n_trade_bars,
            "changed_features": [
                {"feature": f, "bars": n, "largest_change": size,
                 "first_bars": [t.isoformat() for t in first]}
                for f, n, size, first in self.changed_features()],
            "changed_decisions": len(self.decision_changes),
            "changed_probabilities": len(self.proba_changes),
            "coverage": dict(self.coverage),
            "fingerprint": self.fingerprint,
        }

    def render(self) -> str:
        return "\n".join(line.rstrip() for line in _render(self))


@dataclass(frozen=True)
class Selection:
    """The bars to check (sorted positions) and how many of each kind (a bar may be several)."""

    positions: np.ndarray
    coverage: dict[str, int]

    @property
    def n_random(self) -> int:
        return self.coverage.get("random", 0)

    @property
    def n_trades(self) -> int:
        return self.coverage.get("traded", 0)


def _firsts_and_lasts(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    firsts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return firsts, np.r_[firsts[1:] - 1, key.size - 1]


def _day_number(day_start: np.ndarray) -> np.ndarray:
    """The date a trading day is named after (a New York day starts on its eve, 21-22 UTC)."""
    return (day_start + 12 * HOUR_NS) // DAY_NS


def _holiday_sides(day: np.ndarray) -> np.ndarray:
    """Positions of the bars on each side of a closure that swallows a Monday-Friday day."""
    jumps = np.flatnonzero(np.diff(day) >= 2)
    sides = []
    for i in jumps:
        missing = np.arange(day[i] + 1, day[i + 1])
        if ((missing + _EPOCH_WEEKDAY) % 7 < 5).any():
            sides += [i, i + 1]
    return np.array(sides, dtype=np.int64)


def boundary_candidates(times: pd.DatetimeIndex, day_boundary: str = DEFAULT_DAY_BOUNDARY,
                        ) -> dict[str, np.ndarray]:
    """Positions of every bar at each kind of boundary (``BOUNDARY_KINDS``). Trading days and
    H4 bins follow ``day_boundary`` (the features' bins); weeks and holidays the forex day."""
    ns = pd.DatetimeIndex(times).as_unit("ns").asi8
    if not ns.size:
        return {kind: np.array([], dtype=np.int64) for kind in BOUNDARY_KINDS}
    day_start, day_end = trading_days(ns, day_boundary)
    h4_start, _ = bins_in_days(ns, day_start, day_end, 4 * HOUR_NS)
    forex_day = _day_number(trading_days(ns, DAY_BOUNDARY_NY17)[0])
    out = {}
    for prefix, key in (("week", (forex_day + _EPOCH_WEEKDAY) // 7), ("day", day_start),
                        ("h4", h4_start)):
        out[f"{prefix}_first"], out[f"{prefix}_last"] = _firsts_and_lasts(key)
    out["holiday"] = _holiday_sides(forex_day)
    return out


def _spread(candidates: np.ndarray, k: int) -> np.ndarray:
    """``k`` of ``candidates`` evenly spread, the first and the latest included."""
    if candidates.size <= k:
        return candidates
    return np.unique(candidates[np.linspace(0, candidates.size - 1, k).round().astype(int)])


def select_bars(decisions: np.ndarray, first: int, points: int, window: int,
                rng: np.random.Generator, times: pd.DatetimeIndex | None = None, *,
                per_kind: int = DEFAULT_PER_KIND,
                day_boundary: str = DEFAULT_DAY_BOUNDARY) -> Selection:
    """Every trading bar among the last ``window`` bars, ``per_kind`` bars of each boundary kind
    (when ``times`` is given) and ``points`` random bars, all from ``first`` on."""
    n = len(decisions)
    candidates = np.arange(first, n)
    random = rng.choice(candidates, size=min(points, len(candidates)), replace=False)
    recent = np.arange(max(first, n - window), n)
    trades = recent[np.asarray(decisions)[recent] != HOLD]
    coverage = {"random": len(random), "traded": len(trades), "traded_in_window": len(trades),
                "window": len(recent)}
    chosen = [random, trades]
    if times is not None:
        for kind, positions in boundary_candidates(times, day_boundary).items():
            picked = _spread(positions[positions >= first], per_kind)
            coverage[kind] = len(picked)
            chosen.append(picked)
    positions = np.unique(np.concatenate(chosen).astype(np.int64))
    coverage["total"] = len(positions)
    return Selection(positions, coverage)


def check_lookahead(bars: pd.DataFrame, compute_features: FeaturesFn, positions: Sequence[int],
                    decide: DecideFn | None = None, *, n_random: int = 0, n_trade_bars: int = 0,
                    full_features: pd.DataFrame | None = None, lookback: int | None = None,
                    progress: Progress | None = None, title: str = "Look-ahead check",
                    coverage: Mapping[str, int] | None = None) -> LookaheadReport:
    """Recompute features (and decisions) with history cut at each position and compare.

    ``lookback`` (optional) keeps only that many bars before each cut, as the live cycle does;
    by default the whole past is kept, which tests causality alone.
    """
    full = compute_features(bars) if full_features is None else full_features
    positions = np.asarray(sorted(set(int(p) for p in positions)), dtype=np.int64)
    cut_values = np.empty((len(positions), full.shape[1]))
    for i, pos in enumerate(positions):
        start = 0 if lookback is None else max(0, pos + 1 - lookback)
        # Copy the row out: under copy-on-write a row view would keep the whole frame alive.
        cut_values[i] = compute_features(bars.iloc[start: pos + 1]).iloc[-1].to_numpy(
            np.float64, copy=True)
        if progress:
            progress(i + 1, len(positions))
    cut = pd.DataFrame(cut_values, index=full.index[positions], columns=full.columns)
    full_at = full.iloc[positions].astype(np.float64)
    report = LookaheadReport(tuple(full_at.index), n_random, n_trade_bars,
                             feature_changes=_feature_changes(full_at, cut), title=title,
                             coverage=dict(coverage or {}))
    if decide is None:
        return report
    decision_changes, proba_changes = _decision_changes(full_at, cut, decide)
    return replace(report, decision_changes=decision_changes, proba_changes=proba_changes)


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    close = np.isclose(a, b, rtol=RTOL, atol=ATOL)
    return ~(both_nan | close)


def _feature_changes(full: pd.DataFrame, cut: pd.DataFrame) -> tuple[FeatureChange, ...]:
    a, b = full.to_numpy(), cut.to_numpy()
    rows, cols = np.nonzero(_differs(a, b))
    return tuple(FeatureChange(str(full.columns[c]), full.index[r], float(a[r, c]),
                               float(b[r, c])) for r, c in zip(rows, cols, strict=True))


def _decision_changes(full: pd.DataFrame, cut: pd.DataFrame, decide: DecideFn,
                      ) -> tuple[tuple[DecisionChange, ...], tuple[DecisionChange, ...]]:
    p_full, d_full = decide(full)
    p_cut, d_cut = decide(cut)
    changes = [DecisionChange(t, int(df), int(dc), float(pf), float(pc))
               for t, df, dc, pf, pc in zip(full.index, d_full, d_cut, p_full, p_cut,
                                            strict=True)]
    decisions = tuple(c for c in changes if c.full_decision != c.cut_decision)
    probas = tuple(c for c in changes if c.full_decision == c.cut_decision
                   and _differs(np.array([c.full_proba_up]), np.array([c.cut_proba_up]))[0])
    return decisions, probas


def _fmt_time(t: pd.Timestamp) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def _render(r: LookaheadReport) -> list[str]:
    lines = [r.title, "=" * len(r.title)]
    if r.checked:
        lines.append(f"Checked {len(r.checked)} bars ({r.n_random} picked at random, "
                     f"{r.n_trade_bars} where the model trades) from {_fmt_time(r.checked[0])} "
                     f"to {_fmt_time(r.checked[-1])}.")
    lines += _render_coverage(r.coverage)
    lines += ["For each bar, everything after it was removed and the features, probability and",
              "decision were recomputed from what existed at that bar's close, then compared",
              "with the run over the full history.", *r.notes, ""]
    if r.clean:
        return [*lines, "VERDICT: CLEAN. Nothing changed when the future was removed: no",
                "feature, probability or decision at these bars uses later data."]
    lines += [f"VERDICT: LOOK-AHEAD FOUND. {len(r.changed_features())} feature(s), "
              f"{len(r.decision_changes)} decision(s) and {len(r.proba_changes)} further "
              "probability(ies) changed when the future was removed.",
              "Results of this model cannot be trusted until this is fixed.", ""]
    lines += _render_features(r) + _render_decisions(r)
    return lines


def _render_coverage(coverage: Mapping[str, Any]) -> list[str]:
    """The coverage lines: traded bars first (the ones that matter), then each boundary kind."""
    if not coverage:
        return []
    lines = ["Coverage:",
             f"  traded bars: {coverage.get('traded', 0)} of the "
             f"{coverage.get('traded_in_window', 0)} non-HOLD decisions in the last "
             f"{coverage.get('window', 0)} bars (all of them)",
             f"  random bars: {coverage.get('random', 0)}"]
    lines += [f"  {words}: {coverage[kind]}" for kind, words in BOUNDARY_KINDS.items()
              if kind in coverage]
    return lines


def _render_features(r: LookaheadReport) -> list[str]:
    rows = r.changed_features()
    if not rows:
        return []
    lines = ["Features that change (they read data from after the bar):",
             f"  {'feature':<28} {'bars changed':>14} {'largest change':>15}  first bars"]
    for name, n, size, first in rows:
        size_text = "NaN vs value" if np.isinf(size) else f"{size:.6g}"
        lines.append(f"  {name:<28} {f'{n} of {len(r.checked)}':>14} {size_text:>15}  "
                     + ", ".join(_fmt_time(t) for t in first))
    return [*lines, ""]


def _fmt_decision(decision: int, proba_up: float) -> str:
    if np.isnan(proba_up):
        return f"{decision_name(decision)} (features undefined)"
    return f"{decision_name(decision)} (P(up) {proba_up:.4f})"


def _render_decisions(r: LookaheadReport) -> list[str]:
    changes = list(r.decision_changes) + list(r.proba_changes)
    if not changes:
        return []
    lines = ["Decisions / probabilities that change:",
             f"  {'bar':<17} {'full history':<22} history cut at the bar"]
    for c in changes[:20]:
        full = _fmt_decision(c.full_decision, c.full_proba_up)
        cut = _fmt_decision(c.cut_decision, c.cut_proba_up)
        lines.append(f"  {_fmt_time(c.bar_time):<17} {full:<22} {cut}")
    if len(changes) > 20:
        lines.append(f"  ... and {len(changes) - 20} more")
    return lines


# --- Too good to be true ---------------------------------------------------------------------
# Next-bar direction of a liquid market is close to a coin flip: published H1 models that hold
# up out of sample sit around 51-55% accuracy and an AUC of 0.52-0.58. A test accuracy above
# 60% (or 10 points above the majority class, when labels are unbalanced) or an AUC above 0.65
# is far more often a leak (a feature reading the future, overlapping windows, a shuffled split)
# than an edge; the planted-signal test series tops out at 0.62 with a real, causal edge.
MAX_PLAUSIBLE_ACCURACY = 0.60
MAX_PLAUSIBLE_AUC = 0.65
MAX_ACCURACY_OVER_MAJORITY = 0.10


def _majority_share(balance: Mapping[str, Any] | None) -> float:
    share = (balance or {}).get("share_up")
    return 0.5 if share is None else max(float(share), 1.0 - float(share))


def implausible_metrics(metrics: Mapping[str, Any]) -> list[str]:
    """One line per figure too good for market data (test window and walk-forward)."""
    test = metrics.get("test") or {}
    summary = (metrics.get("walk_forward") or {}).get("summary") or {}
    majority = _majority_share((metrics.get("class_balance") or {}).get("test"))
    limit = max(MAX_PLAUSIBLE_ACCURACY, majority + MAX_ACCURACY_OVER_MAJORITY)
    figures = [("test accuracy", test.get("accuracy"), limit),
               ("test ROC AUC", test.get("roc_auc"), MAX_PLAUSIBLE_AUC),
               ("walk-forward pooled accuracy", summary.get("pooled_accuracy"), limit),
               ("walk-forward mean ROC AUC", (summary.get("roc_auc") or {}).get("mean"),
                MAX_PLAUSIBLE_AUC)]
    return [f"{name} {value:.3f} is above {bound:.2f}: implausibly high for market data"
            for name, value, bound in figures if value is not None and value > bound]
