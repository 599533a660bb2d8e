"""Where one request of the trader API spends its time (issue 13), in-process, no HTTP.

Calls Django's WSGI handler directly (the whole middleware stack, no test client), on the
benchmark database of ``bench/bench_api.py`` (seeded by it: run that first, or this script
seeds it), for the same four paths the load benchmark measures. Per path: median
milliseconds per request over ROUNDS rounds of N requests, the ratio to ``/healthz`` in the
same run (wall time and this process's CPU time), and the SQL queries (as Django counts
them: not the connection health check every request makes) and Redis commands of one
request. ``--profile`` adds a
cProfile of N requests of each path (top functions by cumulative time).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nt_api_bench \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/bench_api_profile.py --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_api import T0, USER, django_setup, seed  # noqa: E402

N, ROUNDS = 200, 5


def environ(path: str, token: str | None) -> dict:
    base, _, query = path.partition("?")
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": base, "QUERY_STRING": query,
           "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1",
           "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
           "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1"}
    if token:
        env["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return env


def call(app, path: str, token: str | None) -> bytes:
    status: list[str] = []
    body = b"".join(app(environ(path, token), lambda s, h, *a: status.append(s)))
    assert status[0].startswith("200"), (path, status, body[:300])
    return body


def redis_commands(app, path: str, token: str | None) -> int:
    """Redis commands one request sends (every Redis client of the process counted)."""
    import redis

    counted = [0]
    original = redis.Redis.execute_command

    def counting(self, *args, **kwargs):
        counted[0] += 1
        return original(self, *args, **kwargs)

    redis.Redis.execute_command = counting
    try:
        call(app, path, token)
    finally:
        redis.Redis.execute_command = original
    return counted[0]


def paths(account_id: int) -> dict[str, tuple[str, bool]]:
    start = (T0 + timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (T0 + timedelta(days=330)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "/healthz (baseline)": ("/healthz", False),
        "positions/ account+dates": (f"/api/v1/positions/?account={account_id}"
                                     f"&opened_after={start}&opened_before={end}", True),
        "signals/": ("/api/v1/signals/", True),
        "performance/": (f"/api/v1/performance/?account={account_id}", True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile each path too")
    parser.add_argument("--top", type=int, default=25, help="functions shown per profile")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
            "REDIS_URL"):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL: this benchmark needs the services")
    os.environ.update({"NUSATRADE_ENV": "test", "JWT_ACCESS_MINUTES": "120"})
    django_setup()
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from accounts.tokens import VersionedRefreshToken

    account_id = seed()
    token = str(VersionedRefreshToken.for_user(User.objects.get(username=USER)).access_token)
    app = get_wsgi_application()
    routes = {name: (path, token if auth else None)
              for name, (path, auth) in paths(account_id).items()}
    for path, auth in routes.values():  # warm-up: imports, connections, caches
        for _ in range(20):
            call(app, path, auth)
    wall: dict[str, list[float]] = {name: [] for name in routes}
    cpu: dict[str, list[float]] = {name: [] for name in routes}
    for _ in range(ROUNDS):
        for name, (path, auth) in routes.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(N):
                call(app, path, auth)
            wall[name].append((time.perf_counter() - started) / N * 1000)
            cpu[name].append((time.process_time() - started_cpu) / N * 1000)
    base = {"wall": statistics.median(wall["/healthz (baseline)"]),
            "cpu": statistics.median(cpu["/healthz (baseline)"])}
    # CPU time of this process is what a shared machine disturbs least; wall time adds the
    # round trips to PostgreSQL and Redis.
    print(f"in-process WSGI, {ROUNDS} rounds x {N} requests (medians, ms per request); load "
          f"average {os.getloadavg()[0]:.2f}")
    print(f"{'endpoint':<26} {'wall ms':>7} {'x hz':>5} {'CPU ms':>7} {'x hz':>5} {'SQL':>4} "
          f"{'Redis':>5}")
    for name, (path, auth) in routes.items():
        with CaptureQueriesContext(connection) as queries:
            call(app, path, auth)
        ms, cpu_ms = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:<26} {ms:>7.2f} {ms / base['wall']:>5.2f} {cpu_ms:>7.2f} "
              f"{cpu_ms / base['cpu']:>5.2f} {len(queries):>4} "
              f"{redis_commands(app, path, auth):>5}")
    if args.profile:
        for name, (path, auth) in routes.items():
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(N):
                call(app, path, auth)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
            print(f"\n=== {name}: cProfile of {N} requests ===")
            print(out.getvalue())


if __name__ == "__main__":
    main()
