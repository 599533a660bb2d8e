"""Kill switches across processes on PostgreSQL: a switch engaged by one process is seen by a
new one (it survives a restart), and an order already inside ``order_place`` (waiting for
the account's row lock) when the switch is engaged cannot slip through it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psycopg
import psycopg.sql
import pytest
from django.db import connection

from accounts.models import TradingAccount
from trading.models import Order, OrderStatus
from trading.paper.models import PaperDeal
from trading.services.killswitches import kill_switch_engage
from trading.tests.orderpaths import (
    ROOT,
    buy_signal,
    paper_account,
    placer_command,
    store_bars,
    subprocess_env,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services("postgres")]


def _dsn() -> str:
    db = connection.settings_dict
    return (f"host={db['HOST']} port={db['PORT'] or 5432} dbname={db['NAME']} "
            f"user={db['USER']}" + (f" password={db['PASSWORD']}" if db.get("PASSWORD") else ""))


def _waiting_on_a_lock(watcher: psycopg.Connection, pids: set[int]) -> bool:
    rows = watcher.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'").fetchall()
    return any(pid not in pids for (pid,) in rows)


def test_a_new_process_sees_an_engaged_switch_and_is_refused():
    store_bars()
    account = paper_account()
    signal = buy_signal(account, None)
    switch = kill_switch_engage("account", account_id=account.pk, reason="before restart",
                                actor="ops").switch
    # A fresh interpreter: nothing is shared with this process but the database.
    status = subprocess.run([sys.executable, "manage.py", "kill_switch", "status", "--json"],
                            cwd=ROOT, env=subprocess_env(), capture_output=True, text=True,
                            timeout=120)
    assert status.returncode == 0, status.stderr
    [row] = json.loads(status.stdout)
    assert (row["id"], row["state"], row["reason"]) == (switch.pk, "engaged", "before restart")
    placed = subprocess.run(placer_command(signal.pk), cwd=ROOT, env=subprocess_env(),
                            capture_output=True, text=True, timeout=120)
    assert placed.returncode == 0, placed.stderr
    assert json.loads(placed.stdout.strip().splitlines()[-1])["status"] == "rejected"
    order = Order.objects.get()
    assert "kill switch engaged (account): before restart" in order.error
    assert PaperDeal.objects.count() == 0


def test_an_order_waiting_inside_order_place_cannot_slip_through_an_engage():
    store_bars()
    account = paper_account()
    signal = buy_signal(account, None)
    table = TradingAccount._meta.db_table
    with psycopg.connect(_dsn()) as holder, psycopg.connect(_dsn(), autocommit=True) as watcher:
        # Another transaction holds the account row, as a concurrent order would.
        holder.execute(psycopg.sql.SQL("SELECT id FROM {} WHERE id = %s FOR UPDATE").format(
            psycopg.sql.Identifier(table)), [account.pk])
        own = {holder.info.backend_pid, watcher.info.backend_pid}
        placer = subprocess.Popen(placer_command(signal.pk), cwd=ROOT, env=subprocess_env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while not _waiting_on_a_lock(watcher, own):   # the placer is in flight now
                assert placer.poll() is None, placer.stderr.read()
                assert time.monotonic() < deadline, "the placer never reached the lock"
                time.sleep(0.05)
            assert not Order.objects.exists()
            # Global: an account switch's row references the account, and its foreign-key
            # check waits for the row lock held here (an engage queues behind the account's
            # in-flight order transaction, which was first and may pass: same guarantee).
            kill_switch_engage("global", reason="engaged mid-flight", actor="ops")
            holder.rollback()   # let the in-flight order through to its gate check
            out, err = placer.communicate(timeout=120)
        finally:
            if placer.poll() is None:
                placer.kill()
    assert placer.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["status"] == "rejected"
    order = Order.objects.get()
    assert order.status == OrderStatus.REJECTED
    assert "kill switch engaged (global): engaged mid-flight" in order.error
    assert PaperDeal.objects.count() == 0     # nothing reached the broker
