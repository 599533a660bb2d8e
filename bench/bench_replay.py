"""Replay speed: ``replay`` of 30 days of H1 (the real cycle, bar by bar, on a paper account
against PostgreSQL): seconds and bars per second, median of several runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nusatrade .venv/bin/python \
        bench/bench_replay.py [--runs 3] [--days 30] [--profile]

Runs in a scratch database (``bench_replay_<name>``, created and dropped here; the configured
database is never touched): synthetic XAUUSD H1 bars Jan-May 2024, a small random forest on
Jan-Feb with the tiny test feature set (``--features production`` for the production ones,
slower to train), and a fresh paper account per run (default strategy settings, risk policy
and paper costs). Each run replays ``--days`` days from 2024-03-04. Beside it, the same
period through ``backtest --account`` (the baseline measured in the same run: the vectorised
engine) and the ratio. ``--profile`` prints the top functions of one run (cProfile).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

START = date(2024, 3, 4)


def setup(features: str):
    from accounts.models import User
    from mlops import pipeline
    from trading.tests import cyclekit

    settings.ARTIFACTS_DIR = Path(tempfile.mkdtemp(prefix="bench_replay_"))
    User.objects.get_or_create(username="bench")
    if features == "tiny":
        production = pipeline.feature_set_for_id
        pipeline.feature_set_for_id = (lambda fid: cyclekit.FEATURES
                                       if fid == cyclekit.FEATURES.id else production(fid))
    else:
        cyclekit.FEATURES = pipeline.default_feature_set()
    cyclekit.store_bars()
    return cyclekit.active_model()


def one_replay(number: int, days: int, profile: bool) -> tuple[float, int]:
    from trading.cycle.replay import replay_run
    from trading.services import account_create

    account = account_create("bench", name=f"replay {number}", broker="paper")
    started = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(replay_run, account.pk, START, days)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    else:
        result = replay_run(account.pk, START, days)
    return time.perf_counter() - started, result.bars


def one_backtest(model_id: int, account_id: int, days: int) -> float:
    from backtests.services import backtest_run_create, backtest_run_execute

    started = time.perf_counter()
    run = backtest_run_create(model=model_id, start=START,
                              end=START + timedelta(days=days - 1), enqueue=False,
                              account=account_id)
    backtest_run_execute(run.pk)
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> None:
    from accounts.models import TradingAccount

    model = setup(args.features)
    rows = []
    for number in range(args.runs):
        seconds, bars = one_replay(number, args.days, args.profile and number == 0)
        account = TradingAccount.objects.get(name=f"replay {number}")
        baseline = one_backtest(model.pk, account.pk, args.days)
        rows.append((seconds, bars, baseline))
        print(f"run {number + 1}: replay {seconds:.2f} s ({bars / seconds:.1f} bars/s), "
              f"backtest --account {baseline:.2f} s")
    replay = statistics.median(r[0] for r in rows)
    baseline = statistics.median(r[2] for r in rows)
    bars = rows[0][1]
    print(f"\nreplay of {args.days} days H1 ({bars} bars, features {args.features}), median "
          f"of {args.runs}: {replay:.2f} s, {bars / replay:.1f} bars/s; backtest --account "
          f"of the same period {baseline:.2f} s; replay / backtest = {replay / baseline:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--features", choices=("tiny", "production"), default="tiny")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    from bench.scratch import scratch_database

    with scratch_database("replay"):
        run(args)


if __name__ == "__main__":
    main()
