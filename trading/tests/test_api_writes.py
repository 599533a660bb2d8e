"""Trader API writes: the manual paper order through ``order_place`` (strict input, idempotent
client order id, RELIABILITY 12/13: bad input is a 400 with field errors and nothing is sent),
pause/resume through the kill-switch service, the write rate limit per user AND per IP, and
JWT expiry / revocation / blacklist on the new endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.models import AuditEntry, Broker, Role
from accounts.services import trading_account_create, user_tokens_revoke
from trading.api import views
from trading.models import KillSwitch, KillSwitchScope, Order, OrderStatus
from trading.paper.models import PaperDeal, PaperOrder
from trading.services import paper_broker_at
from trading.services.killswitches import kill_switch_engage
from trading.tests.apidata import PASSWORD, client_for, make_user
from trading.tests.orderpaths import AT, paper_account, store_bars

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"


@pytest.fixture
def market(monkeypatch):
    """The real paper broker on a fixed mid-session clock over stored XAUUSD H1 bars."""
    store_bars()
    monkeypatch.setattr(views, "order_broker", lambda account: paper_broker_at(account, AT))


@pytest.fixture
def alice(db):
    user = make_user("alice", Role.TRADER)
    return user, paper_account("alice", "alice paper")


def body(account, **changes) -> dict:
    return {"account": account.pk, "symbol": "XAUUSD", "side": "BUY", "volume": "0.01",
            **changes}


def with_account(account, **changes) -> dict:
    return {"symbol": "XAUUSD", "side": "BUY", "volume": "0.01", **changes, "account": account}


def nothing_sent() -> bool:
    return not PaperOrder.objects.exists() and not PaperDeal.objects.exists()


def test_manual_order_fills_and_a_repeated_client_order_id_is_the_same_order(market, alice):
    user, account = alice
    client = client_for(user)
    first = client.post(URL, body(account, client_order_id="my-1"), format="json")
    assert first.status_code == 201, first.content
    order = first.json()
    assert order["status"] == "filled" and order["client_order_id"] == "my-1"
    assert order["retcode"] == 10009 and order["retcode_meaning"] == "Request completed"
    again = client.post(URL, body(account, client_order_id="my-1"), format="json")
    assert again.status_code == 200 and again.json()["id"] == order["id"]
    assert Order.objects.count() == 1
    assert PaperDeal.objects.filter(entry="in").count() == 1  # one broker order, not two


@pytest.mark.parametrize(("changes", "field"), [
    ({"volume": "0"}, "volume"),
    ({"volume": "-0.01"}, "volume"),
    ({"volume": "1e9"}, "volume"),
    ({"volume": 1e9}, "volume"),
    ({"volume": "NaN"}, "volume"),
    ({"volume": "Infinity"}, "volume"),
    ({"volume": "lots"}, "volume"),
    ({"volume": True}, "volume"),
    ({"volume": None}, "volume"),
    ({"side": "LONG"}, "side"),
    ({"symbol": ""}, "symbol"),
    ({"account": "1e3"}, "account"),
    ({"account": 1.5}, "account"),
    ({"sl": "0"}, "sl"),
    ({"client_order_id": "x" * 65}, "client_order_id"),
    ({"comment": "hi"}, "comment"),                     # unknown field
])
def test_bad_input_is_400_with_field_errors_and_nothing_stored(market, alice, changes, field):
    user, account = alice
    data = body(account, **changes) if "account" not in changes else with_account(**changes)
    response = client_for(user).post(URL, data, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert nothing_sent() and not Order.objects.exists()


def test_missing_fields_are_each_named(market, alice):
    user, _account = alice
    response = client_for(user).post(URL, {}, format="json")
    assert response.status_code == 400
    assert {"account", "symbol", "side", "volume"} <= set(response.json())


@pytest.mark.parametrize(("changes", "field"), [
    ({"volume": "0.015"}, "volume"),         # off the volume step
    ({"volume": "1000"}, "volume"),          # above the maximum
    ({"symbol": "FOOBAR"}, "symbol"),        # unknown symbol
    ({"sl": "99999.00"}, "sl"),              # a BUY's SL above the price
    ({"tp": "1.00"}, "tp"),                  # a BUY's TP below the price
])
def test_values_only_the_market_can_judge_leave_only_the_refused_intent(market, alice,
                                                                        changes, field):
    user, account = alice
    response = client_for(user).post(URL, body(account, client_order_id="c1", **changes),
                                     format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors and "nothing was sent" in errors["non_field_errors"][0]
    assert nothing_sent()
    refused = Order.objects.get()
    assert refused.status == OrderStatus.REJECTED and refused.attempts == 0
    # The same id again is the same refused intent: still a 400, still one row.
    again = client_for(user).post(URL, body(account, client_order_id="c1", **changes),
                                  format="json")
    assert again.status_code == 400 and Order.objects.count() == 1


def test_refused_field_errors_are_validations_own_messages_on_their_fields(market, alice):
    # No parsing of the error text: order_place keeps validation's field -> message, and the
    # API puts each message on its field as it is (several fields at once included).
    from trading.services import order_refusal

    user, account = alice
    response = client_for(user).post(URL, body(account, client_order_id="c2", volume="0.015",
                                               sl="99999.00"), format="json")
    assert response.status_code == 400, response.content
    refused = Order.objects.get()
    stored = order_refusal(refused)
    assert set(stored) == {"volume", "sl"}
    errors = response.json()
    assert errors["volume"] == [stored["volume"]] and errors["sl"] == [stored["sl"]]
    assert errors["non_field_errors"] == [
        f"Refused before sending; nothing was sent (the refused intent is order {refused.pk})."]
    # The text the command line and the logs show is unchanged: the same errors joined.
    assert refused.error == ("refused before sending: "
                             f"volume: {stored['volume']}; sl: {stored['sl']}")


def test_a_refused_intent_stored_without_field_errors_answers_with_its_text(market, alice):
    from trading.api.views import refusal_errors
    from trading.services import order_refusal

    user, account = alice
    client_for(user).post(URL, body(account, client_order_id="c3", volume="0.015"),
                          format="json")
    refused = Order.objects.get()
    Order.objects.filter(pk=refused.pk).update(request={"volume": "0.015"})  # an older row
    refused.refresh_from_db()
    assert order_refusal(refused) == {}
    errors = refusal_errors(refused, {})
    assert errors == {"non_field_errors": [errors["non_field_errors"][0], refused.error]}
    again = client_for(user).post(URL, body(account, client_order_id="c3", volume="0.015"),
                                  format="json")
    assert again.status_code == 400 and again.json() == errors


def test_someone_elses_or_a_live_account_is_refused_and_nothing_stored(market, alice):
    user, _account = alice
    make_user("bob", Role.TRADER)
    bobs = paper_account("bob", "bob paper")
    response = client_for(user).post(URL, body(bobs), format="json")
    assert response.status_code == 400 and "account" in response.json()
    live = trading_account_create(user, "live", broker=Broker.MT5)
    response = client_for(user).post(URL, body(live), format="json")
    assert response.status_code == 400
    assert "paper" in response.json()["account"][0]
    assert not Order.objects.exists() and nothing_sent()


def test_a_paused_account_refuses_the_order_with_409_and_sends_nothing(market, alice):
    user, account = alice
    client = client_for(user)
    assert client.post(f"/api/v1/accounts/{account.pk}/pause/").status_code == 201
    response = client.post(URL, body(account), format="json")
    assert response.status_code == 409
    assert "kill" in response.json()["detail"]
    assert response.json()["order"]["status"] == "rejected"
    assert nothing_sent()


def test_pause_and_resume_your_own_account(alice):
    user, account = alice
    client = client_for(user)
    paused = client.post(f"/api/v1/accounts/{account.pk}/pause/")
    assert paused.status_code == 201 and paused.json()["reason"] == "paused by owner"
    assert client.post(f"/api/v1/accounts/{account.pk}/pause/").status_code == 200  # no-op
    state = client.get(f"/api/v1/accounts/{account.pk}/").json()
    assert state["kill_switch"]["paused_by_owner"] and state["trading_enabled"] is False
    resumed = client.post(f"/api/v1/accounts/{account.pk}/resume/")
    assert resumed.status_code == 200
    switch = KillSwitch.objects.get()
    assert not switch.engaged and switch.released_by == "alice"
    assert AuditEntry.objects.filter(action__startswith="kill_switch.").count() == 2
    assert client.post(f"/api/v1/accounts/{account.pk}/resume/").status_code == 409


def test_a_trader_cannot_release_a_system_switch_but_an_admin_can(alice):
    user, account = alice
    boss = make_user("boss", Role.ADMIN)
    kill_switch_engage(KillSwitchScope.ACCOUNT, reason="5 losses in a row",
                       actor="system:risk", account_id=account.pk, rule="consecutive_losses")
    refused = client_for(user).post(f"/api/v1/accounts/{account.pk}/resume/")
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert KillSwitch.objects.get().engaged
    assert client_for(boss).post(f"/api/v1/accounts/{account.pk}/resume/").status_code == 200
    assert KillSwitch.objects.get().released_by == "boss"


def test_a_trader_cannot_release_an_admins_pause_of_their_account(alice):
    user, account = alice
    boss = make_user("boss", Role.ADMIN)
    assert client_for(boss).post(f"/api/v1/accounts/{account.pk}/pause/").status_code == 201
    assert client_for(user).post(f"/api/v1/accounts/{account.pk}/resume/").status_code == 403


def test_pause_takes_no_body_fields(alice):
    user, account = alice
    response = client_for(user).post(f"/api/v1/accounts/{account.pk}/pause/",
                                     {"reason": "mine"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert not KillSwitch.objects.exists()


def test_writes_are_limited_per_user_and_per_ip(alice, settings):
    settings.RATELIMIT_TRADING = "2/m"
    user, account = alice
    make_user("bob", Role.TRADER)
    bobs = paper_account("bob", "bob paper")
    mine = client_for(user)
    for _ in range(2):
        assert mine.post(f"/api/v1/accounts/{account.pk}/pause/").status_code in (200, 201)
    limited = mine.post(f"/api/v1/accounts/{account.pk}/pause/")
    assert limited.status_code == 429 and "Retry-After" in limited
    # Another user from the same address shares the per-IP window.
    bob = client_for(bobs.owner)
    assert bob.post(f"/api/v1/accounts/{bobs.pk}/pause/").status_code == 429
    # Reads are not write-limited.
    assert mine.get("/api/v1/accounts/").status_code == 200


def test_expired_access_token_is_401_on_the_trader_api(alice):
    user, _account = alice
    client = client_for(user)
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    with freeze_time(timezone.now() + lifetime + timedelta(seconds=5)):
        assert client.get("/api/v1/accounts/").status_code == 401


def test_revoked_session_and_blacklisted_refresh_are_401(alice):
    user, _account = alice
    anonymous = APIClient()
    tokens = anonymous.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD},
                            format="json").json()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}
    assert anonymous.get("/api/v1/positions/", **bearer).status_code == 200
    assert anonymous.post("/api/v1/auth/token/blacklist/", {"refresh": tokens["refresh"]},
                          format="json").status_code == 200
    assert anonymous.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]},
                          format="json").status_code == 401
    user_tokens_revoke(user)  # "log out everywhere": the access token dies too
    assert anonymous.get("/api/v1/positions/", **bearer).status_code == 401


def test_the_api_bounds_client_order_ids_like_the_idempotency_keys():
    from trading.api.serializers import MAX_CLIENT_ORDER_ID
    from trading.services.keys import MAX_CLIENT_ORDER_ID as KEYS_MAX

    assert MAX_CLIENT_ORDER_ID == KEYS_MAX
