"""The Celery side of the cycle: which accounts a bar close concerns, the fan-out of one
``trading.cycle`` task per account, and the beat schedules (docs/auto-trading.md, "Schedule
and workers").

Idempotency is not this module's job and it does not try: a late, repeated or doubled fan-out
(two beats, a redelivered ``run_cycles``) queues the same (account, bar) cycles again, and each
of them is a no-op once the bar is processed (the cycle's account lock + the ``Signal``
unique constraint per account, model, symbol and bar + ``order_place``'s key). That is what
makes the fan-out safe to retry blindly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import AccountStatus, Broker, TradingAccount
from mlops.models import MLModel, ModelStatus
from trading.cycle import schedule

logger = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    """What one fan-out queued: the bar close, the accounts, and the accounts left out."""

    timeframe: str
    bar_close: datetime
    drill: bool
    queued: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"timeframe": self.timeframe, "bar_close": self.bar_close.isoformat(),
                "drill": self.drill, "queued": self.queued,
                "skipped": {str(k): v for k, v in self.skipped.items()}}


def _strategy_defaults() -> tuple[str, str]:
    """Symbol and timeframe of an account whose strategy settings row does not exist yet (the
    cycle creates it on first use with these same field defaults)."""
    from trading.models import StrategySettings

    meta = StrategySettings._meta
    return meta.get_field("symbol").default, meta.get_field("timeframe").default


def cycle_accounts(timeframe: str) -> list[tuple[int, str]]:
    """(account id, broker) of every ACTIVE account that trades ``timeframe`` and whose
    symbol/timeframe has an active model, by id. Two queries whatever the number of accounts."""
    timeframe = timeframe.upper()
    series = set(MLModel.objects.filter(status=ModelStatus.ACTIVE, timeframe=timeframe)
                 .values_list("instrument__symbol", "timeframe"))
    if not series:
        return []
    default_symbol, default_timeframe = _strategy_defaults()
    rows = (TradingAccount.objects.filter(status=AccountStatus.ACTIVE).order_by("pk")
            .values_list("pk", "broker", "strategy_settings__symbol",
                         "strategy_settings__timeframe"))
    return [(pk, broker) for pk, broker, symbol, tf in rows
            if ((symbol or default_symbol).upper(), (tf or default_timeframe).upper())
            in series]


def cycles_dispatch(timeframe: str, *, at: datetime | None = None,
                    settle_seconds: int = schedule.SETTLE_SECONDS,
                    queue: str | None = None) -> DispatchReport:
    """Queue ``trading.cycle(account_id, bar_close_iso)`` for every account of ``timeframe``.

    Live (``at`` None): the bar is the latest one closed by now; each cycle starts
    ``settle_seconds`` after its close and expires when the next bar closes. A drill (``at``
    given: a fast-forwarded or past clock) runs the paper accounts as of the bar closed at
    ``at`` right away (their broker's clock is ``at``) and leaves live accounts out: their
    clock is the market's. ``queue`` overrides the route (tests use private queues).
    """
    from trading.tasks import cycle as cycle_task  # tasks import services, not the reverse

    timeframe = timeframe.upper()
    now = timezone.now()
    drill = at is not None
    bar_close = schedule.bar_close_at_or_before(at if drill else now, timeframe)
    if drill:
        eta, expires = None, now + schedule.period(timeframe)
    else:
        eta, expires = schedule.cycle_window(bar_close, timeframe, settle_seconds)
    report = DispatchReport(timeframe, bar_close, drill)
    for account_id, broker in cycle_accounts(timeframe):
        if drill and broker != Broker.PAPER:
            report.skipped[account_id] = "a drill clock runs paper accounts only"
            continue
        options: dict[str, Any] = {"eta": eta, "expires": expires}
        if queue:
            options["queue"] = queue
        args = (account_id, bar_close.isoformat())
        # on_commit: a fan-out inside a transaction never queues for a rolled-back state.
        transaction.on_commit(lambda a=args, o=options, d=drill:
                              cycle_task.apply_async(a, {"drill": d}, **o))
        report.queued.append(account_id)
    logger.info("cycle %s bar close %s: %d queued, %d skipped", timeframe,
                bar_close.isoformat(), len(report.queued), len(report.skipped))
    return report


def cycle_run_for_bar(account_id: int, bar_close_iso: str, *, drill: bool = False):
    """The body of the ``trading.cycle`` task: run the account's cycle for the bar that closed
    at ``bar_close_iso``. A drill runs on that clock (paper accounts); live runs on the
    market's clock, which the task's ``expires`` keeps within the same bar."""
    from trading.cycle.run import cycle_run

    bar_close = datetime.fromisoformat(bar_close_iso)
    if bar_close.tzinfo is None:
        raise ValueError(f"bar close must be timezone-aware: {bar_close_iso}")
    return cycle_run(account_id, at=bar_close if drill else None)


# --- Beat schedules --------------------------------------------------------------------------

def cycle_schedules_ensure(periodic_task_model=None, crontab_model=None,
                           ) -> list[dict[str, Any]]:
    """(Re)create the beat schedules of :data:`schedule.SCHEDULES`; idempotent.

    A missing row is created; an existing one is put back on its crontab, task and kwargs
    while its ``enabled`` flag is kept (an operator who disabled a schedule in the admin keeps
    it disabled). Takes the model classes so the data migration can pass its historical ones.
    Returns one ``{"name", "task", "crontab", "action"}`` per schedule.
    """
    if periodic_task_model is None or crontab_model is None:
        from django_celery_beat.models import CrontabSchedule, PeriodicTask

        periodic_task_model, crontab_model = PeriodicTask, CrontabSchedule
    results = []
    with transaction.atomic():
        for spec in schedule.SCHEDULES:
            results.append(_ensure_one(spec, periodic_task_model, crontab_model))
    return results


def _ensure_one(spec: schedule.ScheduleSpec, periodic_task_model, crontab_model,
                ) -> dict[str, Any]:
    import json

    crontab, _ = crontab_model.objects.get_or_create(
        minute=spec.minute, hour=spec.hour, day_of_week=spec.day_of_week,
        day_of_month="*", month_of_year="*", timezone=spec.timezone)
    wanted = {"task": spec.task, "crontab": crontab, "interval": None, "clocked": None,
              "solar": None, "kwargs": json.dumps(spec.kwargs, sort_keys=True),
              "args": "[]", "expire_seconds": spec.expire_seconds,
              "description": spec.description, "one_off": False}
    task = periodic_task_model.objects.select_for_update().filter(name=spec.name).first()
    label = (f"{spec.minute} {spec.hour} * * {spec.day_of_week} ({spec.timezone})")
    if task is None:
        periodic_task_model.objects.create(name=spec.name, enabled=True, **wanted)
        action = "created"
    else:
        changed = [k for k, v in wanted.items() if _field(task, k) != _normal(v)]
        for key in changed:
            setattr(task, key, wanted[key])
        if changed:
            task.save()
        action = "updated" if changed else "unchanged"
    return {"name": spec.name, "task": spec.task, "crontab": label, "action": action}


def _field(task, key: str):
    value = getattr(task, key)
    if key == "kwargs":
        import json

        return json.dumps(json.loads(value or "{}"), sort_keys=True)
    return value.pk if hasattr(value, "pk") else value


def _normal(value):
    return value.pk if hasattr(value, "pk") else value
