"""Disaster-recovery drills (docs/DISASTER_RECOVERY.md), each against the real services.

1. Database lost: back up, drop every table, restore, reconcile, verify nothing lost.
2. Server lost: restore from the S3 copy into a brand-new EMPTY database and an empty model
   directory, in a fresh process configured like a new machine.
3. Model artifact corrupted: refused at load, the model's kill switch engaged.
4. Redis unreachable while orders are placed, then back: no duplicate, no lost order.
5. Redis unreachable (a closed port, or a listener that never answers) during the real
   trading cycle of a paper account with an active model, then back: beat's publishes fail,
   the cycles run on PostgreSQL alone, and after recover_orders + reconcile every BUY/SELL
   decision has its one order (or its stated refusal), nothing in flight, nothing doubled.
"""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection

from mlops.tests.conftest import (  # noqa: F401 - fixtures
    artifacts_dir,
    sample_bars,
    stored_bars,
    trained_model,
)
from operations import dumps
from operations.services import backup_create
from operations.services.common import pg_target
from trading.models import KillSwitch, Order, Position
from trading.services import paper_broker_at, signal_order_place
from trading.tests import orderpaths

pytestmark = pytest.mark.slow
ROOT = orderpaths.ROOT


def trading_rows():
    """A paper account with a filled BUY order and its open position (committed)."""
    orderpaths.store_bars()
    account = orderpaths.paper_account()
    signal = orderpaths.buy_signal(account, orderpaths.ml_model())
    result = signal_order_place(signal.pk, broker=paper_broker_at(account, orderpaths.AT))
    assert result.order.status == "filled"
    return account


def snapshot() -> dict:
    return {"orders": list(Order.objects.order_by("pk").values()),
            "positions": list(Position.objects.order_by("pk").values())}


def db_counts(dbname: str | None = None) -> dict[str, int]:
    with pg_target().connect(dbname=dbname) as conn:
        return dumps.pg_counts(conn)


@pytest.mark.services("postgres")
def test_drill_database_lost_restore_reconcile_nothing_lost(backup_dirs, transactional_db):
    from trading.reconciliation.service import reconcile_account
    from trading.services.killswitches import kill_switch_release

    account = trading_rows()
    run = backup_create().run
    before, counts = snapshot(), db_counts()

    with pg_target().connect() as conn:  # the database is lost: every table gone
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    assert db_counts() == {}

    call_command("restore", run.local_path, "--yes", stdout=io.StringIO())

    assert snapshot() == before
    after = db_counts()
    assert after == {**counts, "accounts_auditentry": counts["accounts_auditentry"] + 2,
                     "trading_killswitch": counts["trading_killswitch"] + 1}
    switch = KillSwitch.objects.get(scope="global", engaged=True)
    # The admin's steps: reconcile against the broker, then release the switch.
    recon = reconcile_account(account.pk, broker=paper_broker_at(account, orderpaths.AT),
                              now=orderpaths.AT, triggered_by="drill")
    assert recon.status == "clean", (recon.status, recon.error)
    assert recon.db_open_positions == recon.broker_positions == 1
    kill_switch_release(switch.pk, actor="system:drill", reason="reconciled clean after restore")
    assert not KillSwitch.objects.filter(engaged=True).exists()


