"""Backtest API: own runs only (admins all), constant query counts, detail with metrics and
trades, starting a run with field errors for bad input, the HTML report, throttling."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import user_create
from backtests.models import BacktestRun, BacktestTrade, RunStatus
from backtests.services import BacktestParams, backtest_run_create, backtest_run_execute
from backtests.tests.test_services import PERIOD, capture_task_sends
from nusatrade.ratelimit import TradingThrottle

# The project's urls plus this app's (the lead includes backtests.urls under api/v1/).
urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("backtests.urls")),
]
pytestmark = pytest.mark.urls(__name__)
PASSWORD = "correct-horse-battery-staple-42"
URL = "/api/v1/backtests/"




@pytest.fixture
def alice(db):
    return user_create("alice", PASSWORD, roles=(Role.TRADER,))


@pytest.fixture
def bob(db):
    return user_create("bob", PASSWORD, roles=(Role.TRADER,))


@pytest.fixture
def boss(db):
    return user_create("boss", PASSWORD, roles=(Role.ADMIN,))


def client_for(user) -> APIClient:
    client = APIClient()
    tokens = client.post("/api/v1/auth/token/", {"username": user.username,
                                                 "password": PASSWORD}, format="json").json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client


def finished_run(model, user, **params) -> BacktestRun:
    run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], user=user,
                              params=BacktestParams(**params), enqueue=False)
    return backtest_run_execute(run.pk)


def valid_body(ml_model, /, **changes) -> dict:
    return {"model": ml_model.pk, "start": "2021-09-01", "end": "2021-12-31", "spread_pips": "3",
            "slippage_pips": "1", **changes}


def test_anonymous_requests_are_401(db):
    assert APIClient().get(URL).status_code == 401
    assert APIClient().post(URL, {}, format="json").status_code == 401


def test_list_shows_only_your_own_runs(model, alice, bob):
    mine = finished_run(model, alice)
    finished_run(model, bob)
    body = client_for(alice).get(URL).json()
    assert len(body["results"]) == 1 and "count" not in body  # never a count of anyone's rows
    row = body["results"][0]
    assert row["id"] == mine.pk and row["created_by"] == "alice"
    assert row["status"] == "succeeded" and row["symbol"] == "XAUUSD"
    assert Decimal(row["net_profit"]) == mine.net_profit
    assert row["spread_pips"] == "3.00"


def test_admins_see_every_run(model, alice, bob, boss):
    finished_run(model, alice)
    finished_run(model, bob)
    assert len(client_for(boss).get(URL).json()["results"]) == 2


def test_list_query_count_does_not_grow_with_runs(model, alice):
    client = client_for(alice)
    finished_run(model, alice)
    with CaptureQueriesContext(connection) as one:
        client.get(URL)
    for _ in range(3):
        backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], user=alice,
                            enqueue=False)
    with CaptureQueriesContext(connection) as four:
        assert len(client.get(URL).json()["results"]) == 4
    assert len(four) == len(one)


def test_list_walks_cursor_pages_newest_first_like_every_list(model, alice, bob):
    runs = [backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], user=alice,
                                enqueue=False) for _ in range(5)]
    backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], user=bob, enqueue=False)
    client, seen, url = client_for(alice), [], URL + "?page_size=2"
    while url:
        page = client.get(url).json()
        assert set(page) == {"next", "previous", "results"}
        assert len(page["results"]) <= 2
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == [run.pk for run in sorted(runs, key=lambda r: (r.created_at, r.pk),
                                             reverse=True)]
    oldest_first = client.get(URL, {"ordering": "id"}).json()["results"]
    assert [row["id"] for row in oldest_first] == [run.pk for run in runs]


def test_list_filters_by_status_model_symbol_and_creation_time(model, alice):
    done = finished_run(model, alice)
    queued = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], user=alice,
                                 enqueue=False)
    client = client_for(alice)

    def ids(**params) -> list[int]:
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(status="succeeded") == [done.pk]
    assert ids(status="queued") == [queued.pk]
    assert ids(model=model.pk) == [queued.pk, done.pk]
    assert ids(model=model.pk + 1000) == []
    assert ids(symbol="xauusd") == [queued.pk, done.pk] and ids(symbol="EURUSD") == []
    after = queued.created_at.isoformat()
    assert ids(created_after=after) == [queued.pk]
    assert ids(created_before=after) == [done.pk]


@pytest.mark.parametrize(("params", "field"), [
    ({"status": "finished"}, "status"),
    ({"limit": "10"}, "limit"),                  # the old pagination: now unknown
    ({"offset": "10"}, "offset"),
    ({"model": "1e3"}, "model"),
    ({"created_after": "2026-01-01T00:00:00"}, "created_after"),  # naive
    ({"ordering": "net_profit"}, "ordering"),
])
def test_bad_list_parameters_are_400_naming_them(alice, params, field):
    response = client_for(alice).get(URL, params)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_forged_cursor_is_refused_like_on_every_list(alice):
    response = client_for(alice).get(URL, {"cursor": "garbage"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


def test_detail_has_metrics_parameters_curve_and_trades(model, alice):
    run = finished_run(model, alice)
    body = client_for(alice).get(f"{URL}{run.pk}/").json()
    assert body["metrics"]["trades"] == run.trade_count == len(body["trades"])
    first = BacktestTrade.objects.get(run=run, number=1)
    assert body["trades"][0]["number"] == 1
    assert Decimal(body["trades"][0]["net_pnl"]) == first.net_pnl
    assert body["parameters"]["Spread"].startswith("3 pips = 0.3 price units")
    assert body["equity_curve"][0][0] >= "2021-09-01"
    assert body["error"] == "" and body["sweep_results"] == []


def test_someone_elses_run_is_404(model, alice, bob):
    run = finished_run(model, bob)
    client = client_for(alice)
    assert client.get(f"{URL}{run.pk}/").status_code == 404
    assert client.get(f"{URL}{run.pk}/report/").status_code == 404
    assert client.get(f"{URL}999999/").status_code == 404


def test_post_starts_a_run_that_the_task_executes(model, alice, monkeypatch,
                                                  django_capture_on_commit_callbacks):
    from backtests.tasks import run_backtest

    sent = capture_task_sends(monkeypatch)
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, valid_body(model, lots="0.02"), format="json")
    assert response.json()["status"] == "queued"
    assert sent == [(response.json()["id"],)]  # queued once, after the commit
    run_backtest.apply(args=sent[0]).get()  # what the worker does
    assert response.status_code == 201, response.content
    run = BacktestRun.objects.get(pk=response.json()["id"])
    assert run.created_by == alice and run.lots == Decimal("0.02")
    assert run.status == RunStatus.SUCCEEDED
    assert run.trade_count == BacktestTrade.objects.filter(run=run).count()


def test_post_on_the_training_window_is_refused_on_the_start_field(model, alice):
    response = client_for(alice).post(URL, valid_body(model, start="2021-05-01"),
                                      format="json")
    assert response.status_code == 400
    message = response.json()["start"][0]
    assert f"model #{model.pk}" in message and "first allowed start is 2021-09-01" in message
    assert not BacktestRun.objects.exists()


@pytest.mark.parametrize(("changes", "field"), [
    ({"lots": "0"}, "lots"), ({"lots": "-0.01"}, "lots"), ({"lots": "0.015"}, "lots"),
    ({"lots": "1e9"}, "lots"), ({"lots": "NaN"}, "lots"), ({"lots": "abc"}, "lots"),
    ({"lots": "200"}, "lots"), ({"spread_pips": "-1"}, "spread_pips"),
    ({"slippage_pips": "Infinity"}, "slippage_pips"), ({"sl_atr": "nan"}, "sl_atr"),
    ({"threshold": "0.4"}, "threshold"), ({"max_bars_held": 0}, "max_bars_held"),
    ({"start": "yesterday"}, "start"), ({"end": "2021-08-01"}, "end"),
    ({"model": 987654}, "model"), ({"model": "x"}, "model"),
    ({"initial_equity": "0"}, "initial_equity"),
])
def test_bad_input_is_400_with_the_field_named_and_nothing_stored(model, alice, changes, field):
    response = client_for(alice).post(URL, valid_body(model, **changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not BacktestRun.objects.exists()


def test_missing_fields_are_named(model, alice):
    response = client_for(alice).post(URL, {}, format="json")
    assert response.status_code == 400
    assert {"model", "start", "end"} <= set(response.json())


def test_report_is_the_self_contained_html_with_a_strict_csp(model, alice):
    run = finished_run(model, alice)
    response = client_for(alice).get(f"{URL}{run.pk}/report/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert html == run.report.html and html.count("<svg") == 3


def test_report_of_an_unfinished_run_is_409(model, alice):
    run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], user=alice,
                              enqueue=False)
    response = client_for(alice).get(f"{URL}{run.pk}/report/")
    assert response.status_code == 409 and "queued" in response.json()["detail"]


def test_starting_runs_is_rate_limited(model, alice, settings):
    from backtests.views import BacktestRunViewSet

    assert BacktestRunViewSet(action="create").get_throttles()[0].__class__ is TradingThrottle
    settings.RATELIMIT_TRADING = "2/m"
    client = client_for(alice)
    codes = [client.post(URL, valid_body(model, model=0), format="json").status_code
             for _ in range(3)]
    assert codes == [400, 400, 429]
    assert client.get(URL).status_code == 200  # reads are not limited by it


def test_costs_and_margin_can_be_posted_and_the_detail_has_the_evidence(model, alice):
    response = client_for(alice).post(URL, valid_body(model, commission_per_lot="7",
                                                      swap_long_per_lot="-3.2",
                                                      leverage=30, sweep=True,
                                                      threshold="0.5", use_risk=False),
                                      format="json")
    assert response.status_code == 201, response.content
    backtest_run_execute(response.json()["id"])  # what the worker does
    body = client_for(alice).get(f"{URL}{response.json()['id']}/").json()
    assert body["status"] == "succeeded", body["error"]
    assert Decimal(body["commission_per_lot"]) == 7 and body["leverage"] == 30
    assert Decimal(body["swap_long_per_lot"]) == Decimal("-3.2")
    assert 0 <= body["deflated_sharpe"] <= 1 and 0 <= body["pbo"] <= 1
    ci = body["metrics"]["evidence"]["intervals"]
    assert set(ci) == {"win_rate", "profit_factor", "expectancy", "sharpe"}
    assert ci["expectancy"]["low"] <= ci["expectancy"]["estimate"] <= ci["expectancy"]["high"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"commission_per_lot": "-1"}, "commission_per_lot"),
    ({"commission_per_lot": "NaN"}, "commission_per_lot"),
    ({"leverage": 0}, "leverage"), ({"leverage": "abc"}, "leverage"),
    ({"stop_out_level": "-5"}, "stop_out_level"),
    ({"swap_short_per_lot": "1e9"}, "swap_short_per_lot"),
])
def test_bad_costs_are_400_with_the_field_named(model, alice, changes, field):
    response = client_for(alice).post(URL, valid_body(model, **changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not BacktestRun.objects.exists()


def test_post_with_the_task_broker_down_is_a_json_503_and_the_run_is_marked_failed(
        model, alice, monkeypatch, transactional_db):
    # Autocommit (no test transaction), as in production: on_commit runs inside the request.
    # A hung or dead broker makes delay() raise after its socket timeouts (nusatrade tests:
    # test_redis_timeouts); the API must answer a clean 503, never a 500 or a stuck run.
    from kombu.exceptions import OperationalError

    from backtests.tasks import run_backtest

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(run_backtest, "delay", broker_down)
    response = client_for(alice).post(URL, valid_body(model), format="json")
    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("application/json")
    assert "task queue is unavailable" in response.json()["detail"]
    run = BacktestRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "task broker is unavailable (OperationalError)" in run.error
