"""Replay/backtest agreement (pure: no Django imports).

The replay runs the real trading cycle on a paper account; ``backtest --account`` runs the
engine with that account's settings on the same window. If the backtest describes what the
cycle will do, both list the same trades: same count, same entry times and sides, and the
same net P/L within a cent per trade (``trading.pnl`` rounds to the cent on both paths).

One difference is legitimate and named, not hidden: stored bars at times the cycle's market
calendar calls closed (``trading.cycle.steps.market_open_at``: weekends and the holidays, e.g.
bars on Dec 25 or Jan 1 in a synthetic or broker series). The live cycle does nothing on such
a bar (no decision, no order); the backtest trades every stored bar. A trade without a twin
that enters or exits at such a time is listed in ``closed_market`` and the ``cause`` says so
(docs/auto-trading.md, "Bars on a closed market").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")


def _key(trade: Mapping[str, Any]) -> tuple[str, str]:
    return str(trade["entry_time"]), str(trade["side"])


def compare_trades(replayed: Sequence[Mapping[str, Any]], tested: Sequence[Mapping[str, Any]],
                   tolerance: Decimal = CENT,
                   market_open: Callable[[datetime], bool] | None = None) -> dict[str, Any]:
    """Pair the trades in entry order and count those that agree (entry time, side, net P/L
    within ``tolerance``). ``agreement`` is matched / max(count): 1.0 only when every trade
    of both lists has its twin (two empty lists agree: the trade-count criterion judges
    emptiness). ``mismatches`` lists the first few differences in words.

    ``market_open``: the cycle's market calendar (is the market open at this aware UTC
    time?). With it, the trades without a twin that enter or exit while it says closed are
    listed in ``closed_market`` and ``cause`` names that difference (first in
    ``mismatches``)."""
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
    closed = _closed_market(ours, theirs, tolerance, market_open) if market_open else []
    cause = _closed_market_cause(closed) if closed else None
    if cause:
        mismatches.insert(0, cause)
    return {"replay_trades": len(ours), "backtest_trades": len(theirs), "matched": matched,
            "agreement": matched / total if total else 1.0,
            "max_pnl_difference": str(worst), "tolerance": str(tolerance),
            "mismatches": mismatches[:10], "closed_market": closed[:20], "cause": cause}


def _twin(trade: Mapping[str, Any], others: Mapping[tuple[str, str], Mapping[str, Any]],
          tolerance: Decimal) -> bool:
    other = others.get(_key(trade))
    return other is not None and abs(Decimal(str(trade["net_pnl"]))
                                     - Decimal(str(other["net_pnl"]))) <= tolerance


def _closed_market(ours: Sequence[Mapping[str, Any]], theirs: Sequence[Mapping[str, Any]],
                   tolerance: Decimal,
                   market_open: Callable[[datetime], bool]) -> list[dict[str, str]]:
    """The trades without a twin (same entry time and side, P/L within ``tolerance``) that
    entered or exited while ``market_open`` says the market was closed, in time order."""
    keyed = ({_key(t): t for t in theirs}, {_key(t): t for t in ours})
    found = []
    for path, trades, others in (("replay", ours, keyed[0]), ("backtest", theirs, keyed[1])):
        for trade in trades:
            if _twin(trade, others, tolerance):
                continue
            for end in ("entry_time", "exit_time"):
                at = trade.get(end)
                if at and not market_open(datetime.fromisoformat(str(at))):
                    found.append({"path": path, "side": str(trade["side"]),
                                  "entry_time": str(trade["entry_time"]),
                                  "closed_at": f"{end.split('_')[0]} {at}"})
                    break
    return sorted(found, key=lambda row: (row["entry_time"], row["path"]))


def _closed_market_cause(closed: Sequence[Mapping[str, str]]) -> str:
    first = closed[0]
    return (f"{len(closed)} trade(s) without a twin traded while the cycle's market calendar "
            f"is closed (first: {first['path']} {first['side']} trade, "
            f"{first['closed_at']}): the stored bars include a closed market (a holiday or "
            "weekend), where the live cycle does nothing and the backtest trades every stored "
            "bar; remove those bars or replay a window without them (docs/auto-trading.md, "
            "'Bars on a closed market')")
