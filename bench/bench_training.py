"""Training time of each algorithm on the seed's shape: 98,907 rows x 69 features.

    .venv/bin/python bench/bench_training.py [--repeats 3] [--preset default|demo|both]
                                            [--n-jobs N ...] [--features 69]

Data: ~21 years of synthetic gold-like H1 bars (``marketdata.synthetic.generate_bars``), the
production features (``mlops.features``), the first ``--features`` columns, and the first
98,907 rows that have valid features and a next-bar label: the size of the seed's training set.
Each figure is the median of ``--repeats`` fits (min and max beside it); fits use
``pipeline.fit_estimator`` exactly as training does. Prediction is timed single-threaded, as
the pipeline runs it. The load average is printed: the machine is shared, so compare figures
taken under similar load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketdata.synthetic import generate_bars
from mlops import algorithms, pipeline
from mlops.features import compute_features, valid_rows
from mlops.labels import LabelSpec, make_labels

ROWS = 98_907


def dataset(n_features: int) -> tuple[np.ndarray, np.ndarray]:
    bars = generate_bars("H1", years=21, seed=42)
    features = compute_features(bars)
    labels = make_labels(bars, LabelSpec())
    ok = (valid_rows(features) & labels["label"].notna()).to_numpy()
    X = np.ascontiguousarray(features.to_numpy()[ok][:ROWS, :n_features])
    y = labels["label"].to_numpy()[ok][:ROWS].astype(np.int64)
    return X, y


def time_fit(config: pipeline.TrainConfig, X: np.ndarray, y: np.ndarray, repeats: int,
             ) -> tuple[list[float], object]:
    times, model = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        model = pipeline.fit_estimator(config, X, y)
        times.append(time.perf_counter() - started)
    return times, model


def time_predict(model: object, X: np.ndarray, rows: int, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        pipeline.proba_up(model, X[:rows])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", choices=["default", "demo", "both"], default="both")
    parser.add_argument("--n-jobs", type=int, nargs="+", default=[algorithms.machine_cores()])
    parser.add_argument("--features", type=int, default=69)
    parser.add_argument("--algorithms", nargs="+", default=list(algorithms.ALGORITHMS))
    args = parser.parse_args()

    X, y = dataset(args.features)
    print(f"data: {X.shape[0]:,} rows x {X.shape[1]} features, {(y == 1).mean():.1%} up; "
          f"cores {algorithms.machine_cores()}; load average at start "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    presets = ["default", "demo"] if args.preset == "both" else [args.preset]
    header = (f"{'algorithm':<18} {'preset':<8} {'n_jobs':>6} {'fit median s':>12} "
              f"{'min':>7} {'max':>7} {'predict 1 row ms':>16} {'predict 10k ms':>14}")
    print(header)
    print("-" * len(header))
    for preset in presets:
        for name in args.algorithms:
            params = algorithms.DEMO_PARAMS[name] if preset == "demo" else {}
            for n_jobs in args.n_jobs:
                config = pipeline.TrainConfig(algorithm=name, params=params, n_jobs=n_jobs)
                times, model = time_fit(config, X, y, args.repeats)
                one = time_predict(model, X, 1) * 1000
                many = time_predict(model, X, 10_000) * 1000
                print(f"{name:<18} {preset:<8} {n_jobs:>6} {statistics.median(times):>12.2f} "
                      f"{min(times):>7.2f} {max(times):>7.2f} {one:>16.2f} {many:>14.1f}",
                      flush=True)
    print(f"load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
