"""Start-up time: ``manage.py check``, a gunicorn worker, a Celery worker -- before and after.

"Before" is a git worktree of a baseline commit (default 4981038, where ``django.setup()``
imported pandas, numba, scikit-learn, SciPy and matplotlib), created in /tmp for the run and
removed after; "after" is this checkout. Both run with the same Python and environment,
interleaved run by run so that machine load hits both alike, after one warm-up each (bytecode
compiled, files in the page cache: these are *warm* starts).

- check: wall time of ``python manage.py check``;
- gunicorn: spawn of one sync worker on a free loopback port -> first HTTP answer of
  ``/healthz`` (any status: it measures start-up, not the dependencies);
- celery: spawn of ``celery worker --pool=solo`` on a private queue -> its "ready" log line.

Prints the median of each and the ratio after/before. gunicorn and Celery need the services:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nusatrade_bench \
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "4981038"
TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(tree: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "0"}
    env.setdefault("NUSATRADE_ENV", "development")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def time_check(tree: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "check"], cwd=tree, env=env_for(tree),
                   check=True, capture_output=True, timeout=TIMEOUT)
    return time.perf_counter() - started


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _healthz_answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        conn.close()
        return True
    except OSError:
        return False


def time_gunicorn(tree: Path) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "nusatrade.wsgi:application", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=tree, env=env_for(tree), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < TIMEOUT:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode} in {tree}")
            if _healthz_answers(port):
                return time.perf_counter() - started
            time.sleep(0.02)
        raise RuntimeError("gunicorn did not answer /healthz in time")
    finally:
        _stop(proc)


def time_celery(tree: Path) -> float:
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "nusatrade", "worker", "--pool=solo",
             "-Q", queue, "-n", f"{queue}@localhost", "--without-heartbeat",
             "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=tree, env=env_for(tree), stdout=log, stderr=subprocess.STDOUT)
        try:
            while time.perf_counter() - started < TIMEOUT:
                if proc.poll() is not None:
                    raise RuntimeError(f"celery exited with {proc.returncode} in {tree}")
                log.seek(0)
                if " ready." in log.read():
                    return time.perf_counter() - started
                time.sleep(0.02)
            raise RuntimeError("celery worker not ready in time")
        finally:
            _stop(proc)


BENCHES: dict[str, Callable[[Path], float]] = {
    "manage.py check": time_check,
    "gunicorn worker -> first /healthz": time_gunicorn,
    "celery worker -> ready": time_celery,
}


def baseline_tree(ref: str) -> Path:
    path = Path(tempfile.gettempdir()) / f"nusatrade-startup-baseline-{ref}"
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT,
                       check=True, capture_output=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", default=BASELINE, help="commit measured as 'before'")
    parser.add_argument("--only", choices=list(BENCHES), action="append")
    args = parser.parse_args()
    before = baseline_tree(args.baseline)
    trees = {"before": before, "after": ROOT}
    try:
        print(f"before = {args.baseline} ({before}), after = working tree ({ROOT}); "
              f"{args.runs} runs each, interleaved, after one warm-up")
        print(f"{'start-up':36} {'before':>9} {'after':>9} {'after/before':>13}")
        for name in args.only or BENCHES:
            bench = BENCHES[name]
            for tree in trees.values():
                bench(tree)  # warm-up: bytecode, page cache
            times: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(args.runs):
                for label, tree in trees.items():
                    times[label].append(bench(tree))
            b, a = statistics.median(times["before"]), statistics.median(times["after"])
            print(f"{name:36} {b:8.2f}s {a:8.2f}s {a / b:12.2f}x", flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT,
                       capture_output=True)


if __name__ == "__main__":
    main()
