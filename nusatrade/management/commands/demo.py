"""``make demo``: the whole pipeline end to end on the embedded default, with a report.

Each step is an ordinary management command an operator can run alone; this only sequences
them, times them and prints what exists at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

SYMBOL, TIMEFRAME = "XAUUSD", "H1"
SEED_HOLDOUT_START = "2023-01-01"


class Command(BaseCommand):
    help = "Run the NusaTrade demo: users, sample data, models, backtest, report."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--years", type=float, default=21,
                            help="years of synthetic H1 data (default 21, as the seed)")
        parser.add_argument("--quick", action="store_true",
                            help="smaller data and models (a smoke run in well under a minute)")

    def handle(self, *args, years: float, quick: bool, **options) -> None:
        if quick:
            years = min(years, 4)
        steps = self._steps(years, quick)
        started = time.perf_counter()
        for number, (title, run) in enumerate(steps, start=1):
            self.stdout.write(self.style.MIGRATE_HEADING(f"\n[{number}/{len(steps)}] {title}"))
            step_started = time.perf_counter()
            run()
            self.stdout.write(f"    done in {time.perf_counter() - step_started:.1f} s")
        self._inventory()
        self.stdout.write(self.style.SUCCESS(
            f"\nDemo finished in {time.perf_counter() - started:.0f} s. "
            "Run `make serve` and open http://127.0.0.1:8000/admin/ (TOTP above) or "
            "http://127.0.0.1:8000/api/docs/."))

    def _steps(self, years: float, quick: bool) -> list[tuple[str, Callable[[], None]]]:
        out = {"stdout": self.stdout, "stderr": self.stderr}
        return [
            ("Demo users", lambda: call_command("demo_users", **out)),
            (f"Synthetic XAUUSD H1 sample data ({years:g} years, seed 42)",
             lambda: call_command("generate_sample_data", symbol=SYMBOL, timeframe=TIMEFRAME,
                                  years=years, seed=42, **out)),
            ("Train random forest, gradient boosting and the ensemble (walk-forward), tune "
             "thresholds, check look-ahead on the best",
             lambda: call_command("ml_demo", symbol=SYMBOL, timeframe=TIMEFRAME,
                                  end=self._training_end(), **out)),
            ("Backtest the best model on the held-out period with the seed's cost sweep",
             lambda: call_command("backtest_demo", symbol=SYMBOL, timeframe=TIMEFRAME, **out)),
        ]

    @staticmethod
    def _training_end() -> str:
        """Train up to 2022-12-31 (the seed held out 2023-2025), or 3 years before the data end."""
        from marketdata.selectors import bars_range

        _, last, count = bars_range(SYMBOL, TIMEFRAME)
        if not count:
            raise CommandError("no sample bars were stored")
        held_out_start = min(pd.Timestamp(SEED_HOLDOUT_START, tz="UTC"),
                             pd.Timestamp(last) - pd.DateOffset(years=3))
        return (held_out_start - pd.Timedelta(days=1)).strftime("%Y-%m-%d")

    def _inventory(self) -> None:
        from django.apps import apps

        self.stdout.write(self.style.MIGRATE_HEADING("\nWhat exists now"))
        self.stdout.write(f"  environment : {settings.NUSATRADE_ENV} "
                          f"(database {connection.vendor}, "
                          f"celery {'eager' if settings.CELERY_TASK_ALWAYS_EAGER else 'broker'})")
        for label in ("accounts", "trading", "marketdata", "mlops", "backtests"):
            counts = [f"{m.__name__} {m.objects.count()}"
                      for m in apps.get_app_config(label).get_models()]
            if counts:
                self.stdout.write(f"  {label:<11} : " + ", ".join(counts))
