"""Dashboard load: ``/admin/dashboard/`` with a year of trades for 10 accounts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nusatrade REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/bench_dashboard.py [--accounts 10] [--runs 5]

Runs in a scratch database (``bench_dash_<name>``, created and dropped here). Seeds, through
the ORM: ``--accounts`` accounts, two active models, two closed trades per weekday per account
for a year (about 520 per account), one H1 signal per bar of the last 30 days per account, an
open position per account, an engaged switch, and a daily snapshot. Measures the full view
(selectors, live figures, charts, template) through the admin's own request path
(``RequestFactory`` + a verified admin user), as medians of ``--runs`` interleaved rounds:

* cold: Django's cache (Redis) cleared before each load; every SVG is drawn by
  ``monitoring.charts`` (the page no longer caches charts: drawing is cheaper than Redis);
* warm: a repeat load without clearing (what the 30 s auto-refresh costs);
* old: the same cold load with the matplotlib renderer the page used before
  (``bench/dashboard_matplotlib.py`` swapped in), so the speed-up is measured in the same run;
* fresh process: the first load of ``--fresh`` new processes each (lazy imports, template
  compilation, a new connection), new and old renderer, and new after
  ``monitoring.dashboard.warm_up`` (what a gunicorn worker runs at boot);
* baseline: the admin index page, same request path, same run.

The machine is shared: the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")

import django  # noqa: E402

django.setup()

from django.contrib import admin  # noqa: E402
from django.contrib.messages.storage.fallback import FallbackStorage  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def seed(accounts: int) -> object:
    from accounts.models import Role
    from accounts.services import user_create
    from monitoring.services import performance_track
    from monitoring.tests import factories as f
    from trading.models import Position, PositionStatus, Side, Signal
    from trading.services.killswitches import kill_switch_engage

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    models = [f.model("rf"), f.model("gb", timeframe="H4")]
    accts = [f.account(f"acct{i}", owner=f"trader{i}") for i in range(accounts)]
    positions, signals = [], []
    start = now - timedelta(days=365)
    for n, acct in enumerate(accts):
        for d in range(365):
            day = start + timedelta(days=d)
            if day.weekday() >= 5:
                continue
            for k in range(2):
                net = Decimal("14.20") if (d + k + n) % 5 < 3 else Decimal("-11.70")
                entry = day + timedelta(hours=8 + 6 * k)
                positions.append(Position(
                    account=acct, model=models[(d + k) % 2], symbol="XAUUSD", side=Side.BUY,
                    volume=Decimal("0.01"), status=PositionStatus.CLOSED,
                    entry_price=Decimal("2350"), entry_time=entry, exit_price=Decimal("2351"),
                    exit_time=entry + timedelta(hours=3), exit_reason="closed",
                    gross_pnl=net, net_pnl=net))
        for h in range(30 * 24):
            signals.append(Signal(account=acct, model=models[0], symbol="XAUUSD",
                                  timeframe="H1", bar_time=now - timedelta(hours=h + 1),
                                  decision=("HOLD", "BUY", "SELL")[h % 3],
                                  probabilities={"BUY": 0.6}))
        f.opened(acct, models[0], now - timedelta(hours=2))
    Position.objects.bulk_create(positions, batch_size=5000)
    Signal.objects.bulk_create(signals, batch_size=5000)
    kill_switch_engage("model", reason="bench", actor="system:bench", model_id=models[1].pk)
    performance_track((now - timedelta(days=1)).date(), drift=False)
    print(f"seeded {len(accts)} accounts, {len(positions)} closed trades, "
          f"{len(signals)} signals")
    return user_create("benchadmin", "correct-horse-battery-staple-42", roles=(Role.ADMIN,),
                       staff=True)


def request(user: object, path: str) -> object:
    req = RequestFactory().get(path)
    user.is_verified = lambda: True  # what django-otp's middleware sets after a valid TOTP
    req.user = user
    req.session = {}
    req._messages = FallbackStorage(req)
    return req


def timed(call: object, runs: int, before: object = None) -> tuple[list[float], int]:
    times, queries = [], 0
    for _ in range(runs):
        if before:
            before()
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        queries = len(ctx.captured_queries)
    return times, queries


@contextmanager
def old_renderer() -> Iterator[None]:
    """The page with the matplotlib charts it drew before (bench/dashboard_matplotlib.py)."""
    from bench import dashboard_matplotlib as old
    from monitoring import charts

    names = ("equity_svg", "rolling_svg", "signals_svg")
    saved = {n: getattr(charts, n) for n in names}
    for n in names:
        setattr(charts, n, getattr(old, n))
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(charts, n, f)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def page(user: object) -> None:
    from monitoring import views

    response = views.dashboard(request(user, "/admin/dashboard/"))
    response.render()
    assert response.status_code == 200 and b'class="chart"><svg' in response.content


def first_load(old: bool, warm: bool) -> None:
    """Child process: time the first dashboard load of a fresh process (lazy imports, template
    compilation, the first connection included) on the already seeded database; print ms.
    ``warm``: after ``monitoring.dashboard.warm_up`` (not timed), as a gunicorn worker does."""
    from accounts.models import User

    if warm:
        from monitoring.dashboard import warm_up

        warm_up()
    user = User.objects.get(username="benchadmin")
    t0 = time.perf_counter()
    if old:
        with old_renderer():
            page(user)
    else:
        page(user)
    print(f"{(time.perf_counter() - t0) * 1000:.1f}")


def fresh_processes(runs: int, old: bool, warm: bool = False) -> list[float]:
    """First-load times of ``runs`` new processes on the scratch database."""
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {**os.environ, "DATABASE_URL": urlunsplit(
        url._replace(path="/" + connection.settings_dict["NAME"]))}
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--first-load"]
                             + (["--old"] if old else []) + (["--warm"] if warm else []),
                             env=env, check=True,
                             capture_output=True, text=True, timeout=300).stdout
        times.append(float(out.strip().splitlines()[-1]) / 1000)
    return times


def run(args: argparse.Namespace) -> None:
    user = seed(args.accounts)

    def dashboard() -> None:
        page(user)

    def index() -> None:
        response = admin.site.index(request(user, "/admin/"))
        response.render()

    index()  # warm imports and templates once, then measure
    dashboard()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        cache.clear()
        profiler.runcall(dashboard)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        return
    print(f"load average at start: {load()}")
    with old_renderer():
        dashboard()  # matplotlib's own imports and font cache, outside the timing
    # Interleaved rounds so a change in the machine's load hits every variant alike; the
    # ratios are within the same run.
    results: dict[str, tuple[list[float], int]] = {}
    for _ in range(args.runs):
        for name, call, before in (
                ("index", index, None),
                ("old_cold", lambda: _old(dashboard), cache.clear),
                ("cold", dashboard, cache.clear),
                ("warm", dashboard, None)):
            times, queries = timed(call, 1, before)
            results.setdefault(name, ([], queries))[0].extend(times)
    connection.close()  # the children open their own
    for name, old, warm in (("fresh", False, False), ("old_fresh", True, False),
                            ("fresh_warm", False, True)):
        results[name] = (fresh_processes(args.fresh, old, warm), 0)
    print(f"load average at end: {load()}")
    base = statistics.median(results["index"][0])
    old_cold = statistics.median(results["old_cold"][0])
    old_fresh = statistics.median(results["old_fresh"][0])
    rows = [("admin index (baseline)", "index", old_cold),
            ("OLD renderer (matplotlib), cache cleared", "old_cold", old_cold),
            ("dashboard, cache cleared (cold)", "cold", old_cold),
            ("dashboard, repeat load (warm)", "warm", old_cold),
            ("OLD renderer, first load of a fresh process", "old_fresh", old_fresh),
            ("dashboard, first load of a fresh process", "fresh", old_fresh),
            ("dashboard, first load of a worker warmed up at boot", "fresh_warm",
             old_fresh)]
    for label, key, old in rows:
        times, queries = results[key]
        med = statistics.median(times)
        print(f"{label}: median {med * 1000:8.1f} ms of {len(times)} "
              f"[{', '.join(f'{t * 1000:.0f}' for t in times)}]"
              f"{f', {queries} queries' if queries else ''}, {med / base:6.1f}x baseline, "
              f"{med / old:5.3f}x old")


def _old(dashboard: object) -> None:
    with old_renderer():
        dashboard()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fresh", type=int, default=3,
                        help="fresh processes timed on their first load (each renderer)")
    parser.add_argument("--profile", action="store_true",
                        help="print a profile of one cold load instead of timing")
    parser.add_argument("--first-load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--old", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_load:  # a child of fresh_processes(), on the seeded scratch database
        first_load(args.old, args.warm)
        return
    from bench.scratch import scratch_database

    with scratch_database("dash"):
        run(args)


if __name__ == "__main__":
    main()
