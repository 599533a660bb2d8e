"""Readiness run time: ``readiness_run`` end to end (look-ahead check, held-out backtest with
the 40-run sweep, replay through the real cycle, ``backtest --account`` agreement,
reconciliation, tracker, verdict, HTML report), median of several runs, with the time of each
step, against PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nusatrade .venv/bin/python \
        bench/bench_readiness.py [--runs 3] [--days 30]

Runs in a scratch database (``bench_readiness_<name>``, created and dropped here; the
configured database is never touched): synthetic XAUUSD H1 bars 2024-01-01 to 2024-05-01, a
small random forest on Jan-Feb with the tiny test feature set (``trading.tests.cyclekit``), so
the held-out period is March-April and the replay its last ``--days`` days. Baseline measured
in the same run: the held-out backtest with the sweep alone (what ``backtest_demo`` already
does), so the ratio is what the rest of the verdict costs on top of it. The first run also
runs the look-ahead check (later runs reuse it: it is recorded on the current fingerprint).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

STEPS = ("Look-ahead", "Held-out", "Replay", "Backtest of the replay", "Reconciliation",
         "Verdict")


def setup():
    from mlops import pipeline
    from trading.tests import cyclekit

    settings.ARTIFACTS_DIR = Path(tempfile.mkdtemp(prefix="bench_readiness_"))
    settings.REPORTS_DIR = Path(tempfile.mkdtemp(prefix="bench_readiness_reports_"))
    production = pipeline.feature_set_for_id
    pipeline.feature_set_for_id = (lambda fid: cyclekit.FEATURES
                                   if fid == cyclekit.FEATURES.id else production(fid))
    cyclekit.store_bars()
    return cyclekit.active_model()


def one_run(model_id: int, days: int) -> tuple[float, dict[str, float], str]:
    """Seconds in all, seconds per step (from one progress line to the next), verdict."""
    from readiness.services import readiness_run

    marks: list[tuple[str, float]] = []

    def progress(text: str) -> None:
        if not text.startswith(" "):   # the replay's own progress lines are indented
            marks.append((text, time.perf_counter()))

    started = time.perf_counter()
    report = readiness_run(model_id, days=days, progress=progress)
    total = time.perf_counter() - started
    steps: dict[str, float] = {}
    ends = [t for _, t in marks[1:]] + [started + total]
    for (text, at), end in zip(marks, ends, strict=True):
        name = next((s for s in STEPS if text.startswith(s)), text[:20])
        steps[name] = end - at
    return total, steps, report.verdict


def one_baseline(model) -> float:
    from backtests.services import (
        BacktestParams,
        backtest_run_create,
        backtest_run_execute,
        first_allowed_day,
    )
    from marketdata.selectors import bars_range

    last = bars_range("XAUUSD", "H1")[1].date()
    started = time.perf_counter()
    run = backtest_run_create(model=model, start=first_allowed_day(model), end=last,
                              params=BacktestParams(sweep=True), enqueue=False)
    backtest_run_execute(run.pk)
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> None:
    model = setup()
    totals, baselines, per_step = [], [], defaultdict(list)
    for number in range(args.runs):
        total, steps, verdict = one_run(model.pk, args.days)
        baseline = one_baseline(model)
        totals.append(total)
        baselines.append(baseline)
        for name, seconds in steps.items():
            per_step[name].append(seconds)
        print(f"run {number + 1}: readiness {total:.2f} s ({verdict}); "
              + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items())
              + f"; held-out backtest with sweep alone {baseline:.2f} s")
    median, base = statistics.median(totals), statistics.median(baselines)
    print(f"\nreadiness with a {args.days}-day replay, median of {args.runs}: {median:.2f} s; "
          f"held-out backtest with the sweep alone {base:.2f} s; readiness / backtest = "
          f"{median / base:.1f}x")
    for name, values in per_step.items():
        print(f"  {name}: median {statistics.median(values):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    from bench.scratch import scratch_database

    with scratch_database("readiness"):
        run(args)


if __name__ == "__main__":
    main()
