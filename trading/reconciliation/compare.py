"""The comparison of our open positions with the broker's (pure: no Django).

Input: snapshots of the database's open positions (:class:`Ours`) and the broker's open
positions (``BrokerPosition``); output: :class:`Finding` s, each saying whether it is safe to
fix and how (``updates``: fields of our row to bring to the broker's values).

What is safe (the broker is the record of what was filled; we only ever copy its facts into
our rows, never change the broker's state):

- entry price different: our row takes the broker's ``price_open`` (P/L is computed from it);
- SL/TP moved at the broker: our row takes the broker's levels;
- our position at the broker (our magic) missing in the database: adopted (``ADOPTED``).

What is not, and engages the account's kill switch: a volume, side or symbol that differs (our
exposure is not what the risk rules think), a stop-loss removed at the broker (the position is
unprotected), and a floating P/L that differs from ``trading.pnl`` on our contract facts beyond
the tolerance (our money math would be wrong). A position of another magic is reported, never
touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from trading import pnl
from trading.brokers.base import BrokerPosition
from trading.pnl import InstrumentSpec

INFO, WARNING, CRITICAL = "info", "warning", "critical"


@dataclass(frozen=True)
class Ours:
    """One of our open positions as the database has it."""

    id: int
    ticket: int
    symbol: str
    side: str
    volume: Decimal
    entry_price: Decimal
    sl: Decimal | None
    tp: Decimal | None


@dataclass(frozen=True)
class Finding:
    kind: str                       # trading.models_reconciliation.FindingKind values
    severity: str
    safe: bool                      # True: fixed by ``updates``/adoption, or only reported
    message: str
    ticket: int | None = None
    position_id: int | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    found: dict[str, Any] = field(default_factory=dict)
    updates: dict[str, Any] = field(default_factory=dict)   # our row's fields to set
    fix: bool = False               # True: applying it changes our rows


def decimal_text(value: Decimal | None) -> str | None:
    """A Decimal without the database's padding ("0.0400" -> "0.04")."""
    return None if value is None else format(value.normalize(), "f")


def broker_view(position: BrokerPosition) -> dict[str, Any]:
    return {"ticket": position.ticket, "symbol": position.symbol, "side": position.side.value,
            "volume": decimal_text(position.volume),
            "price_open": decimal_text(position.price_open), "sl": decimal_text(position.sl),
            "tp": decimal_text(position.tp), "magic": position.magic,
            "client_id": position.client_id, "time": position.time.isoformat()}


def _ours_view(ours: Ours) -> dict[str, Any]:
    return {"position": ours.id, "ticket": ours.ticket, "symbol": ours.symbol,
            "side": ours.side, "volume": decimal_text(ours.volume),
            "entry_price": decimal_text(ours.entry_price), "sl": decimal_text(ours.sl),
            "tp": decimal_text(ours.tp)}


def compare_open(ours: Ours, theirs: BrokerPosition, spec: InstrumentSpec | None,
                 tolerance: Decimal) -> list[Finding]:
    """Our open position against the broker's position with the same ticket."""
    expected, found = _ours_view(ours), broker_view(theirs)
    common = {"ticket": ours.ticket, "position_id": ours.id, "expected": expected,
              "found": found}
    if theirs.symbol != ours.symbol or theirs.side.value != ours.side:
        return [Finding("side", CRITICAL, False, f"position {ours.id} is {ours.side} "
                        f"{ours.symbol} here but {theirs.side.value} {theirs.symbol} at the "
                        f"broker (ticket {ours.ticket})", **common)]
    findings = []
    if theirs.volume != ours.volume:
        findings.append(Finding("volume", CRITICAL, False, (
            f"position {ours.id}: {ours.volume} lots here, {theirs.volume} at the broker "
            f"(ticket {ours.ticket}); a partial close or fill we did not record"), **common))
    if theirs.price_open != ours.entry_price:
        findings.append(Finding("price", WARNING, True, (
            f"position {ours.id}: entry {ours.entry_price} here, {theirs.price_open} at the "
            "broker; the broker's fill price recorded"), updates={
                "entry_price": theirs.price_open}, fix=True, **common))
    findings += _stops(ours, theirs, common)
    if spec is not None and theirs.volume == ours.volume:
        findings += _floating(ours, theirs, spec, tolerance, common)
    return findings


