"""``ml_demo``: the ML part of ``make demo`` (run it after ``generate_sample_data``)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlops import services
from mlops.algorithms import ALGORITHMS
from mlops.management.progress import CommandProgress
from mlops.management.tables import comparison_table, fmt
from mlops.services.demo import DEMO_WALK_FORWARD, selection_optimism
from nusatrade.errors import NusaTradeError


def algorithm_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in ALGORITHMS]
    if not names or unknown:
        raise ValueError(text)
    return names


class Command(BaseCommand):
    help = ("Train random_forest, gradient_boosting and ensemble with walk-forward validation "
            "and tuned thresholds, compare them, and check the best for look-ahead.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbol", default="XAUUSD")
        parser.add_argument("--timeframe", default="H1")
        parser.add_argument("--walk-forward", type=int, default=DEMO_WALK_FORWARD)
        parser.add_argument("--points", type=int, default=50)
        parser.add_argument("--no-activate", action="store_true")
        parser.add_argument("--start", default=None, help="first bar used (default: all)")
        parser.add_argument("--end", default=None,
                            help="last bar used; later bars stay unseen for backtests")
        parser.add_argument("--algorithms", type=algorithm_list, default=ALGORITHMS,
                            help="comma-separated subset of " + ",".join(ALGORITHMS)
                                 + " (default: all three)")

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.perf_counter()
        try:
            result = services.ml_demo(
                symbol=opts["symbol"], timeframe=opts["timeframe"],
                walk_forward=opts["walk_forward"], points=opts["points"],
                say=self.stdout.write, activate_best=not opts["no_activate"],
                start=opts["start"], end=opts["end"], algorithms=opts["algorithms"],
                progress_factory=lambda desc: CommandProgress(self.stdout, desc))
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("")
        self.stdout.write("Model comparison (val = validation window, WF = walk-forward test "
                          "folds pooled, test = final holdout; exp. = net P/L per trade after "
                          "costs, price units; optimism = val exp. - WF exp.; thr DSR / PBO = "
                          "Deflated Sharpe and overfitting probability of the threshold search; "
                          "majority = majority-class accuracy; 95% CI: block bootstrap / "
                          "Wilson)")
        self.stdout.write(comparison_table(result.models))
        chosen = selection_optimism(result.best)
        self.stdout.write(
            f"Chosen on WF out-of-sample net expectancy: model #{result.best.pk} "
            f"({fmt(chosen['chosen_oos'], 4)}/trade); its untouched test window: "
            f"{fmt(chosen['test'], 4)}/trade; optimism of choosing the best: "
            f"{fmt(chosen['optimism'], 4)}")
        self.stdout.write("")
        self.stdout.write(result.report.render())
        if result.activated:
            self.stdout.write(self.style.SUCCESS(f"Activated model #{result.best.pk} for "
                                                 f"{opts['symbol']} {opts['timeframe']}."))
        elif result.refused:
            self.stdout.write(self.style.WARNING(result.refused))
        self.stdout.write(f"ml_demo finished in {time.perf_counter() - started:.0f}s.")
        if not result.report.clean:
            raise CommandError("look-ahead found in the best model", returncode=1)
