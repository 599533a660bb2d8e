"""The trading cycle's fixed costs: freshness check, per-account lock, one alert.

Each measured next to a baseline taken in the same run, so the ratio says what our code adds:

- ``check_fresh`` on a 500-bar H1 lookback (5,000 bars held) vs ``calendar.find_gaps`` alone
  on the same window;
- the cycle lock (dedicated connection + ``pg_try_advisory_lock`` + unlock + close) vs opening
  a connection and running ``SELECT 1`` (the part any lock on its own session must pay);
- ``alert_send(sync=True)`` to a loopback webhook (no email) vs one raw ``http.client`` POST.

Needs PostgreSQL for the lock (no tables are touched):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nusatrade_bench \
    .venv/bin/python bench/bench_cycle_parts.py
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")
os.environ.setdefault("NUSATRADE_ENV", "test")
RUNS = 7
REPEATS = 20


def median_ms(func: Callable[[], object]) -> float:
    """Median over RUNS of the mean time of REPEATS calls, in milliseconds."""
    func()  # warm up
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        for _ in range(REPEATS):
            func()
        samples.append((time.perf_counter() - started) / REPEATS * 1000)
    return statistics.median(samples)


def report(name: str, ours: float, baseline: float, baseline_name: str) -> None:
    print(f"{name:<34} {ours:9.3f} ms   {baseline_name:<32} {baseline:9.3f} ms   "
          f"ratio {ours / baseline:5.2f}x")


def bench_freshness() -> None:
    import pandas as pd

    from marketdata import calendar
    from trading.cycle.freshness import check_fresh

    bars = calendar.expected_times("2023-01-02", "2024-01-10 10:00", "H1")[-5000:]
    now = pd.Timestamp("2024-01-10 10:00:05", tz="UTC")
    assert check_fresh(bars, now, "H1", lookback=500).ok
    report("check_fresh (500-bar lookback)",
           median_ms(lambda: check_fresh(bars, now, "H1", lookback=500)),
           median_ms(lambda: calendar.find_gaps(bars[-500:], "H1")), "find_gaps (same window)")


def bench_lock() -> None:
    from django.db import connections
    from django.db.utils import load_backend

    from trading.cycle.lock import AccountLock

    if connections["default"].vendor != "postgresql":
        print("cycle lock: skipped (DATABASE_URL is not PostgreSQL)")
        return
    settings_dict = connections["default"].settings_dict

    def lock_cycle() -> None:
        lock = AccountLock(1)
        assert lock.acquire()
        lock.release()

    def connect_select() -> None:
        wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(dict(settings_dict))
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        wrapper.close()

    report("cycle lock acquire + release", median_ms(lock_cycle),
           median_ms(connect_select), "new connection + SELECT 1")


def bench_alert() -> None:
    from django.conf import settings

    from nusatrade.alerts import AlertKind, alert_send
    from nusatrade.tests.alert_servers import WebhookReceiver

    receiver = WebhookReceiver()
    try:
        settings.ALERT_WEBHOOK_URL = f"{receiver.url}/hook"
        settings.ALERT_EMAILS = []

        def one_alert() -> None:
            result = alert_send(AlertKind.TEST, "bench", "body", fields={"n": 1}, sync=True,
                                rate_limit=False)
            assert result.status == "sent", result

        def raw_post() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", int(receiver.url.rsplit(":", 1)[1]),
                                              timeout=5)
            conn.request("POST", "/hook", json.dumps({"text": "bench"}),
                         {"Content-Type": "application/json"})
            conn.getresponse().read()
            conn.close()

        report("alert_send(sync) to a webhook", median_ms(one_alert),
               median_ms(raw_post), "raw http.client POST")
    finally:
        receiver.close()


def main() -> None:
    import logging

    import django

    django.setup()
    logging.getLogger("nusatrade").setLevel(logging.ERROR)  # one WARNING line per alert
    print(f"median of {RUNS} runs x {REPEATS} calls")
    bench_freshness()
    bench_lock()
    bench_alert()


if __name__ == "__main__":
    main()
