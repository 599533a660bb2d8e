"""What the dashboard reads: the closed-trade book (the same trades and figures the tracker
computes from the ORM rows), a constant number of queries whatever the number of accounts, and
the "last reconciliation" panel against real ``trading.ReconciliationRun`` rows written by the
reconciliation service (clean, then a mismatch)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from monitoring import selectors, tracker
from monitoring.dashboard import Book, dashboard_data
from monitoring.tests import factories as f
from trading.models import Position, ReconciliationRun, ReconciliationStatus

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _trades(accounts: list, model, count: int) -> None:
    for i in range(count):
        entry = NOW - timedelta(days=count - i, microseconds=123_457 * i)
        f.closed(accounts[i % len(accounts)], model, entry,
                 entry + timedelta(hours=3, microseconds=987_001 + i),
                 "-11.70" if i % 3 == 0 else f"{14 + i / 100:.2f}")


def test_the_book_holds_the_trades_and_figures_the_tracker_reads() -> None:
    a, b = f.account("A"), f.account("B", owner="trader2")
    model = f.model("rf")
    _trades([a, b], model, 40)
    _trades([b], None, 5)  # manual trades: no model
    f.closed(a, model, NOW + timedelta(hours=1), NOW + timedelta(hours=2), "99.00")  # after
    book = Book.load(NOW)
    for scope in ({"account_id": a.pk}, {"account_id": b.pk}, {"model_id": model.pk}):
        expected = tracker.Trades.from_rows(selectors.trade_rows(end=NOW, **scope))
        got = book.select(**scope)
        assert len(got) == len(expected) > 0, scope
        assert got.entry.equals(expected.entry) and got.exit.equals(expected.exit), scope
        assert np.array_equal(got.net, expected.net), scope
        start = expected.entry.min()
        assert tracker.trade_figures(got, opening=10_000.0, start=start, end=pd.Timestamp(NOW)) \
            == tracker.trade_figures(expected, opening=10_000.0, start=start,
                                     end=pd.Timestamp(NOW)), scope
    assert book.select(account_id=b.pk, model_id=-1).net.tolist() == [
        float(p.net_pnl) for p in Position.objects.filter(model=None).order_by("exit_time")]


def _queries(now: datetime) -> int:
    with CaptureQueriesContext(connection) as ctx:
        dashboard_data(now)
    return len(ctx.captured_queries)


def test_the_page_costs_the_same_queries_for_two_accounts_or_six() -> None:
    model = f.model("rf")
    accounts = [f.account("A"), f.account("B", owner="trader2")]
    _trades(accounts, model, 30)
    few = _queries(NOW)
    accounts += [f.account(f"X{i}", owner=f"trader{i + 3}") for i in range(4)]
    _trades(accounts, model, 60)
    assert _queries(NOW) == few


@pytest.fixture
def alerts(monkeypatch):
    """The reconciliation's alerts, captured (their delivery is not this test's subject)."""
    from trading.reconciliation import service
    from trading.services import killswitches

    raised: list[str] = []
    monkeypatch.setattr(killswitches, "alert_send", lambda kind, *a, **k: raised.append(kind))
    monkeypatch.setattr(service, "alert_send", lambda kind, *a, **k: raised.append(kind))
    return raised


def _panel(page: str, account_id: int) -> str:
    card = page[page.index(f'id="account-{account_id}"'):]
    match = re.search(r'<p class="reconciliation"[^>]*>(.*?)</p>', card, re.S)
    assert match, card[:2000]
    return " ".join(match.group(0).split())


def test_last_reconciliation_panel_shows_real_runs_clean_then_mismatch(alerts, settings) -> None:
    from trading.tests.reconcile_envs import PaperEnv

    settings.RECONCILE_ORDER_MIN_AGE_SECONDS = 0
    env = PaperEnv()
    other = f.account("never reconciled", owner="trader7")
    admin = f.otp_client("boss", (Role.ADMIN,))

    page = admin.get("/admin/dashboard/").content.decode()
    assert "no reconciliation yet" in _panel(page, env.account.pk)

    order = env.place(volume="0.04", sl=env.sl)
    clean = env.reconcile(triggered_by="test")
    assert clean.status == ReconciliationStatus.CLEAN
    panel = _panel(admin.get("/admin/dashboard/").content.decode(), env.account.pk)
    assert 'data-status="clean"' in panel and 'class="recon-status ok">clean<' in panel
    assert f"#{clean.pk}" in panel
    # The link to the run's items only for whom the trading admin lets see it (a 403 else).
    assert "/admin/trading/reconciliationrun/" not in panel
    root = f.otp_client("root", (Role.ADMIN,), superuser=True)
    link = f"/admin/trading/reconciliationrun/{clean.pk}/change/"
    assert link in _panel(root.get("/admin/dashboard/").content.decode(), env.account.pk)
    assert root.get(link).status_code == 200
    assert "1 open here, 1 at the broker" in panel and "0 findings" in panel

    position = Position.objects.get(opening_order=order)
    env.close_at_broker(position.broker_ticket, volume="0.01")  # someone else, at the broker
    mismatch = env.reconcile(triggered_by="test")
    assert mismatch.status == ReconciliationStatus.MISMATCH and mismatch.unsafe == 1
    # A run still going is not a result: the panel keeps the last finished one.
    ReconciliationRun.objects.create(account=env.account, triggered_by="test", as_of=env.now)
    page = admin.get("/admin/dashboard/").content.decode()
    panel = _panel(page, env.account.pk)
    assert 'data-status="mismatch"' in panel and 'class="recon-status bad">mismatch<' in panel
    assert f"#{mismatch.pk}" in panel
    assert "1 finding" in panel and '<span class="bad">1 unsafe</span>' in panel
    assert f"engaged kill switch #{mismatch.kill_switch_id}" in panel
    assert "no reconciliation yet" in _panel(page, other.pk)  # not another account's run
    assert "reconciliation_mismatch" in [str(a) for a in alerts]
