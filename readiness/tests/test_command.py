"""``manage.py readiness``: the per-criterion table or one JSON document, exit status 0 for
GO and 3 for NO-GO, CommandError (nothing stored) for a refused run."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backtests.models import BacktestRun
from mlops.models import MLModel, ModelStatus
from readiness.management.commands.readiness import NO_GO_EXIT
from readiness.models import ReadinessReport

pytestmark = pytest.mark.django_db
# Thresholds every run of the small test world clears: the GO path of the command.
LENIENT = {"min_win_rate": 0.0, "min_profit_factor": 0.0, "max_drawdown_pct": 100.0,
           "min_trades": 0, "max_stop_conditions": 1000, "min_agreement": 0.0,
           "min_deflated_sharpe": 0.0, "max_pbo": 1.0}


def run(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("readiness", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_json_is_one_document_with_the_verdict_and_every_criterion_and_exit_3(world):
    code, out, err = run("--model", str(world.pk), "--days", "5", "--json")
    doc = json.loads(out)   # nothing else on stdout
    report = ReadinessReport.objects.get()
    assert doc["verdict"] == report.verdict == "NO-GO"   # 10 held-out trades < 30
    assert code == NO_GO_EXIT == 3
    assert {c["name"] for c in doc["criteria"]} == {
        "win_rate", "profit_factor", "max_drawdown", "min_trades", "stop_conditions",
        "replay_agreement", "reconciliation", "lookahead", "deflated_sharpe", "pbo"}
    for criterion in doc["criteria"]:
        assert {"measured", "threshold", "low", "high", "passed", "reason"} <= set(criterion)
    assert doc["reasons"] == [c["reason"] for c in doc["criteria"] if not c["passed"]]
    assert doc["figures"]["trades"] == BacktestRun.objects.get(pk=doc["backtest_run"]).trade_count
    assert doc["report_path"] == report.report_path and err == ""


def test_text_lists_each_criterion_and_go_exits_0(world, settings, tmp_path):
    settings.READINESS_THRESHOLDS = LENIENT
    path = tmp_path / "r.html"
    code, out, err = run("--model", str(world.pk), "--days", "5", "--report", str(path))
    report = ReadinessReport.objects.get()
    assert (code, report.verdict) == (0, "GO")
    assert "Verdict: GO" in out and f"Report: {path}" in out and path.exists()
    for criterion in report.criteria:
        assert criterion["label"] in out
    assert out.count("PASS") == len(report.criteria)
    assert "Held-out backtest" in err and "Replay 5 day(s)" in err   # progress on stderr


def test_a_model_that_is_not_active_is_refused_unless_asked_to_activate(world):
    MLModel.objects.filter(pk=world.pk).update(status=ModelStatus.CANDIDATE)
    with pytest.raises(CommandError, match=r"not the active XAUUSD H1 model \(none is active"):
        run("--model", str(world.pk), "--days", "5")
    assert not ReadinessReport.objects.exists() and not BacktestRun.objects.exists()
    # --activate: activated through the audited rules (the look-ahead check runs first),
    # recorded in the report, and the model stays active.
    code, out, _err = run("--model", str(world.pk), "--days", "5", "--activate", "--json")
    assert code == NO_GO_EXIT
    report = ReadinessReport.objects.get()
    assert json.loads(out)["figures"]["activation"]["activated"] is True
    assert report.figures["activation"]["previous_active"] is None
    assert MLModel.objects.get(pk=world.pk).status == ModelStatus.ACTIVE
    assert world.audit_log.filter(action="activated").exists()


@pytest.mark.parametrize(("args", "words"), [
    (("--start", "2024-02-20"), "starts before 2024-03-01"),
    (("--start", "2024-04-06"), r"fewer than 5 day\(s\) of XAUUSD H1 bars are stored"),
    (("--days", "0"), "days must be from 1 to 366"),
])
def test_a_replay_window_that_is_not_held_out_or_not_stored_is_refused(world, args, words):
    with pytest.raises(CommandError, match=words):
        run("--model", str(world.pk), "--days", "5", *args)
    assert not ReadinessReport.objects.exists() and not BacktestRun.objects.exists()


def test_an_unknown_model_is_refused(db):
    with pytest.raises(CommandError, match="no ML model with id 999"):
        run("--model", "999")
