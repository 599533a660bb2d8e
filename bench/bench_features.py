"""Benchmark of mlops.features against pandas-ta-classic, measured in the same run.

    .venv/bin/python bench/bench_features.py                  # ~21 years of synthetic H1
    .venv/bin/python bench/bench_features.py --runs 9 --baseline-runs 1
    .venv/bin/python bench/bench_features.py --decay          # live-lookback decay table

Prints the median of several runs of ``compute_features`` (all columns, H4/D1 joins and regime
included), the median of fewer runs of pandas-ta-classic's ``df.ta.strategy(AllStrategy)``
(single process, ``cores = 0``, like ours), their ratio, and ``compute_latest_features``.
``compute_features`` runs on both day boundaries (the forex day, default, and UTC bins) in the
same run, with their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketdata.synthetic import generate_bars
from mlops.features import (
    FEATURE_COLUMNS,
    LOOKBACK_BARS,
    compute_features,
    compute_latest_features,
    feature_set_id,
)
from mlops.features.live import from_whole_day

OHLCV = ["open", "high", "low", "close", "volume"]


def median_seconds(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pandas_ta_strategy(bars: pd.DataFrame) -> Callable[[], object]:
    import pandas_ta_classic as ta  # dev-only dependency: imported only for the baseline

    def run() -> object:
        frame = bars[OHLCV].copy()
        frame.ta.cores = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame.ta.strategy(ta.AllStrategy)
        return frame

    return run


def bench(bars: pd.DataFrame, runs: int, baseline_runs: int) -> None:
    print(f"{len(bars):,} H1 rows, {len(FEATURE_COLUMNS)} feature columns, {feature_set_id()}")
    compute_features(bars)  # warm-up: numba's compiled kernels are loaded from its cache
    ours = median_seconds(lambda: compute_features(bars), runs)
    print(f"compute_features            median of {runs}: {ours:8.3f} s  (D1/H4 on the forex day)")
    utc = median_seconds(lambda: compute_features(bars, day_boundary="utc"), runs)
    print(f"compute_features, UTC bins  median of {runs}: {utc:8.3f} s"
          f"  (forex day / UTC: {ours / utc:.2f}x)")
    latest = median_seconds(lambda: compute_latest_features(bars), max(runs, 20))
    print(f"compute_latest_features(1)  median of {max(runs, 20)}: {latest * 1e3:8.1f} ms"
          f"  (last {LOOKBACK_BARS} bars)")
    if baseline_runs:
        baseline = median_seconds(pandas_ta_strategy(bars), baseline_runs)
        print(f"pandas-ta-classic All       median of {baseline_runs}: {baseline:8.3f} s")
        print(f"ratio (pandas-ta / ours): {baseline / ours:.0f}x")


def decay_table(bars: pd.DataFrame, lookbacks: list[int], ends: int = 8) -> None:
    """Worst |live - full| over every column, for windows of each length ending at ``ends``
    places; shows the seed of the recursive indicators fading until only rounding is left."""
    full = compute_features(bars)
    stops = np.linspace(max(lookbacks) + 100, len(bars), ends).astype(int)
    print("lookback  max |diff|   worst column        max |diff| / (1e-10 + 1e-9 |value|)")
    for lookback in lookbacks:
        diffs = []
        for stop in stops:
            got = compute_features(from_whole_day(bars.iloc[stop - lookback:stop])).iloc[-24:]
            expected = full.iloc[stop - 24:stop]
            diffs.append(((got - expected).abs(), expected.abs()))
        worst = pd.concat([d.max() for d, _ in diffs], axis=1).max(axis=1)
        ratio = pd.concat([(d / (1e-10 + 1e-9 * v)).max() for d, v in diffs], axis=1).max(axis=1)
        print(f"{lookback:8d}  {worst.max():10.1e}   {worst.idxmax():18s}  {ratio.max():10.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=21.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--decay", action="store_true", help="print the lookback decay table")
    args = parser.parse_args()
    bars = generate_bars("H1", years=args.years, seed=args.seed)
    if args.decay:
        decay_table(bars, [600, 800, 1000, 1200, 1500, 2000, 2500, 3000, 5000])
    else:
        bench(bars, args.runs, args.baseline_runs)


if __name__ == "__main__":
    main()
