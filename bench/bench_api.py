"""Trader API under load (issue 13): gunicorn + PostgreSQL + Redis, 100,000 positions and
1,000,000 signals, 50 concurrent clients on loopback.

Prints req/s and p50/p95/p99 of ``positions/`` (filtered by account and a date range),
``signals/``, ``performance/`` (a year of daily snapshots) and ``/healthz`` measured in the
same run (each the median of ROUNDS rounds), the p95 ratios against /healthz, and the CSV
export of 100,000 positions: bytes, rows, seconds and the gunicorn worker's resident memory
before and at its peak during the export.

    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE nt_api_bench"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nt_api_bench \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/bench_api.py

Rows are written with COPY (seconds, not minutes) once; a second run reuses them.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_api_load import free_port, request  # noqa: E402

CLIENTS, REQUESTS_EACH, ROUNDS = 50, 10, 3
WORKERS, THREADS = 2, 4
POSITIONS, SIGNALS = 100_000, 1_000_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)
USER, PASSWORD = "bench-api", "bench-password-123456"


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")
    import django

    django.setup()


def seed() -> int:
    """The user, one paper account and the rows (COPY); returns the account id."""
    from django.db import connection

    from accounts.models import User
    from mlops.models import MLModel
    from trading.models import Instrument, Position, Signal
    from trading.services import account_create

    user, _ = User.objects.get_or_create(username=USER)
    user.set_password(PASSWORD)
    user.save()
    account = user.trading_accounts.first() or account_create(USER, name="bench paper")
    model = MLModel.objects.filter(name="bench").first() or MLModel.objects.create(
        name="bench", version=1, algorithm="random_forest", feature_set_id="fs",
        instrument=Instrument.objects.get(symbol="XAUUSD"), timeframe="H1",
        data_start=T0 - timedelta(days=400), data_end=T0, artifact_path="x",
        artifact_sha256="0" * 64)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if Position.objects.filter(account=account).count() < POSITIONS:
            Position.objects.filter(account=account).delete()
            _copy(cursor, Position._meta.db_table,
                  ["account_id", "model_id", "symbol", "side", "volume", "status",
                   "entry_price", "entry_time", "exit_price", "exit_time", "exit_reason",
                   "commission", "swap", "gross_pnl", "net_pnl", "broker_ticket",
                   "updated_at"], _position_rows(account.pk, model.pk))
        if Signal.objects.filter(account=account).count() < SIGNALS:
            Signal.objects.filter(account=account).delete()
            _copy(cursor, Signal._meta.db_table,
                  ["account_id", "model_id", "symbol", "timeframe", "bar_time",
                   "probabilities", "decision", "reason", "created_at"],
                  _signal_rows(account.pk, model.pk))
        _snapshots(account.pk, model.pk)
        cursor.execute("ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.1f} s: {POSITIONS:,} positions, "
          f"{SIGNALS:,} signals (COPY)")
    return account.pk


def _snapshots(account_id: int, model_id: int) -> None:
    """A year of the tracker's daily snapshots of the account and of its (account, model)
    pair, for ``performance/``."""
    from monitoring.models import PerformanceSnapshot

    if PerformanceSnapshot.objects.filter(account_id=account_id).exists():
        return
    rows = []
    for day in range(365):
        date = (T0 + timedelta(days=day)).date()
        for key, model in ((f"account:{account_id}", None),
                           (f"account:{account_id}/model:{model_id}", model_id)):
            rows.append(PerformanceSnapshot(
                date=date, scope_key=key, account_id=account_id, model_id=model, trades=day,
                net_pnl=day * 5, win_rate=0.52, profit_factor=1.3,
                figures={w: {"trades": day, "win_rate": 0.52} for w in
                         ("all", "7d", "30d", "90d", "last20", "last50")},
                versus_backtest={"win_rate": {"live": 0.52, "backtest": 0.55}}))
    PerformanceSnapshot.objects.bulk_create(rows)


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _position_rows(account_id: int, model_id: int):
    now = datetime.now(UTC)
    for i in range(POSITIONS):
        entry = T0 + timedelta(minutes=15 * i)
        net = "12.50" if i % 3 else "-7.25"
        yield (account_id, model_id, "XAUUSD", "BUY" if i % 2 else "SELL", "0.10", "closed",
               "2350.00", entry, "2351.25", entry + timedelta(minutes=10), "take_profit",
               "0.70", "0.00", net, net, i + 1, now)


def _signal_rows(account_id: int, model_id: int):
    now = datetime.now(UTC)
    probabilities = json.dumps({"BUY": 0.41, "SELL": 0.33, "HOLD": 0.26})
    for i in range(SIGNALS):
        decision = ("HOLD", "BUY", "SELL")[i % 3]
        yield (account_id, model_id, "XAUUSD", "M1", T0 + timedelta(minutes=i), probabilities,
               decision, "probability below threshold 0.60" if decision == "HOLD" else "", now)


def run_load(port: int, path: str, token: str | None) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def client(_: int) -> None:
        nonlocal errors
        for _ in range(REQUESTS_EACH):
            status, elapsed, _body = request(port, "GET", path, token=token)
            with lock:
                latencies.append(elapsed)
                errors += status != 200

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[max(0, int(q * len(latencies)) - 1)] * 1000

    return {"requests": len(latencies), "errors": errors, "p50": pct(0.50), "p95": pct(0.95),
            "p99": pct(0.99), "rps": len(latencies) / wall}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def export(port: int, token: str, master: int) -> dict:
    pids = worker_pids(master)
    before = {pid: rss_kb(pid) for pid in pids}
    peak = dict(before)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for pid in pids:
                peak[pid] = max(peak[pid], rss_kb(pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    conn.request("GET", "/api/v1/positions/export.csv",
                 headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    size, lines = 0, 0
    while chunk := response.read(64 * 1024):
        size += len(chunk)
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    stop.set()
    watcher.join()
    growth = max(peak[pid] - before[pid] for pid in pids)
    return {"status": response.status, "bytes": size, "rows": lines - 1, "seconds": elapsed,
            "rss_before_mb": max(before.values()) / 1024, "rss_growth_mb": growth / 1024}


def main() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
            "REDIS_URL"):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL: this benchmark needs the services")
    # Tokens must outlive the run (5 minutes by default): an expired one is a fast 401.
    env = {**os.environ, "RATELIMIT_LOGIN": "1000/m", "NUSATRADE_ENV": "test",
           "JWT_ACCESS_MINUTES": "120"}
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env,
                   check=True)
    django_setup()
    account_id = seed()
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "nusatrade.wsgi", "-b",
         f"127.0.0.1:{port}", "-w", str(WORKERS), "--threads", str(THREADS),
         "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        for _ in range(200):
            try:
                request(port, "GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        status, _, body = request(port, "POST", "/api/v1/auth/token/",
                                  {"username": USER, "password": PASSWORD})
        assert status == 200, body
        token = json.loads(body)["access"]
        start = (T0 + timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
        end = (T0 + timedelta(days=330)).strftime("%Y-%m-%dT%H:%M:%SZ")
        paths = {
            "/healthz (baseline)": ("/healthz", None),
            "positions/ account+dates": (f"/api/v1/positions/?account={account_id}"
                                         f"&opened_after={start}&opened_before={end}", token),
            "signals/": ("/api/v1/signals/", token),
            "performance/": (f"/api/v1/performance/?account={account_id}", token),
        }
        for path, auth in paths.values():  # warm-up: connections, caches, imports
            status, _, body = request(port, "GET", path, token=auth)
            assert status == 200, (path, body[:300])
        rounds: dict[str, list[dict]] = {name: [] for name in paths}
        for _ in range(ROUNDS):
            for name, (path, auth) in paths.items():
                rounds[name].append(run_load(port, path, auth))
        exported = export(port, token, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(rounds, exported)


def report(rounds: dict[str, list[dict]], exported: dict) -> None:
    out = io.StringIO()
    print(f"{CLIENTS} clients x {REQUESTS_EACH} GETs, {ROUNDS} rounds (medians), gunicorn "
          f"{WORKERS} workers x {THREADS} threads, loopback, PostgreSQL + Redis", file=out)
    print(f"{'endpoint':<26} {'errors':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'p95/healthz':>11}", file=out)
    med = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
           for name, runs in rounds.items()}
    base = med["/healthz (baseline)"]["p95"]
    for name, m in med.items():
        print(f"{name:<26} {m['errors']:>6.0f} {m['rps']:>7.0f} {m['p50']:>8.1f} "
              f"{m['p95']:>8.1f} {m['p99']:>8.1f} {m['p95'] / base:>11.2f}", file=out)
    print(f"export.csv: HTTP {exported['status']}, {exported['rows']:,} rows, "
          f"{exported['bytes'] / 1e6:.1f} MB in {exported['seconds']:.1f} s; worker RSS "
          f"{exported['rss_before_mb']:.0f} MB before, +{exported['rss_growth_mb']:.1f} MB "
          "at peak", file=out)
    print(out.getvalue(), end="")


if __name__ == "__main__":
    main()
