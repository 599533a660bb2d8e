"""``manage.py metrics_serve``: a worker-only machine's metrics, served with the same
protection as the web's /metrics (a real server process, real HTTP)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.helpers import ROOT, clean_env, run_python

TOKEN = "Srv7Qx7Lp2Vz9Rk4Hs8Jd1Wc6Ny3Bf5Gt0Am"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    env = clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings",
                    PROMETHEUS_MULTIPROC_DIR=str(tmp_path), METRICS_TOKEN=TOKEN,
                    METRICS_ALLOWED_NETWORKS="10.0.0.0/8")
    # A "worker" process records two finished tasks into the directory, then exits.
    worker = run_python("import django; django.setup(); from nusatrade.metrics import "
                        "observe_task; observe_task('trading.cycle', 'trading', 'SUCCESS', 0.2);"
                        "observe_task('trading.cycle', 'trading', 'FAILURE', 0.1)", env)
    assert worker.returncode == 0, worker.stderr
    port = free_port()
    proc = subprocess.Popen([sys.executable, "manage.py", "metrics_serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "metrics_serve never listened"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)  # noqa: S310 (http://127.0.0.1 only)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_the_token_gets_the_workers_counters(served):
    status, body = get(served, TOKEN)
    assert status == 200
    assert ('nusatrade_celery_tasks_total{queue="trading",state="SUCCESS",'
            'task="trading.cycle"} 1.0') in body
    assert 'nusatrade_celery_task_failures_total{queue="trading",task="trading.cycle"} 1.0' \
        in body


def test_no_token_from_outside_the_networks_is_404_and_a_wrong_one_403(served):
    assert get(served)[0] == 404
    assert get(served, "wrong")[0] == 403
    assert get(served.replace("/metrics", "/other"), TOKEN)[0] == 404


def test_it_refuses_to_start_without_a_metrics_directory():
    from tests.helpers import run_manage

    result = run_manage("metrics_serve", env=clean_env(
        DJANGO_SETTINGS_MODULE="nusatrade.settings", PROMETHEUS_MULTIPROC_DIR=""))
    assert result.returncode != 0 and "PROMETHEUS_MULTIPROC_DIR is not set" in result.stderr