@pytest.mark.services("postgres")
def test_drill_server_lost_restore_from_s3_on_an_empty_database(backup_dirs, s3_settings,
                                                                transactional_db, tmp_path):
    trading_rows()
    run = backup_create(upload=True).run
    expected = run.manifest["row_counts"]
    drill_db = f"nt_backup_drill_{secrets.token_hex(4)}"
    target = pg_target()
    with target.connect(dbname="postgres") as admin:
        admin.execute(f'CREATE DATABASE "{drill_db}"')
    try:
        db = connection.settings_dict
        env = {**orderpaths.subprocess_env(),
               "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/"
                               f"{drill_db}",
               "BACKUP_DIR": str(tmp_path / "new-machine-backups"),
               "ARTIFACTS_DIR": str(tmp_path / "new-machine-artifacts"),
               "BACKUP_SCRATCH_DB_PREFIX": "nt_backup_scratch_",
               "BACKUP_S3_BUCKET": s3_settings.BACKUP_S3_BUCKET,
               "BACKUP_S3_PREFIX": s3_settings.BACKUP_S3_PREFIX,
               "BACKUP_S3_ENDPOINT_URL": s3_settings.BACKUP_S3_ENDPOINT_URL,
               "BACKUP_S3_ACCESS_KEY_ID": "testing",
               "BACKUP_S3_SECRET_ACCESS_KEY": "testing-secret", "NUSATRADE_ENV": "test"}
        restored = subprocess.run(
            [sys.executable, "manage.py", "restore", run.name, "--yes", "--json"], cwd=ROOT,
            env=env, capture_output=True, text=True, timeout=300)
        assert restored.returncode == 0, restored.stderr[-2000:]
        result = json.loads(restored.stdout)
        assert result["name"] == run.name and result["kill_switch"]
        assert db_counts(drill_db) == {
            **expected, "accounts_auditentry": expected["accounts_auditentry"] + 2,
            "trading_killswitch": expected["trading_killswitch"] + 1}
        for rel, meta in run.manifest["files"].items():
            if rel.startswith("artifacts/"):
                path = tmp_path / "new-machine-artifacts" / rel.removeprefix("artifacts/")
                assert dumps.sha256_file(path)[0] == meta["sha256"]
        migrated = subprocess.run([sys.executable, "manage.py", "migrate", "--check"],
                                  cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=120)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    finally:
        with target.connect(dbname="postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{drill_db}" WITH (FORCE)')


def test_drill_corrupted_model_file_refused_at_load_and_its_kill_switch_engaged(
        trained_model, artifacts_dir):  # noqa: F811 - fixtures
    from mlops.artifacts import ArtifactError, ArtifactIntegrityError
    from mlops.models import MLModel
    from mlops.services import clear_estimator_cache
    from mlops.services.live import prediction_make
    from trading.services.killswitches import engaged_for

    MLModel.objects.filter(pk=trained_model.pk).update(status="active")
    clear_estimator_cache()
    path = artifacts_dir / trained_model.artifact_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError):
        prediction_make("XAUUSD", "H1")
    switch = engaged_for("model", model_id=trained_model.pk)
    assert switch is not None and switch.engaged_by == "system:model_load"
    assert "refused at load" in switch.reason
    path.unlink()  # missing altogether: refused the same way, still one switch
    with pytest.raises(ArtifactError, match="missing"):
        prediction_make("XAUUSD", "H1")
    assert KillSwitch.objects.filter(model_id=trained_model.pk, engaged=True).count() == 1


OUTAGE = """
import json, sys
from datetime import datetime

import django

django.setup()

from trading.models import Signal
from trading.services import paper_broker_at, signal_order_place
from trading.tasks import place_order

first, second, at = int(sys.argv[1]), int(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
account = Signal.objects.select_related("account").get(pk=first).account
result = signal_order_place(first, broker=paper_broker_at(account, at))
try:  # what beat or the cycle would do for the next signal: publish to the broker (Redis)
    place_order.apply_async(args=[second])
    enqueued, error = True, ""
except Exception as exc:
    enqueued, error = False, type(exc).__name__
print(json.dumps({"status": result.order.status, "enqueued": enqueued, "error": error}))
"""


