"""Trader API reads: own rows only (lists never show or count others'), IDOR on every detail
route, filters, strict query parameters, cursor pages, constant query counts, the equity
curve, account figures from trading.pnl, and the streaming CSV export in constant memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from marketdata.models import Bar
from trading.api import selectors
from trading.models import Instrument, Order, Position, PositionStatus, Signal
from trading.services import account_create
from trading.tests.apidata import (
    T0,
    client_for,
    make_user,
    ml_model,
    order,
    position,
    signal,
    snapshot,
    world,
)
from trading.tests.test_api_permissions import api_routes, url_of

pytestmark = pytest.mark.django_db
LISTS = {"accounts": "/api/v1/accounts/", "positions": "/api/v1/positions/",
         "orders": "/api/v1/orders/", "signals": "/api/v1/signals/"}


def all_pages(client, url: str, **params) -> list[dict]:
    rows, page = [], client.get(url, params).json()
    rows += page["results"]
    while page["next"]:
        page = client.get(page["next"]).json()
        rows += page["results"]
    return rows


@pytest.mark.parametrize("kind", list(LISTS))
def test_lists_show_only_your_own_rows_and_no_counts(kind):
    w = world(rows=3)
    body = client_for(w.bob).get(LISTS[kind]).json()
    assert set(body) == {"next", "previous", "results"}  # no "count" of anything
    accounts = {row["id"] if kind == "accounts" else row["account"] for row in body["results"]}
    assert accounts == {w.account_b.pk}
    # Filtering on alice's account is simply empty, never an error that confirms it exists.
    if kind != "accounts":
        other = client_for(w.bob).get(LISTS[kind], {"account": w.account_a.pk})
        assert other.status_code == 200 and other.json()["results"] == []


def test_admin_lists_every_account():
    w = world(rows=1)
    ids = {row["id"] for row in client_for(w.boss).get(LISTS["accounts"]).json()["results"]}
    assert ids == {w.account_a.pk, w.account_b.pk}


# Detail routes whose object is not a trading account's: models are shared by design, and
# backtest runs are scoped (and IDOR-tested) by backtests/tests/test_api.py.
NOT_ACCOUNT_OBJECTS = {"mlmodel-detail", "backtest-detail", "backtest-report",
                       "readiness-detail"}  # readiness: model evidence (readiness/tests)


def _detail_routes():
    return sorted((name, route) for name, (route, allowed) in api_routes().items()
                  if ("<pk>" in route or "(?P<pk>" in route)
                  and name not in NOT_ACCOUNT_OBJECTS)


def test_every_detail_route_is_idor_tested_or_named_as_shared():
    details = {name for name, (route, _) in api_routes().items()
               if "<pk>" in route or "(?P<pk>" in route}
    assert details >= NOT_ACCOUNT_OBJECTS
    assert {name for name, _ in _detail_routes()} == details - NOT_ACCOUNT_OBJECTS


@pytest.mark.parametrize(("name", "route"), _detail_routes())
def test_idor_every_detail_route_is_404_for_someone_elses_object(name, route):
    w = world(rows=1)
    kind = name.split("-")[0]
    ids = {"account": w.account_a.pk, "position": w.account_a.positions.first().pk,
           "order": w.account_a.orders.first().pk, "signal": w.account_a.signals.first().pk,
           "performance": snapshot(w.account_a).pk}
    _route, allowed = api_routes()[name]
    method = "post" if "post" in allowed else "get"
    for pk in (ids[kind], 10**12, "x"):  # someone else's, a missing one, garbage
        response = getattr(client_for(w.bob), method)(url_of(route, pk), {}, format="json")
        assert response.status_code == 404, (name, pk, response.content)
        assert response.json() == {"detail": response.json()["detail"]}
    # The owner reaches the same URL.
    mine = getattr(client_for(w.alice), method)(url_of(route, ids[kind]), {}, format="json")
    assert mine.status_code in (200, 201, 409)


def test_filters_by_account_symbol_model_side_status_and_dates():
    w = world(rows=1)
    other_model = ml_model("gb", 1)
    a = w.account_a
    position(a, 10, model=other_model, closed=False, side="SELL")
    position(a, 20, model=w.model, closed=True, side="BUY")
    client = client_for(w.alice)

    def ids(**params):
        response = client.get(LISTS["positions"], params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    mine = set(Position.objects.filter(account=a).values_list("id", flat=True))
    assert ids(account=a.pk) == mine
    assert ids(symbol="xauusd") == mine
    assert ids(symbol="EURUSD") == set()
    assert ids(model=other_model.pk) == {Position.objects.get(model=other_model).pk}
    assert ids(side="SELL") == set(Position.objects.filter(account=a, side="SELL")
                                   .values_list("id", flat=True))
    assert ids(status="open") == set(Position.objects.filter(
        account=a, status=PositionStatus.OPEN).values_list("id", flat=True))
    start = (T0 + timedelta(hours=10)).isoformat()
    end = (T0 + timedelta(hours=20)).isoformat()
    assert ids(opened_after=start, opened_before=end) == {
        Position.objects.get(account=a, broker_ticket=1010).pk}
    # Orders and signals filter the same way (status and side of their own).
    assert client.get(LISTS["orders"], {"status": "filled", "side": "BUY"}).status_code == 200
    held = client.get(LISTS["signals"], {"side": "HOLD"}).json()["results"]
    assert held and all(s["decision"] == "HOLD" and s["reason"] for s in held)


@pytest.mark.parametrize(("params", "field"), [
    ({"acount": "1"}, "acount"),                          # a typo is not "no filter"
    ({"opened_after": "2026-01-01T00:00:00"}, "opened_after"),  # naive
    ({"opened_after": "yesterday"}, "opened_after"),
    ({"side": "LONG"}, "side"),
    ({"account": "1e3"}, "account"),
    ({"ordering": "net_pnl"}, "ordering"),                # not an ordering field
    ({"format": "api"}, "format"),
    ({"symbol": "XAU\x00USD"}, "symbol"),                # PostgreSQL refuses NUL
])
def test_bad_or_unknown_query_parameters_are_400_naming_them(params, field):
    w = world(rows=1)
    response = client_for(w.alice).get(LISTS["positions"], params)
    assert response.status_code == 400
    assert field in response.json()


def test_unknown_query_parameter_on_a_detail_route_is_400():
    w = world(rows=1)
    response = client_for(w.alice).get(f"/api/v1/accounts/{w.account_a.pk}/", {"x": "1"})
    assert response.status_code == 400 and "x" in response.json()


def test_cursor_pages_walk_every_row_once_in_order():
    w = world(rows=1)
    for i in range(2, 13):
        position(w.account_a, i)
    rows = all_pages(client_for(w.alice), LISTS["positions"], page_size=5)
    expected = list(Position.objects.filter(account=w.account_a)
                    .order_by("-entry_time", "-id").values_list("id", flat=True))
    assert [r["id"] for r in rows] == expected
    ascending = all_pages(client_for(w.alice), LISTS["positions"], page_size=4,
                          ordering="entry_time")
    assert [r["id"] for r in ascending] == expected[::-1]


def _bulk(kind: str, account, n: int, model) -> None:
    if kind == "accounts":
        position(account, 0, model=model, closed=False)
        for i in range(n - 1):
            extra = account_create(account.owner.username, name=f"extra {i}")
            position(extra, 0, model=model, closed=False)
            position(extra, 1, model=model, closed=True)
        return
    maker = {"positions": position, "orders": order, "signals": signal}[kind]
    for i in range(n):
        maker(account, 100 + i, model=model)


@pytest.mark.parametrize("kind", [*LISTS, "models", "performance"])
def test_query_count_is_the_same_for_1_and_100_rows(kind):
    counts = []
    for n in (1, 100):
        user = make_user(f"u{n}", Role.TRADER)
        account = account_create(user.username, name="main")
        model = ml_model(f"m{n}", 1)
        if kind == "models":
            for i in range(n - 1):
                ml_model(f"m{n}", i + 2)
        elif kind == "performance":
            for i in range(n):
                snapshot(account, day=1 + i % 28) if i < 28 else snapshot(
                    account, ml_model(f"p{n}", i), day=1 + i % 28)
        else:
            _bulk(kind, account, n, model)
        if kind == "accounts":
            # Marks for the open positions: one stored bar of the paper account's timeframe.
            Bar.objects.get_or_create(
                instrument=Instrument.objects.get(symbol="XAUUSD"),
                timeframe=account.paper.timeframe, time=T0,
                defaults={"open": 2350, "high": 2352, "low": 2349,
                          "close": Decimal("2351.5"), "tick_volume": 1})
        client = client_for(user)
        url = {"models": "/api/v1/models/", "performance": "/api/v1/performance/"}.get(
            kind) or LISTS[kind]
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"page_size": 100})
        assert response.status_code == 200
        assert len(response.json()["results"]) >= n if kind == "models" else n
        counts.append(len(queries))
    assert counts[0] == counts[1], f"{kind}: {counts[0]} queries for 1 row, {counts[1]} for 100"


def test_account_figures_use_trading_pnl_and_say_what_is_marked():
    user = make_user("carol", Role.TRADER)
    account = account_create("carol", name="paper", balance=Decimal("5000"))
    model = ml_model()
    position(account, 1, model=model, closed=True)    # +12.50 realised
    open_one = position(account, 2, model=model, closed=False)  # BUY 0.10 @ 2350.00
    Bar.objects.create(instrument=Instrument.objects.get(symbol="XAUUSD"),
                       timeframe=account.paper.timeframe, time=T0, open=2350, high=2353,
                       low=2349, close=Decimal("2352.50"), tick_volume=1)
    body = client_for(user).get(f"/api/v1/accounts/{account.pk}/").json()
    figures = body["figures"]
    assert figures["realised_pnl"] == "12.50"
    assert figures["balance"] == "5000.00"  # the paper broker's balance (it saw no fills)
    # RELIABILITY's worked example: BUY 0.10 lot 2350.00 -> 2352.50 = +25.00 USD.
    assert figures["open_pnl"] == "25.00" and figures["equity"] == "5025.00"
    assert figures["margin"] == "235.00"  # 0.10 x 100 x 2350 / 100
    assert figures["marked_at"] == "2026-03-02T09:00:00Z"
    assert body["risk_policy"]["lots"] == "0.0100" and body["kill_switch"] is None
    assert body["trading_enabled"] is True and "password_env_var" not in body
    assert open_one.status == PositionStatus.OPEN


def test_account_figures_without_a_stored_bar_are_null_not_guessed():
    w = world(rows=2)  # one open position, no bars stored
    figures = client_for(w.alice).get(f"/api/v1/accounts/{w.account_a.pk}/").json()["figures"]
    assert figures["open_pnl"] is None and figures["equity"] is None
    assert figures["open_positions"] == 1


def test_equity_curve_is_the_realised_balance_and_downsamples_on_request():
    w = world(rows=1)
    for i in range(1, 41):
        position(w.account_a, i, closed=True)
    url = f"/api/v1/accounts/{w.account_a.pk}/equity/"
    full = client_for(w.alice).get(url).json()
    nets = list(Position.objects.filter(account=w.account_a, status="closed")
                .order_by("exit_time", "id").values_list("net_pnl", flat=True))
    assert len(full["points"]) == len(nets) and not full["downsampled"]
    assert Decimal(full["points"][-1]["balance"]) == Decimal("10000.00") + sum(nets)
    small = client_for(w.alice).get(url, {"points": 5}).json()
    assert len(small["points"]) <= 5 and small["points"][-1] == full["points"][-1]
    assert client_for(w.alice).get(url, {"points": "1"}).status_code == 400
    assert client_for(w.alice).get(url, {"start": "2026-03-02T00:00:00"}).status_code == 400
    later = client_for(w.alice).get(url, {"start": "2026-03-02T20:00:00Z"}).json()
    assert later["points"] and all(p["time"] >= "2026-03-02T20:00:00Z"
                                   for p in later["points"])
    assert later["points"][-1]["balance"] == full["points"][-1]["balance"]


def test_downsample_keeps_the_last_point_of_each_bucket():
    curve = [selectors.EquityPoint(T0 + timedelta(hours=i), Decimal(i), Decimal(1))
             for i in range(10)]
    kept = selectors.downsample(curve, 3)
    assert [p.balance for p in kept] == [Decimal(2), Decimal(5), Decimal(9)]
    assert selectors.downsample(curve, 20) == curve


def test_orders_show_retcode_meaning_and_client_order_id():
    w = world(rows=1)
    rejected = order(w.account_a, 7, status="rejected", retcode=10016)
    row = client_for(w.alice).get(f"/api/v1/orders/{rejected.pk}/").json()
    assert row["retcode"] == 10016 and row["retcode_meaning"] == "Invalid stops in the request"
    assert row["client_order_id"] == "o7"


def _bulk_positions(account, n: int) -> None:
    rows = [Position(account=account, symbol="XAUUSD", side="BUY", volume=Decimal("0.10"),
                     entry_price=Decimal("2350.00"), entry_time=T0 + timedelta(minutes=i),
                     status=PositionStatus.CLOSED, exit_time=T0 + timedelta(minutes=i + 1),
                     exit_price=Decimal("2351.00"), gross_pnl=Decimal("10.00"),
                     net_pnl=Decimal("10.00"), broker_ticket=i + 1) for i in range(n)]
    Position.objects.bulk_create(rows, batch_size=5000)


def _stream_peak(client, n_expected: int) -> tuple[int, int]:
    """Consume the export line by line; (peak traced bytes while streaming, CSV bytes)."""
    response = client.get("/api/v1/positions/export.csv")
    assert response.status_code == 200 and response.streaming
    tracemalloc.start()
    total, lines = 0, 0
    for chunk in response.streaming_content:
        total += len(chunk)
        lines += 1
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert lines == n_expected + 1
    return peak, total


def test_csv_export_streams_in_constant_memory():
    user = make_user("dana", Role.TRADER)
    account = account_create("dana", name="paper")
    client = client_for(user)
    _bulk_positions(account, 2_000)
    small_peak, small_bytes = _stream_peak(client, 2_000)
    Position.objects.filter(account=account).delete()
    _bulk_positions(account, 20_000)
    large_peak, large_bytes = _stream_peak(client, 20_000)
    # Ten times the rows, ten times the bytes out, but the same working set: the rows come
    # through a chunked iterator (.iterator(chunk_size)), never all at once.
    assert large_bytes > 9 * small_bytes
    assert large_peak < 2 * small_peak + 256 * 1024, (small_peak, large_peak)
    # Baseline in the same test: what holding the same 20,000 rows at once costs.
    tracemalloc.start()
    everything = list(Position.objects.filter(account=account).values_list(
        *selectors.EXPORT_COLUMNS))
    _current, loaded_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(everything) == 20_000
    assert large_peak < loaded_peak / 3, (large_peak, loaded_peak)


def test_csv_export_is_scoped_and_filtered_like_the_list():
    w = world(rows=3)
    response = client_for(w.bob).get("/api/v1/positions/export.csv", {"status": "closed"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows and {r["account_id"] for r in rows} == {str(w.account_b.pk)}
    assert {r["status"] for r in rows} == {"closed"}
    bad = client_for(w.bob).get("/api/v1/positions/export.csv", {"page_size": "5"})
    assert bad.status_code == 400 and bad["Content-Type"] == "application/json"


def test_models_list_shows_metrics_threshold_lookahead_and_window():
    w = world(rows=1)
    ml_model("gb", 1, status="retired", metrics={"lookahead": {"clean": True}, "sharpe": 1.2})
    rows = client_for(w.bob).get("/api/v1/models/", {"status": "retired"}).json()["results"]
    assert len(rows) == 1
    assert rows[0]["lookahead_clean"] is True and rows[0]["metrics"]["sharpe"] == 1.2
    assert rows[0]["training_window"]["start"].endswith("Z") and rows[0]["threshold"] == 0.6


def test_signals_carry_probabilities_and_hold_reasons():
    w = world(rows=1)
    pk = Signal.objects.filter(account=w.account_a).first().pk
    row = client_for(w.alice).get(f"/api/v1/signals/{pk}/").json()
    assert row["decision"] == "HOLD" and row["reason"].startswith("probability below")
    assert row["probabilities"] == {"BUY": 0.4, "SELL": 0.3, "HOLD": 0.3}
    assert Order.objects.count() == 2


def test_performance_shows_your_accounts_snapshots_and_model_wide_ones_to_admins_only():
    w = world(rows=1)
    mine = snapshot(w.account_a)
    pair = snapshot(w.account_a, w.model, day=2)
    snapshot(w.account_b)
    model_wide = snapshot(None, w.model)
    rows = client_for(w.alice).get("/api/v1/performance/").json()["results"]
    assert {r["id"] for r in rows} == {mine.pk, pair.pk}
    assert rows[0]["versus_backtest"]["win_rate"]["backtest"] == 0.55
    scoped = client_for(w.alice).get("/api/v1/performance/", {"scope": "pair"}).json()
    assert [r["id"] for r in scoped["results"]] == [pair.pk]
    admin = client_for(w.boss).get("/api/v1/performance/", {"scope": "model"}).json()
    assert [r["id"] for r in admin["results"]] == [model_wide.pk]
    assert client_for(w.alice).get(f"/api/v1/performance/{model_wide.pk}/").status_code == 404


def test_dates_with_offsets_postgresql_refuses_are_converted_to_utc():
    w = world(rows=1)
    response = client_for(w.alice).get(LISTS["signals"],
                                       {"bar_before": "0699-11-30T20:11:33.252491-16:07"})
    assert response.status_code == 200 and response.json()["results"] == []
    far = client_for(w.alice).get(LISTS["signals"], {"bar_before": "0001-01-01T00:00:00+10:00"})
    assert far.status_code == 400 and "bar_before" in far.json()
