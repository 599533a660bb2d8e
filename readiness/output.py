"""The readiness report as the command prints it: a JSON document or the criteria table
(shared by ``readiness`` and ``make demo``)."""

from __future__ import annotations

from typing import Any


def report_json(report: Any) -> dict[str, Any]:
    return {"report": report.pk, "model": report.model_id, "symbol": report.symbol,
            "timeframe": report.timeframe, "verdict": report.verdict,
            "reasons": report.reasons, "criteria": report.criteria,
            "figures": report.figures, "thresholds": report.thresholds,
            "backtest_start": report.backtest_start.isoformat(),
            "backtest_end": report.backtest_end.isoformat(),
            "replay_start": report.replay_start.isoformat(), "replay_days": report.replay_days,
            "backtest_run": report.backtest_run_id, "agreement_run": report.agreement_run_id,
            "account": report.account_id, "model_fingerprint": report.model_fingerprint,
            "ran_by": report.ran_by, "duration_seconds": round(report.duration_seconds, 1),
            "report_path": report.report_path}


def report_text(report: Any) -> str:
    from backtests.management.output import table
    from readiness.report import fmt_value, interval_text, threshold_text

    rows = [[c["label"], fmt_value(c["measured"], c["name"]), threshold_text(c),
             interval_text(c), "PASS" if c["passed"] else "FAIL"] for c in report.criteria]
    lines = [f"Readiness #{report.pk}: model #{report.model_id} {report.symbol} "
             f"{report.timeframe}; held-out backtest {report.backtest_start} to "
             f"{report.backtest_end}, replay {report.replay_days} day(s) from "
             f"{report.replay_start} on paper account #{report.account_id}", "",
             table(["criterion", "measured", "threshold", "95% interval", "result"], rows), "",
             f"Verdict: {report.verdict}"]
    lines += [f"  - {reason}" for reason in report.reasons]
    lines.append(f"Report: {report.report_path}")
    return "\n".join(lines)