@pytest.mark.services("postgres", "redis")
def test_drill_redis_unreachable_while_placing_orders_then_back(transactional_db,
                                                                closed_port):
    orderpaths.store_bars()
    account = orderpaths.paper_account()
    model = orderpaths.ml_model()
    first = orderpaths.buy_signal(account, model)
    other = orderpaths.paper_account(username="trader2", name="paper 2")
    second = orderpaths.buy_signal(other, model)
    down = {**orderpaths.subprocess_env(), "REDIS_URL": f"redis://127.0.0.1:{closed_port}/0"}
    down.pop("CELERY_BROKER_URL", None)
    down.pop("CELERY_RESULT_BACKEND", None)
    during = subprocess.run([sys.executable, "-c", OUTAGE, str(first.pk), str(second.pk),
                             orderpaths.AT.isoformat()], cwd=ROOT, env=down,
                            capture_output=True, text=True, timeout=120)
    assert during.returncode == 0, during.stderr[-2000:]
    outcome = json.loads(during.stdout.splitlines()[-1])
    # The order path needs only PostgreSQL: it fills. The next signal cannot be queued: a clean
    # error for the caller, and the signal row stays in the database to be placed later.
    assert outcome["status"] == "filled" and outcome["enqueued"] is False and outcome["error"]

    # Redis is back: the first signal again (a redelivered task) places nothing new; the
    # second, re-issued, is placed once.
    again = subprocess.run(orderpaths.placer_command(first.pk), cwd=ROOT,
                           env=orderpaths.subprocess_env(), capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    repeat = json.loads(again.stdout.splitlines()[-1])
    assert repeat["created"] is False and repeat["sent"] is False
    later = signal_order_place(second.pk, broker=paper_broker_at(other, orderpaths.AT))
    assert later.order.status == "filled", later.message
    orders = Order.objects.all()
    assert sorted(orders.values_list("signal_id", flat=True)) == sorted([first.pk, second.pk])
    assert orders.filter(status="filled").count() == 2
    assert Position.objects.count() == 2


@pytest.mark.services("postgres")
def test_drill_broker_connection_lost_mid_trade_recovered_and_reconciled(transactional_db):
    """The MT5 adapter on the simulator: the order executes but the answer is lost (no
    connection). Recovery finds it by client id, a retry after reconnecting sends nothing, and
    reconciliation comes out clean: one broker order, one position."""
    from trading.brokers import retcodes
    from trading.models import OrderStatus
    from trading.reconciliation.service import reconcile_account
    from trading.services import manual_key, order_place, order_recover
    from trading.tests.conftest import make_account
    from trading.tests.mt5_helpers import make

    account = make_account()
    sim, broker, _ = make()
    sim.queue_fault("timeout", answer=retcodes.CONNECTION)  # executed; the answer never came
    request = {"idempotency_key": manual_key(account.pk, "drill"), "symbol": "XAUUSD",
               "side": "BUY", "volume": "0.10"}
    order = order_place(account.pk, broker=broker, **request).order
    order_recover(account.pk, broker=broker)
    retried = order_place(account.pk, broker=broker, **request).order
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED and retried.pk == order.pk
    assert sim.executed_orders == 1 and Position.objects.count() == 1
    recon = reconcile_account(account.pk, broker=broker, now=sim.now().to_pydatetime(),
                              triggered_by="drill")
    assert recon.status == "clean", (recon.status, recon.error)
    assert recon.db_open_positions == recon.broker_positions == 1


CYCLE_OUTAGE = """
import json, sys
from datetime import datetime

import django

django.setup()

from django.core.cache import caches

from mlops.tests.factories import TINY
from trading.cycle.run import cycle_run
from trading.tasks import cycle, run_cycles

account_id, closes = int(sys.argv[1]), [datetime.fromisoformat(v) for v in sys.argv[2:]]
report = {"cache": {}, "publish": {}, "cycles": []}
for alias in ("default", "ratelimit"):  # Redis really is unreachable for this process
    try:  # the default cache ignores Redis errors (a miss); the rate-limit store raises
        caches[alias].set("drill-probe", "1", 60)
        ok = caches[alias].get("drill-probe") == "1"
        report["cache"][alias] = "ok" if ok else "miss (error ignored)"
    except Exception as exc:
        report["cache"][alias] = type(exc).__name__
for name, task, args in (("run_cycles", run_cycles, ["H1"]),  # what beat does at a bar close
                         ("cycle", cycle, [account_id, closes[0].isoformat()])):
    try:
        task.apply_async(args=args, kwargs={"drill": True} if name == "cycle" else {})
        report["publish"][name] = "enqueued"
    except Exception as exc:
        report["publish"][name] = type(exc).__name__
for at in closes:  # the cycle itself, on a paper clock, bar after bar
    outcome = cycle_run(account_id, at=at, feature_set=TINY)
    report["cycles"].append({"at": at.isoformat(), "status": outcome.status,
                             "decision": outcome.decision and str(outcome.decision),
                             "signal": outcome.signal_id, "order": outcome.order_id,
                             "order_status": str(outcome.order_status),
                             "message": outcome.order_message, "reason": outcome.reason,
                             "actions": [[a.action, a.order_id, str(a.order_status)]
                                         for a in outcome.actions]})
print(json.dumps(report))
"""


def _hung_redis():
    from nusatrade.tests.faults import HungServer

    return HungServer()


@pytest.mark.services("postgres", "redis")
@pytest.mark.parametrize("outage", ["closed_port", "hung_listener"])
def test_drill_redis_unreachable_during_cycles_then_back(outage, transactional_db, settings,
                                                         tmp_path, closed_port):
    """Scenario 2 through the real cycle: a paper account with an active model runs its
    cycles bar after bar in a process whose Redis (cache, rate-limit store, Celery broker)
    is a closed port or a listener that never answers. Then, Redis back: the redelivered
    cycles of the same bars, recover_orders and reconcile. No duplicate, no lost order."""
    from datetime import timedelta

    from trading.cycle.run import ALREADY, DONE, cycle_run
    from trading.models import Signal
    from trading.reconciliation.service import reconcile_account
    from trading.services import order_recover
    from trading.tests import cyclekit

    cyclekit.fresh_estimators(settings, tmp_path)
    cyclekit.store_bars()
    cyclekit.active_model()
    account = cyclekit.paper_account()
    closes = [cyclekit.AT + timedelta(hours=h) for h in range(8)]   # Wed 10:00 .. 17:00

    hung = _hung_redis() if outage == "hung_listener" else None
    try:
        url = hung.redis_url if hung else f"redis://127.0.0.1:{closed_port}/0"
        down = {**orderpaths.subprocess_env(), "REDIS_URL": url,
                "ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR)}
        down.pop("CELERY_BROKER_URL", None)
        down.pop("CELERY_RESULT_BACKEND", None)
        during = subprocess.run([sys.executable, "-c", CYCLE_OUTAGE, str(account.pk),
                                 *(c.isoformat() for c in closes)], cwd=ROOT, env=down,
                                capture_output=True, text=True, timeout=300)
    finally:
        if hung:
            hung.close()
    assert during.returncode == 0, during.stderr[-3000:]
    report = json.loads(during.stdout.splitlines()[-1])

    # Redis really was unreachable: the cache and the rate-limit store fail, and beat's
    # publish of the next cycles fails with a clean error (nothing is queued anywhere).
    assert all(v != "ok" for v in report["cache"].values()), report["cache"]
    assert all(v != "enqueued" for v in report["publish"].values()), report["publish"]
    # ... yet the cycle itself needs only PostgreSQL: every bar was decided and traded.
    cycles = report["cycles"]
    assert [c["status"] for c in cycles] == [DONE] * len(closes), cycles
    trades = [c for c in cycles if c["decision"] in ("BUY", "SELL")]
    assert trades, f"no BUY/SELL decision in the outage bars: the drill proves nothing {cycles}"
    signals = Signal.objects.filter(account=account)
    assert signals.count() == len(closes)

    # Redis back: the recovery steps of docs/DISASTER_RECOVERY.md, scenario 2.
    back_at = closes[-1] + timedelta(minutes=30)
    recovered = order_recover(account.pk, broker=paper_broker_at(account, back_at))
    assert recovered.failed == [] and recovered.busy == []
    recon = reconcile_account(account.pk, broker=paper_broker_at(account, back_at),
                              now=back_at, triggered_by="drill:redis")
    assert recon.status == "clean", (recon.status, recon.error)
    # The cycles Redis lost, or the last one redelivered (its ack never reached Redis), run
    # again once it is back: nothing new is ordered or sent.
    before = list(Order.objects.order_by("pk").values_list("pk", "status"))
    positions = list(Position.objects.order_by("pk").values_list("pk", "status"))
    for at, earlier in zip(closes, cycles, strict=True):
        again = cycle_run(account.pk, at=at, feature_set=cyclekit.FEATURES)
        if earlier["order"] or earlier["order_status"] == "refused":
            assert again.status == ALREADY, again.summary
        assert list(Order.objects.order_by("pk").values_list("pk", "status")) == before
    assert list(Position.objects.order_by("pk").values_list("pk", "status")) == positions
    # ... and the next bar trades normally.
    after = cycle_run(account.pk, at=closes[-1] + timedelta(hours=1),
                      feature_set=cyclekit.FEATURES)
    assert after.status == DONE, after.summary

    # No duplicate: one order per decision key (account, model, bar, purpose) and per signal.
    orders = Order.objects.filter(account=account)
    keys = list(orders.values_list("idempotency_key", flat=True))
    assert len(keys) == len(set(keys))
    for signal_id in orders.filter(purpose="open").values_list("signal_id", flat=True):
        assert orders.filter(purpose="open", signal_id=signal_id).count() == 1
    # No lost order: every BUY/SELL decision of the outage has its opening order (filled, or
    # rejected with the broker's reason), or the cycle said why it opened none: the risk gate
    # refused the entry (recorded on the signal) or a position was already open (the
    # backtester's one-position rule). Nothing is left pending/sent/unknown.
    for trade in trades:
        opened = orders.filter(purpose="open", signal_id=trade["signal"])
        if trade["order"]:
            order = opened.get()
            assert order.pk == trade["order"]
            assert order.status in ("filled", "rejected", "cancelled"), (trade, order.status)
            if order.status != "filled":
                assert order.error, f"order {order.pk} refused without a reason"
        elif trade["order_status"] == "refused":
            assert not opened.exists() and trade["message"].startswith("entry refused by ")
            assert trade["message"] in Signal.objects.get(pk=trade["signal"]).reason
        else:
            assert not opened.exists()
            assert ("a position is already open" in trade["reason"]
                    or "the open position was not closed" in trade["reason"]), trade
        for _action, order_id, _status in trade["actions"]:
            if order_id:
                assert orders.get(pk=order_id).status == "filled", trade
    assert any(t["order"] for t in trades), f"no order placed in the outage: {cycles}"
    assert not orders.filter(status__in=["pending", "sent", "unknown"]).exists()
    # One broker position per filled opening order, and the book matches the database.
    filled_open = orders.filter(purpose="open", status="filled").count()
    assert Position.objects.filter(account=account).count() == filled_open
    broker = paper_broker_at(account, closes[-1] + timedelta(hours=1))
    open_db = set(Position.objects.filter(account=account, status="open")
                  .values_list("broker_ticket", flat=True))
    open_broker = {p.ticket for p in broker.positions()}
    assert open_db == open_broker