def _stops(ours: Ours, theirs: BrokerPosition, common: dict[str, Any]) -> list[Finding]:
    if (theirs.sl, theirs.tp) == (ours.sl, ours.tp):
        return []
    if ours.sl is not None and theirs.sl is None:
        return [Finding("sl_tp", CRITICAL, False, (
            f"position {ours.id}: stop-loss {ours.sl} removed at the broker (ticket "
            f"{ours.ticket}): the position is unprotected"), **common)]
    return [Finding("sl_tp", WARNING, True, (
        f"position {ours.id}: SL/TP {ours.sl}/{ours.tp} here, {theirs.sl}/{theirs.tp} at the "
        "broker (moved there); the broker's levels recorded"),
        updates={"sl": theirs.sl, "tp": theirs.tp}, fix=True, **common)]


def _floating(ours: Ours, theirs: BrokerPosition, spec: InstrumentSpec, tolerance: Decimal,
              common: dict[str, Any]) -> list[Finding]:
    """The broker's floating P/L against ``trading.pnl`` on our contract facts."""
    ours_pnl = pnl.profit(1 if ours.side == "BUY" else -1, theirs.volume, theirs.price_open,
                          theirs.price_current, spec)
    difference = theirs.profit - ours_pnl
    if abs(difference) <= tolerance:
        return []
    return [Finding("pnl", CRITICAL, False, (
        f"position {ours.id}: floating P/L {ours_pnl} by trading.pnl, {theirs.profit} at the "
        f"broker (difference {difference}, tolerance {tolerance}): the contract facts of "
        f"{ours.symbol} disagree with the broker's"),
        **{**common, "expected": {**common["expected"], "pnl": str(ours_pnl)},
           "found": {**common["found"], "profit": str(pnl.to_cents(theirs.profit)),
                     "price_current": str(theirs.price_current)}})]


def unknown_position(theirs: BrokerPosition, magic: int,
                     in_flight: Mapping[str, int]) -> Finding:
    """A broker position no row of ours has: ours by magic -> adopt (unless its order is being
    sent right now: its sender records it); another magic -> report only."""
    found = broker_view(theirs)
    if theirs.magic != magic:
        return Finding("foreign", INFO, True, (
            f"position {theirs.ticket} ({theirs.side.value} {theirs.volume} {theirs.symbol}, "
            f"magic {theirs.magic}) is not ours: reported, never touched"),
            ticket=theirs.ticket, found=found)
    if theirs.client_id and theirs.client_id in in_flight:
        return Finding("order_in_flight", INFO, True, (
            f"position {theirs.ticket} belongs to order {in_flight[theirs.client_id]}, which "
            "is being sent now: left to its sender"), ticket=theirs.ticket, found=found)
    return Finding("adopted", WARNING, True, (
        f"position {theirs.ticket} ({theirs.side.value} {theirs.volume} {theirs.symbol}) "
        "carries our magic but was missing here: adopted from the broker's facts"),
        ticket=theirs.ticket, found=found, fix=True)


@dataclass(frozen=True)
class ClosedMoney:
    """A closed position's money as we recorded it."""

    id: int
    ticket: int
    gross: Decimal
    net: Decimal
    entry_time: datetime


def compare_closed(ours: ClosedMoney, deals: Iterable[Any], tolerance: Decimal) -> Finding | None:
    """Our closed position's P/L against the broker's deals of it (every deal, opening and
    closing). Gross differs -> unsafe; only the costs differ (deals imported late or never)
    -> safe: the costs are taken from the deals."""
    deals = list(deals)
    broker_gross = sum((d.profit for d in deals), Decimal("0"))
    broker_net = sum((d.profit + d.commission + d.swap + d.fee for d in deals), Decimal("0"))
    expected = {"position": ours.id, "gross": str(ours.gross), "net": str(ours.net)}
    found = {"gross": str(broker_gross), "net": str(broker_net),
             "deals": [d.ticket for d in deals]}
    common = {"ticket": ours.ticket, "position_id": ours.id, "expected": expected,
              "found": found}
    if abs(broker_gross - ours.gross) > tolerance:
        return Finding("pnl", CRITICAL, False, (
            f"closed position {ours.id}: gross P/L {ours.gross} here, {broker_gross} at the "
            f"broker (tolerance {tolerance})"), **common)
    if abs(broker_net - ours.net) > tolerance:
        return Finding("costs", WARNING, True, (
            f"closed position {ours.id}: net P/L {ours.net} here, {broker_net} at the broker: "
            "the broker's commission and swap recorded"), fix=True, **common)
    return None
