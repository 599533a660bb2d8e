"""Replay/backtest agreement (pure: no Django imports).

The replay runs the real trading cycle on a paper account; ``backtest --account`` runs the
engine with that account's settings on the same window. If the backtest describes what the
cycle will do, both list the same trades: same count, same entry times and sides, and the
same net P/L within a cent per trade (``trading.pnl`` rounds to the cent on both paths).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")


def _key(trade: Mapping[str, Any]) -> tuple[str, str]:
    return str(trade["entry_time"]), str(trade["side"])


def compare_trades(replayed: Sequence[Mapping[str, Any]], tested: Sequence[Mapping[str, Any]],
                   tolerance: Decimal = CENT) -> dict[str, Any]:
    """Pair the trades in entry order and count those that agree (entry time, side, net P/L
    within ``tolerance``). ``agreement`` is matched / max(count): 1.0 only when every trade
    of both lists has its twin (two empty lists agree: the trade-count criterion judges
    emptiness). ``mismatches`` lists the first few differences in words."""
    ours = sorted(replayed, key=_key)
    theirs = sorted(tested, key=_key)
    matched, worst, mismatches = 0, Decimal("0"), []
    for number, (a, b) in enumerate(zip(ours, theirs, strict=False), start=1):
        diff = abs(Decimal(str(a["net_pnl"])) - Decimal(str(b["net_pnl"])))
        if _key(a) != _key(b):
            mismatches.append(f"trade {number}: replay {a['side']} at {a['entry_time']}, "
                              f"backtest {b['side']} at {b['entry_time']}")
            continue
        worst = max(worst, diff)
        if diff > tolerance:
            mismatches.append(f"trade {number} at {a['entry_time']}: net P/L replay "
                              f"{a['net_pnl']} vs backtest {b['net_pnl']}")
            continue
        matched += 1
    total = max(len(ours), len(theirs))
    if len(ours) != len(theirs):
        mismatches.append(f"the replay made {len(ours)} trade(s), the backtest {len(theirs)}")
    return {"replay_trades": len(ours), "backtest_trades": len(theirs), "matched": matched,
            "agreement": matched / total if total else 1.0,
            "max_pnl_difference": str(worst), "tolerance": str(tolerance),
            "mismatches": mismatches[:10]}
