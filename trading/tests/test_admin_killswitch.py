"""Kill-switch admin through the real OTP admin (two-factor login): ops may engage but not
release, admins do both, each with a reason on an intermediate page, through the service
(audited); rows are read-only history; other staff see nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import TOTP

from accounts.audit import audit_list
from accounts.models import Role
from accounts.services import totp_device_create, user_create
from trading.models import KillSwitch
from trading.services.killswitches import kill_switch_engage, kill_switch_release
from trading.tests.orderpaths import ml_model, paper_account

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple-42"
CHANGELIST = "/admin/trading/killswitch/"
ENGAGE = "/admin/trading/killswitch/engage/"


def logged_in(username: str, role: Role, *, superuser: bool = False) -> Client:
    user = user_create(username, PASSWORD, roles=(role,), staff=True, superuser=superuser)
    device = totp_device_create(user).device
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {
        "username": username, "password": PASSWORD, "otp_device": device.persistent_id,
        "otp_token": f"{totp.token():0{device.digits}d}"})
    assert response.status_code == 302, "two-factor login failed"
    return client


@pytest.fixture
def account(db):
    return paper_account()


def action(client: Client, name: str, switches: list[KillSwitch], reason: str | None = None):
    data = {"action": name, "_selected_action": [s.pk for s in switches]}
    if reason is not None:
        data.update(apply="1", reason=reason)
    return client.post(CHANGELIST, data, follow=reason is not None)


def test_ops_engages_an_account_from_the_admin_with_a_reason(account):
    ops = logged_in("opsy", Role.OPS)
    page = ops.get(CHANGELIST)
    assert page.status_code == 200 and "Engage a kill switch" in page.content.decode()
    form = ops.get(ENGAGE)
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    done = ops.post(ENGAGE, {"scope": "account", "account": account.pk,
                             "reason": "slippage spikes"}, follow=True)
    switch = KillSwitch.objects.get()
    assert (switch.scope, switch.account_id, switch.engaged_by) == ("account", account.pk,
                                                                    "opsy")
    assert f"Engaged kill switch #{switch.pk}" in done.content.decode()
    [entry] = audit_list(target=switch)
    assert (entry.actor, entry.action, entry.reason) == ("opsy", "kill_switch.engage",
                                                         "slippage spikes")


def test_ops_may_not_release(account):
    switch = kill_switch_engage("global", reason="outage", actor="opsy").switch
    ops = logged_in("opsy", Role.OPS)
    page = ops.get(CHANGELIST).content.decode()
    assert "engage_switches" in page and "release_switches" not in page
    response = action(ops, "release_switches", [switch], reason="let me")
    switch.refresh_from_db()
    assert switch.engaged and switch.released_by == ""
    assert "No action selected" in response.content.decode()
    assert audit_list(action="kill_switch.release").count() == 0


def test_admin_releases_after_the_reason_page(account):
    switch = kill_switch_engage("account", account_id=account.pk, reason="5 losses",
                                actor="system:risk", rule="consecutive_losses").switch
    boss = logged_in("boss", Role.ADMIN)
    intermediate = action(boss, "release_switches", [switch])
    assert intermediate.status_code == 200
    body = intermediate.content.decode()
    assert "Release kill switches" in body and 'name="reason"' in body and "5 losses" in body
    switch.refresh_from_db()
    assert switch.engaged   # nothing happens before the reason
    empty = action(boss, "release_switches", [switch], reason="")
    assert "This field is required" in empty.content.decode()
    done = action(boss, "release_switches", [switch], reason="model retrained")
    switch.refresh_from_db()
    assert (switch.engaged, switch.released_by, switch.release_reason) == (
        False, "boss", "model retrained")
    assert f"Released kill switch #{switch.pk}" in done.content.decode()
    assert [e.actor for e in audit_list(target=switch)] == ["boss", "system:risk"]


def test_engage_again_from_a_released_row_and_a_model_switch(account):
    old = kill_switch_engage("account", account_id=account.pk, reason="x", actor="a").switch
    kill_switch_release(old.pk, actor="b", reason="y")
    ops = logged_in("opsy", Role.OPS)
    action(ops, "engage_switches", [old], reason="again")
    again = KillSwitch.objects.get(engaged=True)
    assert (again.account_id, again.reason, again.engaged_by) == (account.pk, "again", "opsy")
    model = ml_model()
    ops.post(ENGAGE, {"scope": "model", "model": model.pk, "reason": "drift"})
    assert KillSwitch.objects.get(engaged=True, scope="model").model_id == model.pk


def test_a_superuser_counts_as_admin(account):
    switch = kill_switch_engage("global", reason="x", actor="a").switch
    root = logged_in("root", Role.TRADER, superuser=True)
    action(root, "release_switches", [switch], reason="ok")
    switch.refresh_from_db()
    assert not switch.engaged and switch.released_by == "root"


def test_the_engage_form_names_what_is_wrong(account):
    ops = logged_in("opsy", Role.OPS)
    page = ops.post(ENGAGE, {"scope": "account", "reason": "x"})
    assert page.status_code == 200
    assert "an account switch names one account" in page.content.decode()
    page = ops.post(ENGAGE, {"scope": "global", "reason": ""})
    assert "This field is required" in page.content.decode()
    assert not KillSwitch.objects.exists()


def test_other_staff_see_nothing_and_rows_are_read_only_history(account):
    switch = kill_switch_engage("global", reason="x", actor="a").switch
    trader = logged_in("tina", Role.TRADER)
    assert trader.get(CHANGELIST).status_code == 403
    assert trader.get(ENGAGE).status_code == 403
    assert trader.post(ENGAGE, {"scope": "global", "reason": "x"}).status_code == 403
    boss = logged_in("boss", Role.ADMIN)
    change = f"{CHANGELIST}{switch.pk}/change/"
    assert boss.get(change).status_code == 200
    boss.post(change, {"reason": "edited", "engaged": ""})
    assert boss.post(f"{CHANGELIST}{switch.pk}/delete/", {"post": "yes"}).status_code == 403
    assert boss.get(f"{CHANGELIST}add/").status_code == 403
    switch.refresh_from_db()
    assert switch.engaged and switch.reason == "x"
