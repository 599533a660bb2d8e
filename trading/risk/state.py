"""Risk state and outcomes: small immutable values the rule functions read and return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

# A halt with this end lasts until someone releases it (live) or the period ends (backtest).
FOREVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Halt:
    """A rule stopped new entries at ``time`` until ``until`` (``FOREVER``: until released)."""

    time: datetime
    rule: str
    reason: str
    until: datetime


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """Whether a new entry may open now; when not, the rule, why, and until when at least.

    ``until`` is the earliest time the same rule could allow an entry again (``None``: unknown,
    it depends on another event such as a position closing). Callers may skip candidates
    before it: the backtester does.
    """

    allowed: bool
    rule: str | None = None
    reason: str = ""
    until: datetime | None = None


ALLOWED = RiskDecision(True)


@dataclass(frozen=True)
class RiskState:
    """What the rules need to remember. Money values are floats: they only feed thresholds.

    ``day`` is the UTC day the daily counters belong to; ``equity`` the last equity seen at
    a trade close (or a refresh) and ``equity_peak`` its highest; ``recent`` the net results of the
    last closed trades (at most the kill-switch window), oldest first; ``open_positions`` one
    entry per open position (symbols may repeat when one position per symbol is off).
    """

    day: date | None = None
    trades_today: int = 0
    day_start_equity: float = 0.0
    daily_pnl: float = 0.0
    open_positions: tuple[str, ...] = ()
    equity: float = 0.0
    equity_peak: float = 0.0
    recent: tuple[float, ...] = ()
    loss_streak: int = 0
    halted_until: datetime | None = None
    halt_rule: str | None = None
    halt_reason: str = ""

    @classmethod
    def start(cls, equity: Decimal | float) -> RiskState:
        """A fresh state for an account holding ``equity``."""
        value = float(equity)
        return cls(day_start_equity=value, equity=value, equity_peak=value)

    def is_halted(self, now: datetime) -> bool:
        return self.halted_until is not None and now < self.halted_until

    def evolve(self, **changes: object) -> RiskState:
        """A copy with ``changes``: ``dataclasses.replace`` without its per-call field
        introspection (5x faster; the backtester evolves the state a few times per trade).
        Frozen dataclasses only guard ``__setattr__``; filling a new instance's ``__dict__``
        is safe and a test checks it matches ``replace``."""
        if not changes.keys() <= self.__dict__.keys():
            unknown = sorted(changes.keys() - self.__dict__.keys())
            raise TypeError(f"RiskState has no fields {unknown}")
        new = object.__new__(RiskState)
        new.__dict__.update(self.__dict__, **changes)
        return new


def next_utc_midnight(now: datetime) -> datetime:
    """The start of the UTC day after ``now`` (daily rules reset there)."""
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def utc_day(now: datetime) -> date:
    """The UTC calendar day of an aware ``now``."""
    return now.date() if now.tzinfo is UTC else now.astimezone(UTC).date()
