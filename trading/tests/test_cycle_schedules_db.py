"""The beat schedules as django-celery-beat rows: created by the data migration, repaired by
``cycle_schedules`` (idempotent, keeps an operator's "disabled"), read by the database
scheduler; the kill-switch expiry task and command; the cycle tasks' delivery options."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from nusatrade.celery import app
from trading.cycle import schedule
from trading.cycle.dispatch import cycle_schedules_ensure
from trading.models import KillSwitch
from trading.services.killswitches import kill_switch_engage
from trading.tasks import cycle, expire_kill_switches, run_cycles

NAMES = sorted(spec.name for spec in schedule.SCHEDULES)


@pytest.fixture
def migrated(db):
    """The data migration's rows. Applied here as ``migrate`` applied it: a transactional
    test elsewhere in the run ends with a flush that removes them."""
    from importlib import import_module

    from django.apps import apps

    import_module("trading.migrations.0006_cycle_schedules").create_schedules(apps, None)


def ours():
    return PeriodicTask.objects.filter(name__in=NAMES).select_related("crontab")


def test_the_migration_created_every_schedule_on_its_crontab(migrated):
    rows = {task.name: task for task in ours()}
    assert sorted(rows) == NAMES
    d1 = rows["trading cycle D1"]
    assert (d1.task, json.loads(d1.kwargs), d1.enabled) == (
        "trading.run_cycles", {"timeframe": "D1", "settle_seconds": 5}, True)
    assert (d1.crontab.minute, d1.crontab.hour, d1.crontab.day_of_week,
            str(d1.crontab.timezone)) == ("0", "17", "1-5", "America/New_York")
    h1 = rows["trading cycle H1"]
    assert (h1.crontab.minute, h1.crontab.hour, str(h1.crontab.timezone)) == ("0", "*", "UTC")
    assert rows["kill switches expire"].task == "trading.expire_kill_switches"


def test_ensure_is_idempotent_and_repairs_an_edited_or_deleted_schedule(migrated):
    assert {r["action"] for r in cycle_schedules_ensure()} == {"unchanged"}
    h1 = PeriodicTask.objects.get(name="trading cycle H1")
    h1.kwargs = json.dumps({"timeframe": "H4"})
    h1.crontab = CrontabSchedule.objects.create(minute="7", hour="*")
    h1.enabled = False                      # an operator paused it: that choice is kept
    h1.save()
    PeriodicTask.objects.filter(name="trading cycle D1").delete()
    actions = {r["name"]: r["action"] for r in cycle_schedules_ensure()}
    assert actions == {"trading cycle H1": "updated", "trading cycle D1": "created",
                       "trading cycle H4": "unchanged", "kill switches expire": "unchanged"}
    h1.refresh_from_db()
    assert (json.loads(h1.kwargs)["timeframe"], h1.crontab.minute, h1.enabled) == ("H1", "0",
                                                                                   False)
    assert ours().count() == 4 and PeriodicTask.objects.filter(name__in=NAMES).count() == 4


def test_the_command_reports_each_schedule_and_json(migrated):
    PeriodicTask.objects.filter(name="trading cycle H4").delete()
    out = StringIO()
    call_command("cycle_schedules", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert {r["name"]: r["action"] for r in rows}["trading cycle H4"] == "created"
    out = StringIO()
    call_command("cycle_schedules", stdout=out)
    assert out.getvalue().splitlines()[-1] == "4 schedules, 0 created or updated"


def test_beat_uses_the_database_scheduler():
    assert django_settings.CELERY_BEAT_SCHEDULER == (
        "django_celery_beat.schedulers:DatabaseScheduler")
    assert app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"


@pytest.mark.parametrize("task", [run_cycles, cycle, expire_kill_switches])
def test_cycle_tasks_ack_late_survive_a_lost_worker_and_go_to_the_trading_queue(task):
    assert task.acks_late and task.reject_on_worker_lost
    assert app.amqp.router.route({}, task.name)["queue"].name == "trading"


@pytest.mark.django_db
def test_expiry_releases_only_the_switches_that_are_due(capsys):
    from trading.tests import orderpaths

    account = orderpaths.paper_account()
    other = orderpaths.paper_account(name="paper 2")
    due = kill_switch_engage("account", account_id=account.pk, reason="daily loss",
                             actor="system:risk", rule="daily_loss",
                             release_at=timezone.now() - timedelta(minutes=1)).switch
    later = kill_switch_engage("account", account_id=other.pk, reason="daily loss",
                               actor="system:risk", rule="daily_loss",
                               release_at=timezone.now() + timedelta(hours=3)).switch
    assert expire_kill_switches.apply().get() == {"released": [due.pk]}
    out = StringIO()
    call_command("expire_kill_switches", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"released": []}
    assert list(KillSwitch.objects.filter(engaged=True)) == [later]
    due.refresh_from_db()
    assert due.released_by == "system:schedule" and not due.engaged
