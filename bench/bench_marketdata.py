"""Market-data speed: importing an MT5 export and loading bars, against naive ORM baselines.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nusatrade .venv/bin/python \
        bench/bench_marketdata.py [--runs 3] [--baseline-rows 50000]

Runs in a scratch database (``test_<name>``, created and dropped here; the configured database
is never touched). Measures, as medians of ``--runs`` runs:

* import: ``bars_import`` of a 487,977-row M15 MT5 export (read, parse, validate, store by
  binary COPY, gaps, report), each run into an emptied bars table;
* import baseline: the naive way, ``csv.reader`` + ``Decimal`` + ``Bar`` objects +
  ``bulk_create(batch_size=5000)``, on the first ``--baseline-rows`` rows (it is ~30x slower;
  rows/s is what is compared);
* load: ``load_bars`` of 123,639 H1 rows (binary COPY out, decoded by numpy);
* load baseline: ``values_list`` of the same rows into a DataFrame.

Targets (issue 3): import >= 200,000 rows/s, load >= 1,000,000 rows/s.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")

import django

django.setup()

import pandas as pd  # noqa: E402
from django.db import connection  # noqa: E402

from marketdata import synthetic  # noqa: E402
from marketdata.exports import write_mt5  # noqa: E402
from marketdata.models import Bar  # noqa: E402
from marketdata.selectors import load_bars  # noqa: E402
from marketdata.services import bars_import, bars_upsert  # noqa: E402
from trading.models import Instrument  # noqa: E402

IMPORT_ROWS = 487_977
LOAD_ROWS = 123_639
IMPORT_TARGET = 200_000
LOAD_TARGET = 1_000_000


def empty_bars() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE marketdata_bar")
        else:
            Bar.objects.all().delete()


def timed(action: Callable[[], object], runs: int, before: Callable[[], None] = lambda: None
          ) -> list[float]:
    seconds = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - start)
    return seconds


def naive_import(path: Path, rows: int) -> None:
    """What one writes without thinking: parse in Python, one ORM object per row."""
    instrument = Instrument.objects.get(symbol="XAUUSD")
    batch = []
    with path.open() as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader)
        for i, (day, clock, o, h, lo, c, tick, real, spread) in enumerate(reader):
            if i == rows:
                break
            stamp = datetime.strptime(f"{day} {clock}", "%Y.%m.%d %H:%M:%S").replace(tzinfo=UTC)
            batch.append(Bar(instrument=instrument, timeframe="M15", time=stamp, open=Decimal(o),
                             high=Decimal(h), low=Decimal(lo), close=Decimal(c),
                             tick_volume=int(tick), real_volume=int(real), spread=int(spread)))
    Bar.objects.bulk_create(batch, batch_size=5000)


def naive_load() -> pd.DataFrame:
    rows = Bar.objects.filter(instrument__symbol="XAUUSD", timeframe="H1").order_by("time") \
        .values_list("time", "open", "high", "low", "close", "tick_volume", "spread")
    frame = pd.DataFrame.from_records(list(rows), columns=["time", "open", "high", "low",
                                                           "close", "volume", "spread"])
    return frame.set_index("time").astype("float64")


def report(name: str, rows: int, seconds: list[float], base_rows: int,
           base_seconds: list[float], target: int) -> None:
    median = statistics.median(seconds)
    rate = rows / median
    base_rate = base_rows / statistics.median(base_seconds)
    verdict = "PASS" if rate >= target else "BELOW TARGET"
    print(f"{name:<7} {rows:>9,} rows  median {median:6.3f} s  {rate:>11,.0f} rows/s  "
          f"(runs: {', '.join(f'{s:.3f}' for s in seconds)})")
    print(f"{'':<7} baseline {base_rows:>9,} rows  {base_rate:>11,.0f} rows/s  -> "
          f"{rate / base_rate:5.1f}x faster; target {target:,} rows/s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-rows", type=int, default=50_000)
    args = parser.parse_args()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True,
                                                  serialize=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp), args.runs, args.baseline_rows)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(tmp: Path, runs: int, baseline_rows: int) -> None:
    vendor = connection.vendor
    version = connection.cursor().connection.info.server_version if vendor == "postgresql" \
        else "sqlite"
    print(f"marketdata bench on {vendor} {version}, {os.cpu_count()} CPUs, medians of {runs}")
    m15 = synthetic.generate_bars("M15", years=21).iloc[:IMPORT_ROWS]
    path = tmp / "XAUUSD_M15.csv"
    write_mt5(m15, path)

    imports = timed(lambda: bars_import(path, "XAUUSD", "M15"), runs, empty_bars)
    naive_imports = timed(lambda: naive_import(path, baseline_rows), max(1, runs - 1),
                          empty_bars)
    report("import", len(m15), imports, baseline_rows, naive_imports, IMPORT_TARGET)

    empty_bars()
    h1 = synthetic.generate_bars("H1", years=21).iloc[:LOAD_ROWS]
    bars_upsert("XAUUSD", "H1", h1)
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE marketdata_bar")  # what autovacuum does in production
    loaded = load_bars("XAUUSD", "H1")
    assert len(loaded) == LOAD_ROWS and loaded.index.equals(h1.index)
    loads = timed(lambda: load_bars("XAUUSD", "H1"), runs + 2)
    naive_loads = timed(naive_load, runs)
    report("load", LOAD_ROWS, loads, LOAD_ROWS, naive_loads, LOAD_TARGET)


if __name__ == "__main__":
    main()
