"""``backtest_demo``: the backtest step of ``make demo``.

Picks the model (``backtests.selectors.backtest_demo_model``: the active model of the series,
else the best walk-forward pooled net expectancy), backtests it on every stored bar after its
training window with the seed's sweep, prints the metrics and sweep tables and writes the HTML
report under ``settings.REPORTS_DIR``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtests import selectors
from backtests.management import output
from backtests.management.commands.backtest import (
    add_backtest_options,
    params_from,
    run_synchronously,
)
from backtests.services import first_allowed_day, training_window_text
from marketdata.selectors import bars_range
from mlops.models import MLModel
from nusatrade.errors import NusaTradeError


def held_out_period_check(model: MLModel) -> None:
    """CommandError when no stored bar lies after the model's training window."""
    first_allowed = first_allowed_day(model)
    last = bars_range(model.instrument.symbol, model.timeframe)[1]
    if last is None or last.date() < first_allowed:
        raise CommandError(
            f"model #{model.pk} was trained on {model.instrument.symbol} {model.timeframe} bars "
            f"from {training_window_text(model)}, and no bar is stored after that, so there "
            "is no held-out period to backtest it on. Train with an end date that holds data "
            "out (e.g. train_model --end 2022-12-31 keeps 2023-2025 of the sample data for "
            "the backtest).")


class Command(BaseCommand):
    help = ("Backtest the best model of the ML pipeline on the period after its training "
            "window, with the seed's spread/slippage/threshold sweep; print the tables and "
            "write the HTML report under REPORTS_DIR. Best model: the active model of the "
            "series, else the best walk-forward pooled net expectancy.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbol", default="XAUUSD")
        parser.add_argument("--timeframe", default="H1")
        parser.add_argument("--model", type=int, default=None, metavar="ID",
                            help="backtest this model instead of picking one")
        add_backtest_options(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        model = self._model(options)
        held_out_period_check(model)
        self.stdout.write(f"Backtesting model #{model.pk} {model.name} v{model.version} "
                          f"({model.algorithm}, status {model.status}) from "
                          f"{first_allowed_day(model)}, the day after its training window.")
        run = run_synchronously(model.pk, None, None, params_from(options, sweep=True))
        self.stdout.write(output.summary(run))
        self.stdout.write("")
        self.stdout.write(output.metrics_table(run))
        self.stdout.write("")
        self.stdout.write(output.sweep_table(run))
        path = output.write_report(run, self._report_path(run))
        self.stdout.write(self.style.SUCCESS(
            f"\nBacktest #{run.pk}: {run.trade_count:,} trades, net profit "
            f"{run.net_profit:,.2f}, in {time.perf_counter() - started:.1f} s."))
        self.stdout.write(f"Report: {path}")

    def _model(self, options: dict[str, Any]) -> MLModel:
        if options["model"] is not None:
            from backtests.services import backtest_model_get

            try:
                return backtest_model_get(options["model"])
            except NusaTradeError as exc:
                raise CommandError(str(exc)) from exc
        model = selectors.backtest_demo_model(options["symbol"], options["timeframe"])
        if model is None:
            raise CommandError(f"no {options['symbol'].upper()} {options['timeframe'].upper()} "
                               "model is registered: run ml_demo (or train_model) first")
        return model

    @staticmethod
    def _report_path(run: Any) -> Path:
        name = f"backtest-{run.pk}-model-{run.model_id}-{run.start}-{run.end}.html"
        return Path(settings.REPORTS_DIR) / name
