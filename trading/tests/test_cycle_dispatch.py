"""The fan-out of a bar close: which accounts get a cycle, with which (eta, expires), and the
drill clock (paper accounts only). The cycles themselves are trading.tests.test_cycle_run's;
real workers and beat are test_cycle_workers'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountStatus, TradingAccount
from mlops.models import MLModel, ModelStatus
from trading.cycle import dispatch
from trading.cycle.dispatch import cycle_accounts, cycles_dispatch
from trading.models import StrategySettings
from trading.tests import orderpaths

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """The cycle tasks the fan-out queued: (args, kwargs, options), in order."""
    from trading import tasks

    calls: list[tuple] = []
    monkeypatch.setattr(tasks.cycle, "apply_async",
                        lambda args, kwargs, **options: calls.append((args, kwargs, options)))
    return calls


def active(model: MLModel) -> MLModel:
    MLModel.objects.filter(pk=model.pk).update(status=ModelStatus.ACTIVE)
    return model


def account(name: str, *, timeframe: str | None = None, status: str = AccountStatus.ACTIVE,
            broker: str = "paper") -> TradingAccount:
    if broker == "paper":
        acc = orderpaths.paper_account(name=name)
    else:
        from trading.services import account_create

        acc = account_create("trader", name=name, broker=broker)
    TradingAccount.objects.filter(pk=acc.pk).update(status=status)
    if timeframe:
        StrategySettings.objects.filter(account=acc).update(timeframe=timeframe)
    else:   # an account older than strategy settings: the cycle creates them on first use
        StrategySettings.objects.filter(account=acc).delete()
    return acc


def test_only_active_accounts_of_a_series_with_an_active_model_are_chosen():
    active(orderpaths.ml_model())                           # XAUUSD H1
    default = account("default settings")                   # no row yet: XAUUSD H1 defaults
    explicit = account("explicit H1", timeframe="H1")
    account("paused", status=AccountStatus.PAUSED)
    account("closed", status=AccountStatus.CLOSED)
    four_hourly = account("H4 trader", timeframe="H4")      # no active H4 model
    assert [pk for pk, _ in cycle_accounts("H1")] == [default.pk, explicit.pk]
    assert cycle_accounts("h4") == []
    h4 = orderpaths.ml_model("rf h4")
    MLModel.objects.filter(pk=h4.pk).update(timeframe="H4", status=ModelStatus.ACTIVE)
    assert cycle_accounts("H4") == [(four_hourly.pk, "paper")]


def test_no_active_model_means_no_cycle():
    orderpaths.ml_model()                                   # a candidate, not active
    account("a")
    assert cycle_accounts("H1") == []


def test_a_live_fan_out_starts_after_the_settle_and_expires_at_the_next_close(
        queued, django_capture_on_commit_callbacks, monkeypatch):
    active(orderpaths.ml_model())
    a, b = account("a"), account("b")
    now = datetime(2026, 11, 25, 10, 0, 2, tzinfo=UTC)
    monkeypatch.setattr(dispatch.timezone, "now", lambda: now)
    with django_capture_on_commit_callbacks(execute=True):
        report = cycles_dispatch("H1", settle_seconds=7)
    close = datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert report.as_dict() == {"timeframe": "H1", "bar_close": close.isoformat(),
                                "drill": False, "queued": [a.pk, b.pk], "skipped": {}}
    assert queued == [((pk, close.isoformat()), {"drill": False},
                       {"eta": close + timedelta(seconds=7), "expires": close
                        + timedelta(hours=1)}) for pk in (a.pk, b.pk)]


def test_nothing_is_queued_before_the_transaction_commits(queued,
                                                          django_capture_on_commit_callbacks):
    active(orderpaths.ml_model())
    account("a")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cycles_dispatch("H1")
    assert queued == [] and len(callbacks) == 1


def test_a_drill_runs_paper_accounts_now_on_the_given_clock_and_skips_live_ones(
        queued, django_capture_on_commit_callbacks):
    active(orderpaths.ml_model())
    paper = account("paper")
    live = account("live", broker="mt5")
    at = datetime(2024, 3, 6, 10, 0, 30, tzinfo=UTC)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        report = cycles_dispatch("H1", at=at, queue="private")
    assert report.drill and report.queued == [paper.pk]
    assert report.skipped == {live.pk: "a drill clock runs paper accounts only"}
    [(args, kwargs, options)] = queued
    assert args == (paper.pk, "2024-03-06T10:00:00+00:00") and kwargs == {"drill": True}
    assert options["eta"] is None and options["queue"] == "private"
    assert before + timedelta(hours=1) <= options["expires"] <= timezone.now() + timedelta(
        hours=1)


def test_the_command_queues_and_reports(queued, django_capture_on_commit_callbacks):
    import json
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    active(orderpaths.ml_model())
    paper = account("paper")
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_cycles", "--timeframe", "H1", "--at", "2024-03-06T10:00Z", "--json",
                     stdout=out)
    assert json.loads(out.getvalue())["queued"] == [paper.pk] and len(queued) == 1
    with pytest.raises(CommandError, match="--at: give a time zone"):
        call_command("run_cycles", "--timeframe", "H1", "--at", "2024-03-06T10:00")
    with pytest.raises(CommandError, match="--at: not an ISO time: 'soon'"):
        call_command("run_cycles", "--timeframe", "H1", "--at", "soon")
