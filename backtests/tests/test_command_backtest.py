"""The ``backtest`` and ``backtest_demo`` commands: tables, refusal, sweep, report files."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backtests.models import BacktestRun, RunStatus
from mlops.services import model_activate, model_check_lookahead


def run_command(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def test_backtest_prints_the_metrics_table_and_stores_the_run(model):
    text = run_command("backtest", "--model", str(model.pk), "--start", "2021-09-01",
                       "--end", "2021-12-31", "--spread", "3", "--slippage", "1")
    run = BacktestRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.created_by is None
    assert f"Backtest #{run.pk}" in text and "SYNTHETIC DATA" in text
    assert "3 pips = 0.3 price units" in text
    assert "metric" in text and "Profit factor" in text and "Max drawdown" in text
    assert f"{run.trade_count:,} trades" in text
    assert "Sweep" not in text


def test_backtest_on_the_training_period_is_refused_with_the_first_allowed_day(model):
    with pytest.raises(CommandError) as caught:
        run_command("backtest", "--model", str(model.pk), "--start", "2021-06-01",
                    "--end", "2021-12-31")
    message = str(caught.value)
    assert f"model #{model.pk}" in message and "2021-01-04 00:00 to 2021-08-31 23:00 UTC" in message
    assert "first allowed start is 2021-09-01" in message
    assert not BacktestRun.objects.exists()


def test_default_period_is_from_the_training_windows_end_to_the_last_bar(model):
    run_command("backtest", "--model", str(model.pk))
    run = BacktestRun.objects.get()
    assert str(run.start) == "2021-09-01" and str(run.end) == "2022-01-04"


def test_sweep_prints_one_table_of_the_seeds_grid(model):
    text = run_command("backtest", "--model", str(model.pk), "--start", "2021-09-01",
                       "--end", "2021-12-31", "--sweep", "--threshold", "0.55")
    lines = text[text.index("Sweep:"):].splitlines()
    header, rows = lines[1], [line for line in lines[3:] if line.strip()
                              and not line.startswith("Backtest #")]
    assert header.split()[:3] == ["spread", "slippage", "threshold"]
    grid_rows = [r for r in rows if r.split()[0] in {"2", "3", "4", "5"}]
    assert len(grid_rows) == 40
    assert sum("<- this run" in r for r in grid_rows) == 1


def test_report_option_writes_a_self_contained_html_file(model, tmp_path):
    path = tmp_path / "out" / "report.html"
    text = run_command("backtest", "--model", str(model.pk), "--start", "2021-09-01",
                       "--end", "2021-12-31", "--report", str(path))
    html = path.read_text()
    assert f"Report: {path}" in text
    assert html.count("<svg") == 3 and "Monthly returns" in html and "Trades" in html
    # Nothing is fetched: no scripts, no stylesheet links, only in-document references.
    assert "<script" not in html and "<link" not in html
    assert re.findall(r'(?:src|href)="(?!#|data:)', html) == []


@pytest.mark.parametrize(("args", "expected"), [
    (["--spread", "abc"], "invalid pips value"),
    (["--lots", "0.015"], "multiple of the volume step"),
    (["--threshold", "0.4"], "threshold must be from 0.5"),
    (["--start", "2021-13-01"], "invalid day value"),
])
def test_bad_options_are_refused_clearly(model, args, expected):
    with pytest.raises(CommandError, match=expected):
        run_command("backtest", "--model", str(model.pk), *args)
    assert not BacktestRun.objects.exists()


def test_unknown_model_is_refused(db):
    with pytest.raises(CommandError, match="no ML model with id 404"):
        run_command("backtest", "--model", "404")


def test_help_says_spread_and_slippage_are_pips():
    from backtests.management.commands.backtest import Command

    parser = Command().create_parser("manage.py", "backtest")
    text = parser.format_help()
    assert "spread in PIPS" in text and "slippage in PIPS" in text
    assert "3 pips = 0.30 price units" in text


def test_demo_backtests_the_active_model_after_its_training_window(model, settings, tmp_path):
    settings.REPORTS_DIR = tmp_path / "reports"
    model_check_lookahead(model, points=3, window=20, per_kind=1)  # activation requires it
    model_activate(model, None, "test: the demo picks the active model")
    text = run_command("backtest_demo")
    run = BacktestRun.objects.get()
    assert run.model_id == model.pk and str(run.start) == "2021-09-01" and run.sweep
    assert len(run.sweep_results) == 40 and "Sweep:" in text
    path = settings.REPORTS_DIR / f"backtest-{run.pk}-model-{model.pk}-2021-09-01-2022-01-04.html"
    assert f"Report: {path.resolve()}" in text
    assert path.read_text().count("<svg") == 3


def test_demo_without_a_held_out_period_says_how_to_get_one(model):
    from mlops.models import MLModel

    MLModel.objects.filter(pk=model.pk).update(data_end="2022-01-04T05:00:00Z")
    with pytest.raises(CommandError, match=r"no held-out period.*--end 2022-12-31"):
        run_command("backtest_demo", "--model", str(model.pk))


def test_demo_without_models_says_to_train_first(db):
    with pytest.raises(CommandError, match="run ml_demo"):
        run_command("backtest_demo")


def test_json_prints_metrics_trades_deflated_sharpe_and_pbo(model):
    import json

    text = run_command("backtest", "--model", str(model.pk), "--start", "2021-09-01",
                       "--end", "2021-12-31", "--sweep", "--threshold", "0.5", "--no-risk",
                       "--json")
    body = json.loads(text)
    run = BacktestRun.objects.get()
    assert body["run"] == run.pk and body["metrics"]["trades"] == run.trade_count
    assert 0 <= body["deflated_sharpe"] <= 1 and 0 <= body["pbo"] <= 1
    assert body["deflated_sharpe"] == run.deflated_sharpe and body["pbo"] == run.pbo
    assert body["metrics"]["evidence"]["deflated_sharpe"]["trials"] == 40
    first = body["trades"][0]
    assert set(first) >= {"entry_time", "exit_time", "side", "entry_price", "exit_price",
                          "volume", "net_pnl", "exit_reason"}
    assert len(body["trades"]) == run.trade_count


def test_commission_swap_and_margin_reach_the_run(model):
    text = run_command("backtest", "--model", str(model.pk), "--start", "2021-09-01",
                       "--end", "2021-12-31", "--threshold", "0.5", "--no-risk",
                       "--commission", "7", "--swap-long", "-2.5", "--swap-short", "1",
                       "--leverage", "50", "--stop-out", "30")
    run = BacktestRun.objects.get()
    assert (run.commission_per_lot, run.swap_long_per_lot, run.leverage) == (7, -2.5, 50)
    assert run.params["engine"]["commission_per_lot"] == 7.0
    assert run.params["engine"]["stop_out_level"] == 30.0
    assert run.metrics["commissions"] == pytest.approx(0.07 * run.trade_count)
    assert "commission 7 per lot per round trip" in text
    assert "leverage 1:50; stop-out below a 30% margin level" in text
    assert "How much to believe it" in text and "Deflated Sharpe Ratio" in text


def test_commission_defaults_to_the_instruments(model):
    run_command("backtest", "--model", str(model.pk), "--start", "2021-09-01",
                "--end", "2021-12-31")
    run = BacktestRun.objects.get()
    assert run.commission_per_lot == 0 and run.leverage == 100 and run.stop_out_level == 50
