"""Load: 50 concurrent clients x 40 authenticated GETs of /api/v1/me/ under gunicorn (loopback).

Needs the real services: DATABASE_URL (PostgreSQL) and REDIS_URL. Starts gunicorn on
127.0.0.1 on a free port, creates a user, obtains a JWT, fires the bounded load from threads,
and prints errors, median/p95 latency, throughput, and the peak number of PostgreSQL
connections seen in pg_stat_activity against the configured maximum (workers x threads).
Baseline in the same run: /healthz (no auth, no ORM).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nusatrade_bench \
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/bench_api_load.py
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS, REQUESTS_EACH = 50, 40
WORKERS, THREADS = 2, 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: dict | None = None,
            token: str | None = None) -> tuple[int, float, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    conn.request(method, path, json.dumps(body) if body else None, headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, time.perf_counter() - started, data


def run_load(port: int, path: str, token: str | None) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def client(_: int) -> None:
        nonlocal errors
        for _ in range(REQUESTS_EACH):
            status, elapsed, _ = request(port, "GET", path, token=token)
            with lock:
                latencies.append(elapsed)
                errors += status != 200

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "errors": errors,
            "median_ms": statistics.median(latencies) * 1000,
            "p95_ms": latencies[int(0.95 * len(latencies)) - 1] * 1000,
            "rps": len(latencies) / wall}


def peak_connections(stop: threading.Event, db_name: str, out: list[int]) -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        while not stop.is_set():
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                               "AND pid <> pg_backend_pid()", (db_name,)).fetchone()
            out.append(row[0])
            time.sleep(0.05)


def main() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
            "REDIS_URL"):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL: this benchmark needs the services")
    py = sys.executable
    env = {**os.environ, "RATELIMIT_LOGIN": "1000/m"}
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "shell", "-c",
                    "from accounts.models import User; u,_=User.objects.get_or_create("
                    "username='bench'); u.set_password('bench-password-123456'); u.save()"],
                   cwd=ROOT, env=env, check=True)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(py).parent / "gunicorn"), "nusatrade.wsgi", "-b", f"127.0.0.1:{port}",
         "-w", str(WORKERS), "--threads", str(THREADS), "--log-level", "warning"],
        cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                request(port, "GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        status, _, body = request(port, "POST", "/api/v1/auth/token/",
                                  {"username": "bench", "password": "bench-password-123456"})
        assert status == 200, body
        token = json.loads(body)["access"]
        db_name = os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
        stop, seen = threading.Event(), []
        watcher = threading.Thread(target=peak_connections, args=(stop, db_name, seen))
        watcher.start()
        results = {"healthz (baseline)": run_load(port, "/healthz", None),
                   "api/v1/me (JWT)": run_load(port, "/api/v1/me/", token)}
        stop.set()
        watcher.join()
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"{CLIENTS} clients x {REQUESTS_EACH} GETs, gunicorn {WORKERS} workers x {THREADS} "
          "threads, loopback")
    print(f"{'endpoint':<20} {'requests':>8} {'errors':>6} {'median ms':>10} {'p95 ms':>8} "
          f"{'req/s':>7}")
    for name, r in results.items():
        print(f"{name:<20} {r['requests']:>8} {r['errors']:>6} {r['median_ms']:>10.1f} "
              f"{r['p95_ms']:>8.1f} {r['rps']:>7.0f}")
    base, api = results["healthz (baseline)"], results["api/v1/me (JWT)"]
    print(f"p95 ratio me/healthz: {api['p95_ms'] / base['p95_ms']:.2f}")
    print(f"peak PostgreSQL connections: {max(seen)} (configured maximum "
          f"{WORKERS * THREADS} = workers x threads, CONN_MAX_AGE keeps one per thread)")


if __name__ == "__main__":
    main()
