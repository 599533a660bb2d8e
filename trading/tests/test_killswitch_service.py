"""Kill switches engaged and released through the one service: idempotent, audited, alerted,
blocking orders, optionally closing the positions in their scope."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.audit import audit_list
from nusatrade.errors import DataError
from trading.models import KillSwitch, Order, Position, PositionStatus
from trading.services import order_place
from trading.services.killswitches import (
    engaged_for,
    kill_switch_engage,
    kill_switch_release,
    kill_switches_expire,
)
from trading.tests import orderpaths

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(db):
    orderpaths.store_bars()
    return orderpaths.paper_account()


@pytest.fixture(autouse=True)
def alerts(monkeypatch):
    """The alerts the service raised (their delivery is nusatrade/tests/test_alerts.py's)."""
    from trading.services import killswitches

    raised: list[tuple[str, str]] = []
    monkeypatch.setattr(killswitches, "alert_send",
                        lambda kind, title, body="", **kw: raised.append((str(kind), title)))
    return raised


def test_engage_is_audited_alerted_and_blocks_the_next_order(paper, alerts):
    result = kill_switch_engage("account", account_id=paper.pk, reason="drill", actor="alice")
    assert result.created and result.switch.engaged and result.switch.engaged_by == "alice"
    [entry] = audit_list(target=result.switch)
    assert (entry.actor, entry.action, entry.reason) == ("alice", "kill_switch.engage", "drill")
    assert alerts == [("kill_switch_engaged", f"Kill switch engaged: account {paper.pk}")]
    from trading.services import paper_broker_at

    outcome = order_place(paper.pk, idempotency_key="ks-1", symbol="XAUUSD", side="BUY",
                          volume="0.01", broker=paper_broker_at(paper, orderpaths.AT))
    assert outcome.order.status == "rejected"
    assert "kill switch engaged (account): drill" in outcome.order.error


def test_engaging_twice_keeps_the_first_switch_and_sends_one_alert(paper, alerts):
    first = kill_switch_engage("account", account_id=paper.pk, reason="first", actor="a")
    second = kill_switch_engage("account", account_id=paper.pk, reason="second", actor="b")
    assert second.created is False and second.switch.pk == first.switch.pk
    assert KillSwitch.objects.filter(engaged=True).count() == 1
    assert KillSwitch.objects.get().reason == "first"
    assert [kind for kind, _ in alerts] == ["kill_switch_engaged"]


def test_release_records_who_and_why_and_trading_resumes(paper, alerts):
    from trading.services import paper_broker_at

    switch = kill_switch_engage("global", reason="outage", actor="ops").switch
    released = kill_switch_release(switch.pk, actor="admin", reason="broker back")
    assert not released.engaged and released.released_by == "admin"
    assert released.release_reason == "broker back" and released.released_at is not None
    assert [e.action for e in audit_list(target=switch)] == ["kill_switch.release",
                                                             "kill_switch.engage"]
    assert [kind for kind, _ in alerts] == ["kill_switch_engaged", "kill_switch_released"]
    outcome = order_place(paper.pk, idempotency_key="ks-2", symbol="XAUUSD", side="BUY",
                          volume="0.01", broker=paper_broker_at(paper, orderpaths.AT))
    assert outcome.order.status == "filled"


def test_release_twice_says_who_released_it_and_changes_nothing(paper):
    switch = kill_switch_engage("global", reason="x", actor="ops").switch
    kill_switch_release(switch.pk, actor="admin", reason="ok")
    with pytest.raises(DataError, match="already released by admin"):
        kill_switch_release(switch.pk, actor="mallory", reason="again")
    assert KillSwitch.objects.get().released_by == "admin"


@pytest.mark.parametrize("call,match", [
    (lambda a: kill_switch_engage("account", reason="r", actor="x"), "names one account"),
    (lambda a: kill_switch_engage("global", account_id=a, reason="r", actor="x"),
     "global switch names no account"),
    (lambda a: kill_switch_engage("planet", reason="r", actor="x"), "scope must be one of"),
    (lambda a: kill_switch_engage("account", account_id=a, reason="  ", actor="x"),
     "needs a reason"),
])
def test_bad_engage_requests_are_refused_with_the_reason(paper, call, match):
    with pytest.raises(DataError, match=match):
        call(paper.pk)
    assert not KillSwitch.objects.exists()


def test_release_needs_a_reason(paper):
    switch = kill_switch_engage("global", reason="x", actor="ops").switch
    with pytest.raises(DataError, match="needs a reason"):
        kill_switch_release(switch.pk, actor="admin", reason="")
    assert KillSwitch.objects.get().engaged


def test_a_timed_switch_releases_itself_once_due(paper, alerts):
    when = orderpaths.AT
    switch = kill_switch_engage("account", account_id=paper.pk, reason="daily loss",
                                actor="system:risk", rule="daily_loss_stop",
                                release_at=when).switch
    assert kill_switches_expire(when.replace(hour=when.hour - 1)) == []
    [released] = kill_switches_expire(when)
    assert released.pk == switch.pk and released.released_by == "system:schedule"
    assert engaged_for("account", account_id=paper.pk) is None
    assert [kind for kind, _ in alerts] == ["daily_loss_stop", "kill_switch_released"]


def test_engage_with_close_positions_closes_the_scope_at_market(paper, monkeypatch):
    from trading.services import paper_broker_at

    opened = order_place(paper.pk, idempotency_key="ks-open", symbol="XAUUSD", side="BUY",
                         volume="0.01", broker=paper_broker_at(paper, orderpaths.AT))
    assert opened.order.status == "filled"
    position = Position.objects.get(account=paper, status=PositionStatus.OPEN)
    # The close goes through the account's own paper broker; pin its clock for the test.
    from trading.services import orders

    original = orders.broker_for
    monkeypatch.setattr(orders, "broker_for",
                        lambda account, **kw: original(account, clock=lambda: orderpaths.AT))
    result = kill_switch_engage("account", account_id=paper.pk, reason="flatten",
                                actor="ops", close_positions=True)
    assert result.closed_positions == [position.pk], result.close_errors
    position.refresh_from_db()
    assert position.status == PositionStatus.CLOSED
    close = Order.objects.get(purpose="close")
    assert close.status == "filled"


def test_engage_reads_and_writes_in_one_short_transaction(paper):
    with CaptureQueriesContext(connection) as queries:
        kill_switch_engage("account", account_id=paper.pk, reason="q", actor="ops")
    # select for update, insert switch, insert audit entry (+ savepoints)
    writes = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(writes) == 2
