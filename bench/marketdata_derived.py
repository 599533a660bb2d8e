"""Derived market data timings: generator, resampler, calendar (pure; no database).

    .venv/bin/python bench/marketdata_derived.py [--runs 5]

Medians of several runs, each with a baseline measured in the same run:
- generate_bars H1 21 y vs random_walk_bars of the same length (the cost floor of a bar series);
- resample_bars M15 -> H1 (about 520k rows) vs pandas ``resample().agg()``;
- find_gaps over about 520k M15 times vs a pandas set-difference of the expected index;
- is_open over the same times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

from marketdata import calendar
from marketdata.resample import resample_bars
from marketdata.synthetic import generate_bars, random_walk_bars


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def pandas_resample(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.resample("1h").agg({"open": "first", "high": "max", "low": "min",
                                     "close": "last", "volume": "sum",
                                     "spread": "max"}).dropna(subset=["open"])


def pandas_gaps(times: pd.DatetimeIndex, holidays: tuple) -> int:
    expected = calendar.expected_times(times[0], times[-1], "M15", holidays)
    return len(expected.difference(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    h1 = generate_bars("H1", 21)
    m15 = generate_bars("M15", 21)
    holidays = calendar.default_holidays(2004, 2027)
    times = m15.index[np.random.default_rng(1).random(len(m15)) > 0.001]
    rows = [
        ("generate_bars H1 21y", len(h1), lambda: generate_bars("H1", 21),
         "random_walk_bars same n", lambda: random_walk_bars(len(h1))),
        ("generate_bars M15 21y", len(m15), lambda: generate_bars("M15", 21),
         "random_walk_bars same n", lambda: random_walk_bars(len(m15), timeframe="M15")),
        ("resample_bars M15->H1", len(m15), lambda: resample_bars(m15, "H1"),
         "pandas resample().agg", lambda: pandas_resample(m15)),
        ("find_gaps M15", len(times), lambda: calendar.find_gaps(times, "M15", holidays),
         "pandas index difference", lambda: pandas_gaps(times, holidays)),
        ("is_open M15", len(times), lambda: calendar.is_open(times, holidays),
         "pandas dayofweek mask", lambda: np.asarray(times.day_of_week < 5)),
    ]
    print(f"{'operation':<24}{'rows':>10}{'median s':>11}  {'baseline':<26}{'median s':>10}"
          f"{'ratio':>8}")
    for name, n, fn, base_name, base in rows:
        ours, theirs = median_seconds(fn, runs), median_seconds(base, runs)
        print(f"{name:<24}{n:>10,}{ours:>11.3f}  {base_name:<26}{theirs:>10.3f}"
              f"{ours / theirs:>8.2f}")


if __name__ == "__main__":
    main()
