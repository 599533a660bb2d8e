"""Backup and restore timings on PostgreSQL, against a baseline measured in the same run.

Needs PostgreSQL (DATABASE_URL; default a scratch database ``nt_backup_bench``, created and
migrated here, filled with synthetic XAUUSD M5 bars). Each round measures:

- baseline: bare ``pg_dump -Fc`` of the database to a file, then ``pg_restore`` of that file
  into a new database (what any backup that is restored once must pay);
- ``backup_create()``: snapshot + row counts, ``pg_dump -Fc``, hashes, verification restore
  into a scratch database, manifest;
- ``backup_restore()``: hash checks, the scratch proof, ``pg_restore --clean
  --single-transaction`` over the live database, row-count check, global kill switch.

Prints medians of ``--runs`` rounds and the ratios to the baseline.

    .venv/bin/python bench/bench_backup.py --years 2 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/nt_backup_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")


def ensure_database() -> None:
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname=%s", [name]).fetchone():
            c.execute(f'CREATE DATABASE "{name}"')


def fill(years: float) -> int:
    from django.core.management import call_command

    from marketdata.models import Bar
    from marketdata.services import bars_upsert
    from marketdata.synthetic import generate_bars

    call_command("migrate", verbosity=0)
    if not Bar.objects.exists():
        bars_upsert("XAUUSD", "M5", generate_bars("M5", years=years, seed=3), synthetic=True)
    return Bar.objects.count()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def baseline(workdir: Path) -> float:
    from operations.services.common import pg_target

    target = pg_target()
    dump = workdir / "baseline.dump"
    scratch = "nt_backup_bench_baseline"

    def run() -> None:
        subprocess.run(["pg_dump", "-Fc", "-f", str(dump), *target.cli_args()],
                       env=target.env(), check=True)
        with target.connect(dbname="postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{scratch}"')
        subprocess.run(["pg_restore", "--no-owner", *target.cli_args(scratch), str(dump)],
                       env=target.env(), check=True)
        with target.connect(dbname="postgres") as admin:
            admin.execute(f'DROP DATABASE "{scratch}" WITH (FORCE)')

    return timed(run)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.conf import settings

    from operations.services import backup_create, backup_restore
    from trading.models import KillSwitch

    bars = fill(args.years)
    with tempfile.TemporaryDirectory() as tmp:
        settings.BACKUP_DIR = Path(tmp) / "backups"
        settings.ARTIFACTS_DIR = Path(tmp) / "artifacts"
        rows: dict[str, list[float]] = {"baseline": [], "backup": [], "restore": []}
        size = 0
        for _ in range(args.runs):
            rows["baseline"].append(baseline(Path(tmp)))
            made: list = []
            rows["backup"].append(timed(lambda: made.append(backup_create(keep_daily=1,  # noqa: B023
                                                                          keep_weekly=0))))
            run = made[0].run
            size = run.total_bytes
            rows["restore"].append(timed(lambda: backup_restore(run.local_path)))  # noqa: B023
            KillSwitch.objects.filter(engaged=True).delete()
    base = statistics.median(rows["baseline"])
    print(f"bars: {bars}, dump size {size / 2**20:.1f} MiB, runs {args.runs}")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:9s} median {median:6.2f} s  ({', '.join(f'{v:.2f}' for v in values)})"
              f"  ratio {median / base:.2f}x baseline")


if __name__ == "__main__":
    main()
