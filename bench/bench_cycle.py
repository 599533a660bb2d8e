"""The trading cycle's speed: one cycle from bar close to order recorded, against the sum of
its parts measured in the same run; and 200 paper accounts processed in one bar by 2 worker
processes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nusatrade REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python bench/bench_cycle.py [--cycles 20] [--runs 3] [--accounts 200]

Runs in a scratch database (``bench_cycle_<name>``, created and dropped here; the configured
database is never touched), with a random forest trained on synthetic XAUUSD H1 bars with the
production features (artifacts in a temporary directory) and paper accounts (their broker
book in PostgreSQL). Every cycle is the real ``cycle_run`` on a drill clock at a bar close
whose decision opens a position, so each one goes all the way: kill-switch expiry, lock,
freshness, bounded bars, features, prediction (stored), signal, ATR plan, order through the
outbox to the paper broker, recorded fill.

* **one cycle**: median and p95 over ``--cycles`` fresh accounts, per round;
* **parts**, measured interleaved with the cycles in the same round: reading the bounded
  window of closed bars, the features of the last bar on it, one prediction of the
  estimator, and the order's database round trips (``signal_record`` +
  ``signal_order_place`` on the paper broker); their sum, and cycle / sum (target <= 2x);
* **scale** (needs ``REDIS_URL``): ``--accounts`` fresh paper accounts, one ``run_cycles``
  fan-out for one bar on a real prefork worker with 2 processes: accounts per second from
  the fan-out to the last recorded order.

Figures are medians over ``--runs`` rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")
os.environ.setdefault("NUSATRADE_ENV", "test")
ARTIFACTS = tempfile.mkdtemp(prefix="bench-cycle-")
os.environ["ARTIFACTS_DIR"] = ARTIFACTS
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

from django.db import connection  # noqa: E402

logging.getLogger("nusatrade").setLevel(logging.WARNING)   # one line per order otherwise

TRAIN_END = datetime(2024, 2, 29, 23, tzinfo=UTC)
START = datetime(2024, 3, 6, 10, tzinfo=UTC)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def setup_market():
    from marketdata import synthetic
    from marketdata.services import bars_upsert
    from mlops.models import MLModel, ModelStatus
    from mlops.pipeline import TrainConfig
    from mlops.services import model_train

    frame = synthetic.generate_range("2023-06-01", "2024-04-01", "H1", seed=5,
                                     symbol="XAUUSD", start_price=2050.0)
    bars_upsert("XAUUSD", "H1", frame, synthetic=True)
    config = TrainConfig(params={"n_estimators": 20, "max_depth": 4}, importance_repeats=1,
                         min_trades=5, n_jobs=1, threshold=0.5)
    model = model_train(symbol="XAUUSD", timeframe="H1", config=config, cost=0.3,
                        end=TRAIN_END)
    MLModel.objects.filter(pk=model.pk).update(status=ModelStatus.ACTIVE, threshold=0.5)
    model.refresh_from_db()
    return model


def new_account(prefix: str = "bench") -> int:
    from accounts.models import User
    from trading.services import account_create

    User.objects.get_or_create(username="bench")
    return account_create("bench", name=f"{prefix} {uuid.uuid4().hex[:8]}",
                          broker="paper").pk


def trading_close() -> datetime:
    """The first bar close from START whose cycle opens a position."""
    from trading.cycle.run import cycle_run

    probe = new_account("probe")
    close = START
    for _ in range(48):
        outcome = cycle_run(probe, at=close, dry_run=True)
        if outcome.decision in ("BUY", "SELL") and outcome.order:
            return close
        close += timedelta(hours=1)
    sys.exit("no BUY/SELL decision in 48 bars: change the seed")


def one_cycle(close: datetime) -> float:
    from trading.cycle.run import cycle_run

    account = new_account()
    started = time.perf_counter()
    outcome = cycle_run(account, at=close)
    elapsed = time.perf_counter() - started
    assert outcome.status == "done" and outcome.order_status == "filled", outcome.to_dict()
    return elapsed


class Parts:
    """The cycle's parts, each timed alone on the same inputs as the cycle."""

    def __init__(self, model, close: datetime) -> None:
        from mlops import pipeline
        from mlops.services.live import model_estimator

        self.model, self.close = model, close
        self.feature_set = pipeline.feature_set_for_id(model.feature_set_id)
        self.estimator = model_estimator(model, self.feature_set)
        self.lookback = self.feature_set.lookback_bars or 3000
        outcome_side = self._decision()
        self.side = outcome_side

    def _decision(self) -> str:
        from trading.cycle.run import cycle_run

        return cycle_run(new_account("side"), at=self.close, dry_run=True).decision

    def bars(self):
        from mlops.services.live import closed_bars_load
        from trading.cycle import strategy

        return closed_bars_load("XAUUSD", "H1", max(self.lookback, strategy.ATR_WARMUP_BARS),
                                self.close)

    def features(self, bars):
        return self.feature_set.latest_rows(bars, 1)

    def predict(self, features):
        from mlops import pipeline

        return pipeline.predict_frame(self.estimator, self.model.feature_names, features,
                                      self.model.threshold, self.feature_set)

    def order(self) -> float:
        """signal_record + signal_order_place on the paper broker (a fresh account)."""
        from accounts.models import TradingAccount
        from trading.services import paper_broker_at, signal_order_place, signal_record

        account = TradingAccount.objects.get(pk=new_account("parts"))
        broker = paper_broker_at(account, self.close)
        started = time.perf_counter()
        signal = signal_record(account.pk, model_id=self.model.pk, symbol="XAUUSD",
                               bar_time=self.close - timedelta(hours=1), decision=self.side,
                               timeframe="H1", probabilities={"BUY": 0.6, "SELL": 0.4},
                               reason="bench")
        result = signal_order_place(signal.pk, volume="0.01", broker=broker, at=self.close)
        elapsed = time.perf_counter() - started
        assert result.order.status == "filled", result.message
        return elapsed

    def timed(self) -> dict[str, float]:
        out = {}
        started = time.perf_counter()
        bars = self.bars()
        out["bars"] = time.perf_counter() - started
        started = time.perf_counter()
        features = self.features(bars)
        out["features"] = time.perf_counter() - started
        started = time.perf_counter()
        self.predict(features)
        out["prediction"] = time.perf_counter() - started
        out["order"] = self.order()
        return out


