"""How reconciliation is run and watched: the ``reconcile`` command (``--json``, exit codes),
the Celery task on its queue and on a real worker, the nightly beat schedule, ``reconcile_all``,
the monitoring selector, the read-only admin, and two runs racing on real PostgreSQL."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_otp.oath import TOTP

from accounts.models import AccountStatus, Role
from accounts.services import totp_device_create, user_create
from nusatrade.celery import app
from trading.brokers.base import OrderSide
from trading.management.commands import reconcile as command
from trading.models import (
    FindingKind,
    KillSwitch,
    Position,
    ReconciliationItem,
    ReconciliationRun,
    ReconciliationStatus,
)
from trading.reconciliation import service
from trading.reconciliation.selectors import reconciliation_last_success
from trading.reconciliation.service import reconcile_account, reconcile_all
from trading.services import paper_broker_at
from trading.tasks import reconcile
from trading.tests import orderpaths
from trading.tests.reconcile_envs import magic

D = Decimal
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(autouse=True)
def quiet_alerts(monkeypatch):
    from trading.services import killswitches

    sent: list[str] = []
    monkeypatch.setattr(killswitches, "alert_send", lambda kind, *a, **k: sent.append(kind))
    monkeypatch.setattr(service, "alert_send", lambda kind, *a, **k: sent.append(kind))
    return sent


@pytest.fixture
def paper(db):
    orderpaths.store_bars()
    return orderpaths.paper_account()


@pytest.fixture
def at_broker(paper):
    """The paper broker on the fixed weekday clock the reconciliation reads at."""
    def broker(*args, **kwargs):
        return paper_broker_at(paper, orderpaths.AT)
    return broker


def adoptable(account, volume: str = "0.02", client_id: str = "NTadoptme0001") -> int:
    """Our position at the broker (our magic) that the database does not know."""
    outcome = paper_broker_at(account, orderpaths.AT).open_by_hand(
        "XAUUSD", OrderSide.BUY, D(volume), magic=magic(), comment=client_id)
    return int(outcome.position_ticket)


def partly_closed(account) -> None:
    """Ours in the database and at the broker, but the broker closed half of it: unsafe."""
    from trading.services import manual_key, order_place

    broker = paper_broker_at(account, orderpaths.AT)
    order = order_place(account.pk, idempotency_key=manual_key(account.pk, "half"),
                        symbol="XAUUSD", side="BUY", volume="0.02", broker=broker).order
    ticket = Position.objects.get(opening_order=order).broker_ticket
    broker.close_position(ticket, client_id="NThalf000001", magic=magic(), volume=D("0.01"))


@pytest.fixture
def on_paper_clock(monkeypatch):
    """Commands and tasks build their broker with ``broker_for``: pin the paper clock to AT
    (the tests must not depend on the weekday they run on). The command module is imported at
    the top of this file, so what it bound at import is the real service, restored after."""
    real = service.reconcile_account

    def at_fixed_clock(account_id, *, now=None, broker=None, triggered_by="system"):
        from accounts.models import TradingAccount

        account = TradingAccount.objects.get(pk=account_id)
        return real(account_id, now=orderpaths.AT, triggered_by=triggered_by,
                    broker=broker or paper_broker_at(account, orderpaths.AT))

    monkeypatch.setattr(service, "reconcile_account", at_fixed_clock)
    monkeypatch.setattr(command, "reconcile_account", at_fixed_clock)
    monkeypatch.setattr(command, "reconcile_all", lambda **kw: [
        at_fixed_clock(pk, triggered_by=kw.get("triggered_by", "system"))
        for pk in service.TradingAccount.objects.exclude(status=AccountStatus.CLOSED)
        .order_by("pk").values_list("pk", flat=True)])


# --- the command ------------------------------------------------------------------------------
def test_the_command_prints_the_run_as_json_and_exits_zero_when_fixed(paper, on_paper_clock,
                                                                       capsys):
    ticket = adoptable(paper)
    call_command("reconcile", "--account", str(paper.pk), "--json")
    [run] = json.loads(capsys.readouterr().out)
    assert run["account"] == paper.pk and run["status"] == "fixed" and run["fixed"] == 1
    [item] = run["items"]
    assert (item["kind"], item["action"], item["broker_ticket"]) == ("adopted", "fixed", ticket)
    assert ReconciliationRun.objects.get(pk=run["run"]).triggered_by == "command"


def test_the_command_exits_non_zero_when_a_mismatch_could_not_be_fixed(paper, on_paper_clock,
                                                                       capsys):
    partly_closed(paper)
    with pytest.raises(CommandError, match=r"1 of 1 run\(s\) ended mismatch"):
        call_command("reconcile", "--account", str(paper.pk))
    out = capsys.readouterr().out
    assert "mismatch" in out and "[kill_switch] volume" in out
    assert KillSwitch.objects.get(account=paper).rule == "reconciliation"


def test_the_command_exits_non_zero_when_the_broker_cannot_be_reached(paper, capsys):
    paper.broker = "mt5"
    paper.save()                                      # MT5 is not enabled on this deployment
    with pytest.raises(CommandError, match=r"ended failed.*MT5_ENABLED"):
        call_command("reconcile", "--account", str(paper.pk))
    run = ReconciliationRun.objects.get(account=paper)
    assert run.status == ReconciliationStatus.FAILED and run.findings == 0


def test_the_command_refuses_an_unknown_account(db):
    with pytest.raises(CommandError, match="no trading account 999"):
        call_command("reconcile", "--account", "999")


def test_the_command_without_account_reconciles_every_open_account(paper, on_paper_clock,
                                                                   capsys):
    second = orderpaths.paper_account(name="paper 2")
    closed = orderpaths.paper_account(name="paper 3")
    closed.status = AccountStatus.CLOSED
    closed.save()
    call_command("reconcile", "--json")
    runs = json.loads(capsys.readouterr().out)
    assert sorted(r["account"] for r in runs) == [paper.pk, second.pk]
    assert {r["status"] for r in runs} == {"clean"}


# --- reconcile_all, the task, the schedule ------------------------------------------------------
def test_reconcile_all_goes_on_when_one_account_fails(paper):
    mt5 = orderpaths.paper_account(name="mt5 one")
    mt5.broker = "mt5"
    mt5.save()                                        # MT5 is not enabled here: it fails
    runs = {r.account_id: r for r in reconcile_all(now=orderpaths.AT)}
    assert runs[mt5.pk].status == ReconciliationStatus.FAILED
    assert "MT5_ENABLED" in runs[mt5.pk].error
    assert runs[paper.pk].status == ReconciliationStatus.CLEAN


def test_the_task_runs_the_service_and_is_routed_to_the_maintenance_queue(paper,
                                                                          on_paper_clock):
    adoptable(paper)
    result = reconcile.apply(args=[paper.pk]).get()
    [run] = result["runs"]
    assert run["status"] == "fixed" and run["account"] == paper.pk
    assert ReconciliationRun.objects.get(pk=run["run"]).triggered_by == "task:trading.reconcile"
    route = app.amqp.router.route({}, "trading.reconcile")
    assert route["queue"].name == "maintenance"


def test_the_nightly_schedule_is_a_beat_periodic_task(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="trading.reconcile nightly")
    assert task.task == "trading.reconcile" and task.enabled
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == (
        "15", "21", "UTC")
    assert json.loads(task.args) == [] and task.queue in (None, "")


# --- monitoring -------------------------------------------------------------------------------
def test_last_success_counts_completed_runs_only(paper, at_broker):
    assert reconciliation_last_success() is None
    clean = reconcile_account(paper.pk, now=orderpaths.AT, broker=at_broker())
    ReconciliationRun.objects.create(account=paper, status=ReconciliationStatus.FAILED,
                                     triggered_by="t", as_of=orderpaths.AT,
                                     finished_at=clean.finished_at.replace(year=2030))
    ReconciliationRun.objects.create(account=paper, status=ReconciliationStatus.SKIPPED,
                                     triggered_by="t", as_of=orderpaths.AT,
                                     finished_at=clean.finished_at.replace(year=2031))
    assert reconciliation_last_success() == clean.finished_at
    assert reconciliation_last_success(paper.pk) == clean.finished_at
    assert reconciliation_last_success(paper.pk + 100) is None


# --- the admin --------------------------------------------------------------------------------
@pytest.fixture
def ops(db) -> Client:
    user = user_create("ops1", PASSWORD, roles=(Role.OPS,), staff=True, superuser=True)
    device = totp_device_create(user).device
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {
        "username": "ops1", "password": PASSWORD, "otp_device": device.persistent_id,
        "otp_token": f"{totp.token():0{device.digits}d}"})
    assert response.status_code == 302
    return client


def test_the_admin_lists_runs_and_shows_items_inline_read_only(paper, at_broker, ops):
    adoptable(paper)
    run = reconcile_account(paper.pk, now=orderpaths.AT, broker=at_broker())
    base = "/admin/trading/reconciliationrun/"
    listing = ops.get(f"{base}?status__exact=fixed").content.decode()
    assert f"{base}{run.pk}/change/" in listing
    page = ops.get(f"{base}{run.pk}/change/").content.decode()
    assert "carries our magic but was missing here" in page
    assert 'name="_save"' not in page                         # read-only: nothing to save
    assert ops.get(f"{base}add/").status_code == 403
    assert ops.post(f"{base}{run.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ReconciliationItem.objects.filter(run=run).count() == 1


# --- races and a real worker --------------------------------------------------------------------
@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_adopt_a_position_once(monkeypatch):
    """Two reconciliations of one account start together: the account lock lets one compare;
    the other records a skipped run (or, if it came second, a clean one). One position."""
    from trading.services import killswitches

    monkeypatch.setattr(killswitches, "alert_send", lambda *a, **k: None)
    monkeypatch.setattr(service, "alert_send", lambda *a, **k: None)
    orderpaths.store_bars()
    account = orderpaths.paper_account()
    ticket = adoptable(account)
    barrier = threading.Barrier(2)
    runs: list[ReconciliationRun] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            runs.append(reconcile_account(account.pk, now=orderpaths.AT,
                                          broker=paper_broker_at(account, orderpaths.AT)))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(r.status for r in runs) in (["fixed", "skipped"], ["clean", "fixed"])
    assert Position.objects.filter(broker_ticket=ticket).count() == 1
    assert ReconciliationItem.objects.filter(kind=FindingKind.ADOPTED).count() == 1


@pytest.mark.services("celery")
def test_the_task_on_a_real_worker_adopts_and_a_second_run_is_clean(celery_worker_process):
    """The worker reads the broker at the real clock (the paper book catches up from AT)."""
    orderpaths.store_bars()
    account = orderpaths.paper_account()
    ticket = adoptable(account)
    first = reconcile.apply_async(args=[account.pk], queue=celery_worker_process).get(
        timeout=120)
    second = reconcile.apply_async(args=[account.pk], queue=celery_worker_process).get(
        timeout=120)
    assert [r["status"] for r in first["runs"] + second["runs"]] == ["fixed", "clean"]
    assert Position.objects.get(broker_ticket=ticket).account == account
