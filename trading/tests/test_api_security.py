"""API-wide rules: no session authentication, CORS only for configured origins, unknown query
parameters refused on the older endpoints too (me/, backtests/)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from trading.tests.apidata import client_for, make_user

pytestmark = pytest.mark.django_db


def test_a_logged_in_session_does_not_authenticate_the_api():
    user = make_user("alice", Role.TRADER)
    client = APIClient()
    client.force_login(user)  # a Django session cookie, as the admin would have
    assert client.get("/api/v1/accounts/").status_code == 401
    assert client.post("/api/v1/orders/", {}, format="json").status_code == 401


def test_cors_answers_only_configured_origins(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://dash.example.com"]
    client = APIClient()
    preflight = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET",
                 "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization"}
    allowed = client.options("/api/v1/positions/", HTTP_ORIGIN="https://dash.example.com",
                             **preflight)
    assert allowed["Access-Control-Allow-Origin"] == "https://dash.example.com"
    refused = client.options("/api/v1/positions/", HTTP_ORIGIN="https://evil.example",
                             **preflight)
    assert "Access-Control-Allow-Origin" not in refused


@pytest.mark.parametrize("url", ["/api/v1/me/", "/api/v1/backtests/"])
def test_unknown_query_parameters_are_refused_on_older_endpoints_too(url):
    user = make_user("alice", Role.TRADER)
    response = client_for(user).get(url, {"staus": "succeeded"})
    assert response.status_code == 400 and "staus" in response.json()
    assert client_for(user).get(url).status_code == 200


def _write_routes():
    from trading.tests.test_api_permissions import api_routes

    return sorted((name, route) for name, (route, allowed) in api_routes().items()
                  if allowed & {"post", "put", "patch", "delete"}
                  and not name.startswith("token-"))  # logins: nusatrade/tests/test_ratelimit


@pytest.mark.parametrize(("name", "route"), _write_routes())
def test_every_write_fails_closed_with_json_503_when_the_limiter_is_down(name, route):
    from django.test import override_settings

    from nusatrade.tests.test_ratelimit import DEAD_STORE
    from trading.services import account_create
    from trading.tests.test_api_permissions import url_of

    user = make_user("alice", Role.TRADER)
    account = account_create("alice", name="paper")
    with override_settings(CACHES=DEAD_STORE, RATELIMIT_FAIL_OPEN=False):
        client = client_for(user)
        response = client.post(url_of(route, account.pk), {}, format="json")
        assert response.status_code == 503, (name, response.content)
        assert response["Content-Type"] == "application/json" and "detail" in response.json()
        assert client.get("/api/v1/accounts/").status_code == 200  # reads are not limited


def test_backtests_status_filter_is_validated():
    user = make_user("alice", Role.TRADER)
    response = client_for(user).get("/api/v1/backtests/", {"status": "c\x00x"})
    assert response.status_code == 400 and "status" in response.json()
    assert client_for(user).get("/api/v1/backtests/", {"status": "bogus"}).status_code == 400