def round_single(parts: Parts, close: datetime, cycles: int) -> dict[str, object]:
    cycle_times, part_times = [], {k: [] for k in ("bars", "features", "prediction", "order")}
    for _ in range(cycles):                      # interleaved: load swings hit both alike
        cycle_times.append(one_cycle(close))
        for key, value in parts.timed().items():
            part_times[key].append(value)
    medians = {k: statistics.median(v) for k, v in part_times.items()}
    return {"median": statistics.median(cycle_times), "p95": percentile(cycle_times, 0.95),
            "parts": medians, "sum": sum(medians.values())}


def start_worker(queue: str, log: Path) -> subprocess.Popen:
    from nusatrade.celery import app

    db = connection.settings_dict
    env = {**os.environ, "ARTIFACTS_DIR": ARTIFACTS, "CELERY_TASK_ALWAYS_EAGER": "false",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/"
                           f"{db['NAME']}"}
    handle = open(log, "w")  # noqa: SIM115 - lives as long as the worker
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "nusatrade", "worker", "--pool=prefork",
         "--concurrency=2", "-Q", queue, "-n", f"{queue}@localhost", "--without-gossip",
         "--without-mingle", "-l", "WARNING"], cwd=ROOT, env=env, stdout=handle,
        stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"worker exited: {log.read_text()[-2000:]}")
        if app.control.ping(destination=[f"{queue}@localhost"], timeout=1.0):
            return proc
    sys.exit("worker not ready in 120 s")


def round_scale(queue: str, close: datetime, count: int) -> float:
    """Seconds from the fan-out of ``count`` fresh accounts to their last recorded order."""
    from accounts.models import AccountStatus, TradingAccount
    from trading.models import FINAL, Order
    from trading.tasks import run_cycles

    TradingAccount.objects.update(status=AccountStatus.PAUSED)   # earlier rounds' accounts
    ids = [new_account("scale") for _ in range(count)]
    started = time.perf_counter()
    report = run_cycles.apply_async(("H1",), {"at": close.isoformat(), "queue": queue},
                                    queue=queue).get(timeout=300)
    assert sorted(report["queued"]) == sorted(ids), report
    deadline = time.monotonic() + 1800
    while Order.objects.filter(account_id__in=ids, status__in=FINAL).count() < count:
        if time.monotonic() > deadline:
            sys.exit("the scale round did not finish in 30 minutes")
        time.sleep(0.05)
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> None:
    version = connection.cursor().connection.info.server_version
    print(f"cycle bench on PostgreSQL {version // 10000}.{version % 100}, {os.cpu_count()} "
          f"CPUs, load {os.getloadavg()[0]:.1f}; {args.cycles} cycles x {args.runs} rounds")
    started = time.perf_counter()
    model = setup_market()
    close = trading_close()
    parts = Parts(model, close)
    print(f"set-up {time.perf_counter() - started:.0f} s: model #{model.pk} "
          f"({model.feature_set_id}, lookback {parts.lookback} bars), bar close "
          f"{close:%Y-%m-%d %H:%M} decides {parts.side}")
    one_cycle(close)
    parts.timed()                                 # warm caches and connections
    rounds = [round_single(parts, close, args.cycles) for _ in range(args.runs)]
    med = statistics.median
    cycle_median = med(r["median"] for r in rounds)
    part_sum = med(r["sum"] for r in rounds)
    detail = "  ".join(f"{k} {med(r['parts'][k] for r in rounds) * 1000:.1f} ms"
                       for k in ("bars", "features", "prediction", "order"))
    print(f"one cycle: median {cycle_median * 1000:.1f} ms  p95 "
          f"{med(r['p95'] for r in rounds) * 1000:.1f} ms")
    print(f"parts: {detail}  sum {part_sum * 1000:.1f} ms")
    print(f"cycle / parts: {med(r['median'] / r['sum'] for r in rounds):.2f}x (target <= 2x)")
    if not os.environ.get("REDIS_URL"):
        print("scale: skipped (REDIS_URL is not set: no Celery broker)")
        return
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        worker = start_worker(queue, Path(tmp) / "worker.log")
        try:
            round_scale(queue, close, 4)           # warm both processes (model, imports)
            rates = []
            for _ in range(args.runs):
                seconds = round_scale(queue, close, args.accounts)
                rates.append(args.accounts / seconds)
                print(f"  {args.accounts} accounts in {seconds:.1f} s")
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    print(f"scale: {args.accounts} paper accounts, one bar, 2 worker processes: "
          f"{med(rates):.1f} accounts/s (median of {args.runs})")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=200)
    args = parser.parse_args()
    from bench.scratch import scratch_database

    with scratch_database("cycle"):
        run(args)


if __name__ == "__main__":
    main()
