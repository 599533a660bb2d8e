"""The look-ahead check: does anything the model sees at a bar depend on later bars? (no Django)

How it works, in plain words: we compute every feature, probability and BUY/SELL/HOLD decision
once over the whole history. Then, for each checked bar, we throw away every bar after it,
recompute everything from what existed at that bar's close (what a live system would have had),
and compare. A feature that reads the future gives a different value when the future is
missing; a model that depends on it may give a different decision. Any difference is reported
by name, bar and size, and makes the check fail.

Which bars: ``points`` bars drawn at random over the history, plus every bar in the most recent
``window`` bars where the model would trade (a check of HOLD bars alone says little about
trades).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlops.gating import decision_name
from mlops.labels import HOLD

FeaturesFn = Callable[[pd.DataFrame], pd.DataFrame]
# Features frame -> (probability of up, decision) per row; NaN / HOLD for unusable rows.
DecideFn = Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray]]
Progress = Callable[[int, int], None]
RTOL = 1e-9
ATOL = 1e-12


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
        }

    def render(self) -> str:
        return "\n".join(line.rstrip() for line in _render(self))


def select_bars(decisions: np.ndarray, first: int, points: int, window: int,
                rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """(sorted positions, n random, n trade bars): random bars from ``first`` on, plus every
    trading bar among the last ``window`` bars."""
    n = len(decisions)
    candidates = np.arange(first, n)
    random = rng.choice(candidates, size=min(points, len(candidates)), replace=False)
    recent = np.arange(max(first, n - window), n)
    trades = recent[np.asarray(decisions)[recent] != HOLD]
    return np.union1d(random, trades), len(random), len(trades)


def check_lookahead(bars: pd.DataFrame, compute_features: FeaturesFn, positions: Sequence[int],
                    decide: DecideFn | None = None, *, n_random: int = 0, n_trade_bars: int = 0,
                    full_features: pd.DataFrame | None = None, lookback: int | None = None,
                    progress: Progress | None = None, title: str = "Look-ahead check",
                    ) -> LookaheadReport:
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
                             feature_changes=_feature_changes(full_at, cut), title=title)
    if decide is None:
        return report
    decision_changes, proba_changes = _decision_changes(full_at, cut, decide)
    return LookaheadReport(report.checked, n_random, n_trade_bars, report.feature_changes,
                           decision_changes, proba_changes, title)


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
