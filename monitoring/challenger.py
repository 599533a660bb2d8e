"""Champion vs challenger (pure: no Django). Both models are backtested on the SAME recent
out-of-sample window with costs; the challenger is better only by more than ``margin`` on
``metric`` (default: return in percent of the initial equity, so the margin is in percentage
points and works for losing champions too) and with at least ``min_trades`` trades.

A better challenger is promoted only when an admin approved the retraining request, or when
auto-promotion is configured; otherwise it waits for approval. The champion trades until then.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

PROMOTE, AWAIT, KEEP = "promote", "awaiting_approval", "kept_champion"


@dataclass(frozen=True)
class Comparison:
    metric: str
    champion: float | None
    challenger: float | None
    margin: float
    challenger_trades: int
    better: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _value(metrics: dict[str, Any], metric: str) -> float | None:
    value = metrics.get(metric)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def compare(champion: dict[str, Any], challenger: dict[str, Any], *,
            metric: str = "return_pct", margin: float = 1.0,
            min_trades: int = 10) -> Comparison:
    """Is the challenger better than the champion by more than ``margin`` on ``metric``?"""
    a, b = _value(champion, metric), _value(challenger, metric)
    trades = int(challenger.get("trades") or 0)
    if trades < min_trades:
        return Comparison(metric, a, b, margin, trades, False,
                          f"challenger made {trades} trades on the window (< {min_trades})")
    if b is None:
        return Comparison(metric, a, b, margin, trades, False,
                          f"challenger's {metric} is undefined")
    base = a if a is not None else 0.0  # a champion without trades earned nothing
    better = b - base > margin
    verdict = "beats" if better else "does not beat"
    return Comparison(metric, a, b, margin, trades, better,
                      f"challenger {metric} {b:.4g} {verdict} champion {base:.4g} "
                      f"by more than {margin:g}")


def decide(comparison: Comparison, *, approved: bool, auto_promote: bool) -> str:
    if not comparison.better:
        return KEEP
    return PROMOTE if approved or auto_promote else AWAIT
