"""Cost of the evidence (baselines, intervals, Deflated Sharpe, PBO): a full training plus the
sweep, against the same work on a baseline checkout, measured in one run.

    git worktree add /tmp/base 4981038          # the code before the statistics
    .venv/bin/python bench/bench_evidence.py --baseline /tmp/base [--repeats 3]

Each round runs the same job once per tree, in fresh subprocesses, interleaved (base,
current, base, current...) so load swings on the shared machine hit both alike:

1. ``pipeline.train`` on 2005-2022 of the 21-year synthetic H1 gold (``generate_bars``, seed
   42): the demo's random forest preset, 3 expanding walk-forward folds, the threshold tuned
   on validation, permutation importance 3 x 3,000 rows, cost 0.3. The current tree also
   computes every interval, baseline, the selection figures and the threshold search's
   Deflated Sharpe and PBO (they are part of ``train`` now).
2. The model's probabilities over 2023-2025 (3,000 warm-up bars), one backtest at its
   threshold and the seed's 40-run sweep (spread 2-5 pips x slippage 1-2 x thresholds
   0.50-0.70, SL 1.5 / TP 3 ATR); the current tree also collects each run's daily returns and
   computes the intervals, the Deflated Sharpe and PBO (``backtests.evidence``).

Bar generation is outside the timings. Prints each round, the medians and current / base.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

JOB = r'''
import json, time
import numpy as np
from marketdata.synthetic import generate_bars
from mlops import pipeline
from mlops.algorithms import DEMO_PARAMS
from backtests.engine import BacktestConfig, prepare_bars, run_backtest
from backtests.sweep import run_sweep, signals_from_proba
try:
    from backtests import evidence
except ImportError:
    evidence = None

bars = generate_bars("H1", years=21, seed=42)
train_bars = bars[bars.index < "2023-01-01"]
fs = pipeline.default_feature_set()
config = pipeline.TrainConfig(algorithm="random_forest", params=DEMO_PARAMS["random_forest"],
                              walk_forward=3, tune=True, importance_repeats=3,
                              importance_rows=3000, cost=0.3, n_jobs=1)
started = time.perf_counter()
result = pipeline.train(train_bars, config, fs)
train_s = time.perf_counter() - started

started = time.perf_counter()
period = bars.index >= "2023-01-01"
first = int(np.argmax(period))
window = bars.iloc[first - 3000:]
frame = pipeline.predict_frame(result.model.estimator, result.model.feature_names,
                               fs.compute(window), result.model.threshold, fs)
proba = frame["proba_up"].to_numpy()[3000:]
proba = np.where(np.isnan(proba), 0.5, proba)
prepared = prepare_bars(bars.iloc[first:][["open", "high", "low", "close"]])
base = BacktestConfig(sl_atr=1.5, tp_atr=3.0, lots=0.01, digits=2)
grid = {"spread": [0.2, 0.3, 0.4, 0.5], "slippage": [0.1, 0.2],
        "threshold": [0.5, 0.55, 0.6, 0.65, 0.7]}
signals, confidence = signals_from_proba(proba, max(0.5, result.model.threshold))
run = run_backtest(prepared, signals, base, confidence=confidence)
if evidence is None:
    run_sweep(prepared, proba, grid, base)
    extra = {}
else:
    returns = []
    run_sweep(prepared, proba, grid, base, daily_returns_into=returns)
    proof = evidence.evidence(run.trades["net_pnl"].to_numpy(), run.equity,
                              base.initial_equity, returns, on_grid=False)
    extra = {"deflated_sharpe": proof["deflated_sharpe"]["probability"],
             "pbo": proof["pbo"]["pbo"]}
sweep_s = time.perf_counter() - started
print("RESULT " + json.dumps({"train_s": train_s, "sweep_s": sweep_s,
                              "total_s": train_s + sweep_s, **extra}))
'''


def run_job(tree: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(tree / "var" / "numba")}
    out = subprocess.run([sys.executable, "-c", JOB], cwd=tree, env=env, capture_output=True,
                         text=True, check=False)
    line = [row for row in out.stdout.splitlines() if row.startswith("RESULT ")]
    if out.returncode != 0 or not line:
        raise SystemExit(f"job failed in {tree}:\n{out.stderr[-3000:]}")
    return json.loads(line[-1][len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True,
                        help="checkout of the code before the statistics (e.g. /tmp/base)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    runs: dict[str, list[dict[str, float]]] = {"base": [], "current": []}
    for i in range(args.repeats):
        for name, tree in (("base", args.baseline.resolve()), ("current", ROOT)):
            result = run_job(tree)
            runs[name].append(result)
            print(f"round {i + 1} {name:8s} " + "  ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in result.items()), flush=True)
    print(f"load average at end: {os.getloadavg()}")
    print(f"\nmedians of {args.repeats} rounds  base      current   current/base")
    for key in ("train_s", "sweep_s", "total_s"):
        base = statistics.median(r[key] for r in runs["base"])
        cur = statistics.median(r[key] for r in runs["current"])
        print(f"{key:18s} {base:8.2f}s {cur:8.2f}s {cur / base:8.2f}x")


if __name__ == "__main__":
    main()
