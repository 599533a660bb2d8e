"""Backtest admin (behind the OTP login): list with key metrics, detail with charts and trades,
the full report, compare two runs side by side, and starting a run from a form."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_otp.oath import TOTP

from accounts.models import Role
from accounts.services import totp_device_create, user_create
from backtests.models import BacktestRun, RunStatus
from backtests.services import BacktestParams, backtest_run_create, backtest_run_execute
from backtests.tests.test_services import PERIOD, capture_task_sends

PASSWORD = "correct-horse-battery-staple-42"
LIST = "/admin/backtests/backtestrun/"




@pytest.fixture
def ops(db) -> Client:
    """A superuser logged in with password and TOTP."""
    user = user_create("ops1", PASSWORD, roles=(Role.OPS,), staff=True, superuser=True)
    device = totp_device_create(user).device
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {
        "username": "ops1", "password": PASSWORD, "otp_device": device.persistent_id,
        "otp_token": f"{totp.token():0{device.digits}d}"})
    assert response.status_code == 302
    return client


def finished_run(model, **params) -> BacktestRun:
    run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1],
                              params=BacktestParams(**params), enqueue=False)
    return backtest_run_execute(run.pk)


def test_admin_pages_need_the_second_factor(model):
    run = finished_run(model)
    user_create("ops2", PASSWORD, staff=True, superuser=True)
    client = Client()
    client.login(username="ops2", password=PASSWORD)  # password only, no OTP device
    for url in (LIST, f"{LIST}{run.pk}/change/", f"{LIST}{run.pk}/report/", f"{LIST}add/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_list_shows_key_metrics_with_constant_queries(model, ops, django_assert_max_num_queries):
    run = finished_run(model)
    page = ops.get(LIST).content.decode()
    assert f"{run.net_profit:,.2f}" in page
    assert f"{run.max_drawdown_pct:.2f}" in page and "spread 3, slip 1" in page
    assert "XAUUSD-H1-test" in page
    for _ in range(4):
        finished_run(model)
    with django_assert_max_num_queries(12):
        assert ops.get(LIST).status_code == 200


def test_detail_page_has_the_charts_metrics_parameters_and_trades(model, ops):
    run = finished_run(model)
    page = ops.get(f"{LIST}{run.pk}/change/").content.decode()
    assert page.count('<g id="figure_1">') == 3
    assert "Profit factor" in page and "3 pips = 0.3 price units" in page
    first = run.trades.get(number=1)
    assert f"{first.entry_time:%Y-%m-%d %H:%M}" in page and str(first.net_pnl) in page
    assert f"{LIST}{run.pk}/report/" in page
    assert 'name="_save"' not in page  # read-only: a run is a record


def test_failed_run_shows_its_error(model, ops, settings):
    run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], enqueue=False)
    (settings.ARTIFACTS_DIR / model.artifact_path).unlink()
    run = backtest_run_execute(run.pk)
    page = ops.get(f"{LIST}{run.pk}/change/").content.decode()
    assert run.status == RunStatus.FAILED and "This backtest failed" in page
    assert "is missing" in page


def test_report_page_is_the_stored_html_with_a_strict_csp(model, ops):
    run = finished_run(model)
    response = ops.get(f"{LIST}{run.pk}/report/")
    assert response.status_code == 200
    assert response.content.decode() == run.report.html
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_compare_two_runs_side_by_side(model, ops):
    cheap = finished_run(model, spread_pips=2)
    dear = finished_run(model, spread_pips=5)
    response = ops.post(LIST, {"action": "compare_runs",
                               "_selected_action": [cheap.pk, dear.pk]})
    assert response.status_code == 302
    page = ops.get(response["Location"]).content.decode()
    assert f"Backtest #{cheap.pk}" in page and f"Backtest #{dear.pk}" in page
    assert "2 pips = 0.2 price units" in page and "5 pips = 0.5 price units" in page
    assert page.count('<g id="figure_1">') == 6
    row = re.search(r"<th>Net profit</th>(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r'<td class="n">([^<]*)</td>', row)
    assert cells[0] == f"{cheap.metrics['net_profit']:,.2f}"
    assert cells[1] == f"{dear.metrics['net_profit']:,.2f}"


def test_compare_needs_exactly_two_runs(model, ops):
    run = finished_run(model)
    response = ops.post(LIST, {"action": "compare_runs", "_selected_action": [run.pk]},
                        follow=True)
    assert "Select exactly two runs to compare (1 selected)" in response.content.decode()


def start_form(model, **changes) -> dict:
    return {"model": model.pk, "start": "2021-09-01", "end": "2021-12-31", "spread_pips": "3",
            "slippage_pips": "1", "lots": "0.01", "sl_atr": "1.5", "tp_atr": "3",
            "use_risk": "on", "initial_equity": "10000", **changes}


def test_start_form_creates_a_run_through_the_service(model, ops, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    from backtests.tasks import run_backtest

    sent = capture_task_sends(monkeypatch)
    assert "Start backtest" in ops.get(f"{LIST}add/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(f"{LIST}add/", start_form(model, sweep="on"))
    run = BacktestRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{LIST}{run.pk}/change/"
    assert run.created_by.username == "ops1" and run.sweep and run.status == RunStatus.QUEUED
    assert sent == [(run.pk,)]
    run_backtest.apply(args=sent[0]).get()  # what the worker does
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and len(run.sweep_results) == 40


def test_start_form_refuses_the_training_window_on_the_start_field(model, ops):
    response = ops.post(f"{LIST}add/", start_form(model, start="2021-08-01"))
    page = response.content.decode()
    assert response.status_code == 200 and not BacktestRun.objects.exists()
    assert "first allowed start is 2021-09-01" in page
    assert re.search(r'errors[^>]*>\s*<ul class="errorlist"[^>]*><li>refusing to backtest',
                     page)
