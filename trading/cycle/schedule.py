"""When the cycle runs: the beat schedules and the bar-close arithmetic (pure: no Django).

Design ("a few seconds after each bar close"): beat fires ``trading.run_cycles(timeframe)``
on a crontab AT the bar close (crontab's resolution is a minute); the fan-out then queues one
``trading.cycle(account_id, bar_close_iso)`` per account with ``eta = bar close +
SETTLE_SECONDS`` (the live bar fetch has stored the bar by then) and ``expires = the next bar
close``: a cycle that has not started when the next bar closes is dropped by the worker rather
than replayed late in a burst (the next bar's cycle takes over). Beat stays a dumb clock:
schedules are plain django-celery-beat rows, editable in the admin (time, enabled, kwargs such
as ``settle_seconds``).

Grids (the repo's ``ny17`` convention, ``marketdata.calendar``): H1 closes on every UTC hour;
D1 closes at the forex day close, 17:00 New York (22:00 UTC in winter, 21:00 UTC in summer,
DST-aware through the crontab's time zone); H4 closes every 4 hours from that day start
(01, 05, 09, 13, 17, 21 New York). The cycle itself decides whether the bar that closed was
open market (weekends and holidays do nothing), so the crontabs do not encode the forex week
beyond "D1 closes Monday to Friday".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

FOREX_DAY_ZONE = "America/New_York"   # marketdata.calendar.FOREX_DAY_ZONE (ny17)
FOREX_DAY_CLOSE_HOUR = 17             # marketdata.calendar.FOREX_DAY_CLOSE_HOUR
SETTLE_SECONDS = 5
RUN_CYCLES_TASK = "trading.run_cycles"
CYCLE_TASK = "trading.cycle"
EXPIRE_TASK = "trading.expire_kill_switches"
SCHEDULED_TIMEFRAMES = ("H1", "H4", "D1")
H4_CLOSE_HOURS_NY = (1, 5, 9, 13, 17, 21)  # 17:00 New York + 4 h steps

_PERIODS = {"H1": timedelta(hours=1), "H4": timedelta(hours=4), "D1": timedelta(days=1)}


@dataclass(frozen=True)
class ScheduleSpec:
    """One beat schedule: a ``PeriodicTask`` row on a ``CrontabSchedule``."""

    name: str
    task: str
    description: str
    minute: str = "0"
    hour: str = "*"
    day_of_week: str = "*"
    timezone: str = "UTC"
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Beat's message itself expires: a run_cycles queued behind an outage is dropped.
    expire_seconds: int | None = None


def cycle_schedule_name(timeframe: str) -> str:
    return f"trading cycle {timeframe}"


SCHEDULES: tuple[ScheduleSpec, ...] = (
    ScheduleSpec(cycle_schedule_name("H1"), RUN_CYCLES_TASK,
                 "Every H1 bar close (UTC hour): one cycle per account with an active H1 model.",
                 kwargs={"timeframe": "H1", "settle_seconds": SETTLE_SECONDS},
                 expire_seconds=50 * 60),
    ScheduleSpec(cycle_schedule_name("H4"), RUN_CYCLES_TASK,
                 "Every H4 bar close on the forex-day grid (17:00 New York + 4 h steps).",
                 hour=",".join(map(str, H4_CLOSE_HOURS_NY)), timezone=FOREX_DAY_ZONE,
                 kwargs={"timeframe": "H4", "settle_seconds": SETTLE_SECONDS},
                 expire_seconds=3 * 3600),
    ScheduleSpec(cycle_schedule_name("D1"), RUN_CYCLES_TASK,
                 "Every D1 bar close: the forex day close, 17:00 New York, Monday to Friday.",
                 hour=str(FOREX_DAY_CLOSE_HOUR), day_of_week="1-5", timezone=FOREX_DAY_ZONE,
                 kwargs={"timeframe": "D1", "settle_seconds": SETTLE_SECONDS},
                 expire_seconds=12 * 3600),
    ScheduleSpec("kill switches expire", EXPIRE_TASK,
                 "Every minute: release the kill switches whose release_at has passed "
                 "(the daily-loss stop at the next trading day).",
                 minute="*", expire_seconds=50),
)


def period(timeframe: str) -> timedelta:
    """The scheduled length of a ``timeframe`` bar; ValueError naming the scheduled ones."""
    try:
        return _PERIODS[timeframe.upper()]
    except (KeyError, AttributeError):
        raise ValueError(f"timeframe {timeframe!r} has no cycle schedule; use one of "
                         f"{', '.join(SCHEDULED_TIMEFRAMES)}") from None


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError(f"the time must be timezone-aware (UTC), not {now.isoformat()}")
    return now.astimezone(UTC)


def bar_close_at_or_before(now: datetime, timeframe: str) -> datetime:
    """The latest bar close of ``timeframe`` at or before ``now`` (UTC), on the grids above.

    >>> bar_close_at_or_before(datetime(2026, 11, 25, 10, 0, 3, tzinfo=UTC), "H1")
    datetime.datetime(2026, 11, 25, 10, 0, tzinfo=datetime.timezone.utc)
    """
    now = _aware(now)
    tf = timeframe.upper()
    period(tf)
    if tf == "H1":
        return now.replace(minute=0, second=0, microsecond=0)
    # H4 and D1: the stored bars' own grid (``session_bins``, the resampler's and features'
    # bins), so the schedule, the freshness check and the bars never disagree. numpy and
    # pandas are imported here: django.setup() imports this module.
    import numpy as np

    from marketdata import calendar

    stamp = calendar.to_utc_timestamp(now)
    opens, _ = calendar.session_bins(np.array([stamp.as_unit("ns").value], dtype="int64"),
                                     int(period(tf).total_seconds()) * 1_000_000_000,
                                     calendar.DEFAULT_DAY_BOUNDARY)
    return calendar.utc_index(opens)[0].to_pydatetime().astimezone(UTC)


def cycle_window(bar_close: datetime, timeframe: str,
                 settle_seconds: int = SETTLE_SECONDS) -> tuple[datetime, datetime]:
    """(eta, expires) of the cycle tasks of the bar that closed at ``bar_close``: start
    ``settle_seconds`` after the close, drop the task if the next bar has closed meanwhile."""
    if settle_seconds < 0:
        raise ValueError(f"settle_seconds must be >= 0, not {settle_seconds}")
    bar_close = _aware(bar_close)
    return (bar_close + timedelta(seconds=settle_seconds),
            bar_close + period(timeframe))
