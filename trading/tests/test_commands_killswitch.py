"""``kill_switch engage|release|status``: outputs, JSON, errors and exit codes."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.audit import audit_list
from trading.models import KillSwitch, Position
from trading.services import manual_key, order_place, paper_broker_at
from trading.services.killswitches import kill_switch_engage
from trading.tests.orderpaths import AT, ROOT, ml_model, paper_account, store_bars, subprocess_env

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("kill_switch", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def account(db):
    store_bars()
    return paper_account()


def test_engage_an_account_prints_it_and_records_the_os_user(account):
    out = run("engage", "--account", str(account.pk), "--reason", "broker flaky")
    switch = KillSwitch.objects.get()
    assert out.strip() == (f"kill switch {switch.pk} engaged: account {account.pk} "
                           f"({account.name}): broker flaky")
    assert switch.engaged and switch.scope == "account" and switch.account_id == account.pk
    [entry] = audit_list(target=switch)
    assert (entry.actor, entry.action, entry.reason) == (
        f"cli:{getpass.getuser()}", "kill_switch.engage", "broker flaky")


def test_engage_json_and_by_name_and_engaging_again_keeps_the_first(account):
    first = json.loads(run("engage", "--global", "--reason", "outage", "--by", "alice",
                           "--json"))
    assert first["created"] is True and first["engaged_by"] == "alice"
    assert (first["scope"], first["target"], first["state"]) == ("global", "every account",
                                                                 "engaged")
    again = json.loads(run("engage", "--global", "--reason", "second", "--json"))
    assert again["created"] is False and again["id"] == first["id"]
    assert again["reason"] == "outage" and KillSwitch.objects.count() == 1


def test_engage_a_model(account):
    model = ml_model()
    out = run("engage", "--model", str(model.pk), "--reason", "bad live accuracy")
    assert f"engaged: model {model.pk}" in out
    assert KillSwitch.objects.get().model_id == model.pk


@pytest.mark.parametrize("args,message", [
    (("engage", "--account", "999999", "--reason", "x"), "no trading account 999999"),
    (("engage", "--model", "999999", "--reason", "x"), "no model 999999"),
    (("engage", "--global", "--reason", "  "), "a kill switch needs a reason"),
    (("release", "--global", "--reason", "x"),
     "nothing engaged to release: no engaged global kill switch"),
    (("release", "--id", "999999", "--reason", "x"), "no kill switch 999999"),
    (("engage", "--global", "--reason", "x", "--by", " "), "--by needs a name"),
])
def test_bad_requests_say_what_is_wrong_and_change_nothing(account, args, message):
    with pytest.raises(CommandError, match=message) as raised:
        run(*args)
    assert raised.value.returncode == 1
    assert not KillSwitch.objects.exists()


def test_release_by_target_and_by_id_records_who_and_why(account):
    switch = kill_switch_engage("account", account_id=account.pk, reason="drill",
                                actor="ops").switch
    out = run("release", "--account", str(account.pk), "--reason", "drill over", "--by", "bob")
    assert out.strip() == (f"kill switch {switch.pk} released: account {account.pk} "
                           f"({account.name}): drill over")
    switch.refresh_from_db()
    assert (switch.engaged, switch.released_by, switch.release_reason) == (False, "bob",
                                                                           "drill over")
    with pytest.raises(CommandError, match="already released by bob"):
        run("release", "--id", str(switch.pk), "--reason", "again")
    other = kill_switch_engage("global", reason="x", actor="ops").switch
    row = json.loads(run("release", "--id", str(other.pk), "--reason", "ok", "--json"))
    assert (row["id"], row["state"], row["release_reason"]) == (other.pk, "released", "ok")


def test_status_lists_every_switch_with_who_when_and_why(account):
    release_at = datetime(2026, 11, 26, tzinfo=UTC)
    old = kill_switch_engage("global", reason="outage", actor="ops").switch
    run("release", "--id", str(old.pk), "--reason", "back", "--by", "admin")
    daily = kill_switch_engage("account", account_id=account.pk, reason="lost 5.2% today",
                               actor="system:risk", rule="daily_loss_stop",
                               release_at=release_at).switch
    rows = json.loads(run("status", "--json"))
    assert [r["id"] for r in rows] == [daily.pk, old.pk]
    assert rows[0] == {**rows[0], "scope": "account", "account": account.pk,
                       "state": "engaged", "rule": "daily_loss_stop",
                       "reason": "lost 5.2% today", "engaged_by": "system:risk",
                       "release_at": release_at.isoformat(), "released_by": None}
    assert rows[1] == {**rows[1], "scope": "global", "state": "released", "rule": None,
                       "released_by": "admin", "release_reason": "back"}
    assert rows[1]["released_at"] and rows[0]["engaged_at"]
    lines = run("status").splitlines()
    assert lines[0].startswith(f"#{daily.pk} engaged  account {account.pk}")
    assert "rule=daily_loss_stop" in lines[0] and "releases itself at 2026-11-26" in lines[0]
    assert "released by admin" in lines[1] and ": back" in lines[1]
    assert [r["id"] for r in json.loads(run("status", "--engaged", "--json"))] == [daily.pk]


def test_status_without_switches(account):
    assert run("status").strip() == "no kill switches"
    assert json.loads(run("status", "--json")) == []


def _open_position(account):
    order_place(account.pk, idempotency_key=manual_key(account.pk, "open"), symbol="XAUUSD",
                side="BUY", volume="0.01", broker=paper_broker_at(account, AT))
    return Position.objects.get()


def test_engage_with_close_positions_closes_the_scope(account, monkeypatch):
    position = _open_position(account)
    # The paper broker's clock (the market must be open; tests do not depend on the weekday).
    monkeypatch.setattr("trading.brokers.base.utc_now", lambda: AT + timedelta(hours=1))
    row = json.loads(run("engage", "--account", str(account.pk), "--reason", "flatten",
                         "--close-positions", "--json"))
    assert row["closed_positions"] == [position.pk] and row["close_errors"] == {}
    position.refresh_from_db()
    assert position.status == "closed"


def test_engage_whose_close_fails_exits_3_and_names_the_position(account, monkeypatch):
    position = _open_position(account)
    saturday = datetime(2026, 11, 28, 12, tzinfo=UTC)    # the market is closed
    monkeypatch.setattr("trading.brokers.base.utc_now", lambda: saturday)
    err = StringIO()
    with pytest.raises(CommandError, match="1 position\\(s\\) could not be closed") as raised:
        call_command("kill_switch", "engage", "--account", str(account.pk), "--reason", "x",
                     "--close-positions", stdout=StringIO(), stderr=err)
    assert raised.value.returncode == 3
    assert f"position {position.pk} NOT closed" in err.getvalue()
    assert KillSwitch.objects.get().engaged   # the switch holds even though the close failed
    position.refresh_from_db()
    assert position.status == "open"


@pytest.mark.services("postgres")     # a second process shares the database
@pytest.mark.django_db(transaction=True)
def test_exit_codes_of_the_real_command(account):
    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", "kill_switch", *args], cwd=ROOT,
                              env=subprocess_env(), capture_output=True, text=True, timeout=120)

    engaged = manage("engage", "--global", "--reason", "drill")
    assert engaged.returncode == 0, engaged.stderr
    nothing = manage("release", "--account", str(account.pk), "--reason", "x")
    assert nothing.returncode == 1
    assert f"nothing engaged to release: no engaged account {account.pk}" in nothing.stderr
    usage = manage("engage", "--reason", "x")
    assert usage.returncode == 2 and "one of the arguments" in usage.stderr
    released = manage("release", "--global", "--reason", "over")
    assert released.returncode == 0 and not KillSwitch.objects.get().engaged
