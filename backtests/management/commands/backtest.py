"""``backtest --model ID --start 2023-01-01 --end 2025-12-31 --spread 3 --slippage 1``."""

from __future__ import annotations

import json
import time
from argparse import ArgumentTypeError
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtests.management import output
from backtests.models import BacktestRun, RunStatus
from backtests.retraining import Period, RetrainPolicy, parse_period
from backtests.services import (
    BacktestParams,
    backtest_model_get,
    backtest_run_create,
    backtest_run_execute,
    first_allowed_day,
)
from backtests.services.params import DEFAULT_LEVERAGE, DEFAULT_STOP_OUT
from nusatrade.errors import DataError, NusaTradeError


def pips(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


def money(text: str) -> Decimal:
    """An amount of money (may be negative: a swap charge)."""
    return pips(text)


def period(text: str) -> Period:
    """``3M``, ``6M``, ``1Y``, ``2W``, ``30D`` (``backtests.retraining.parse_period``)."""
    try:
        return parse_period(text)
    except DataError as exc:
        raise ArgumentTypeError(exc.reason) from None


def day(text: str) -> date:
    return date.fromisoformat(text)


def optional_multiple(text: str) -> float | None:
    """An ATR multiple, or ``none``/``0`` for no stop."""
    if text.strip().lower() in ("none", "off", "0"):
        return None
    return float(text)


def add_backtest_options(parser: CommandParser) -> None:
    """Options shared by ``backtest`` and ``backtest_demo``."""
    parser.add_argument("--spread", type=pips, default=Decimal("3"), metavar="PIPS",
                        help="spread in PIPS of the instrument (XAUUSD 1 pip = 0.1, so 3 pips "
                             "= 0.30 price units; default 3)")
    parser.add_argument("--slippage", type=pips, default=Decimal("1"), metavar="PIPS",
                        help="slippage in PIPS against us on every fill (default 1)")
    parser.add_argument("--lots", type=pips, default=Decimal("0.01"),
                        help="fixed volume per trade (default 0.01)")
    parser.add_argument("--sl-atr", type=optional_multiple, default=1.5, metavar="X",
                        help="stop-loss at X x ATR(14) from the entry; 'none' for no stop "
                             "(default 1.5)")
    parser.add_argument("--tp-atr", type=optional_multiple, default=3.0, metavar="X",
                        help="take-profit at X x ATR(14); 'none' for none (default 3.0)")
    parser.add_argument("--max-bars-held", type=int, default=None, metavar="N",
                        help="close a trade after N bars (default: no time exit)")
    parser.add_argument("--no-risk", action="store_true",
                        help="switch off the shared risk rules and kill switches")
    parser.add_argument("--threshold", type=float, default=None,
                        help="HOLD-gate threshold, 0.5-1 (default: the model's tuned one)")
    parser.add_argument("--initial-equity", type=pips, default=Decimal("10000"),
                        help="starting balance (default 10000)")
    parser.add_argument("--commission", type=money, default=None, metavar="MONEY",
                        help="commission per lot per round trip (default: the instrument's)")
    parser.add_argument("--swap-long", type=money, default=None, metavar="MONEY",
                        help="swap per lot per night held long, negative = a charge "
                             "(default: the instrument's)")
    parser.add_argument("--swap-short", type=money, default=None, metavar="MONEY",
                        help="swap per lot per night held short (default: the instrument's)")
    parser.add_argument("--leverage", type=int, default=DEFAULT_LEVERAGE,
                        help=f"account leverage, 100 = 1:100 (default {DEFAULT_LEVERAGE})")
    parser.add_argument("--stop-out", type=pips, default=DEFAULT_STOP_OUT, metavar="PERCENT",
                        help="close the position below this margin level, percent "
                             f"(default {DEFAULT_STOP_OUT})")


def params_from(options: dict[str, Any], sweep: bool) -> BacktestParams:
    return BacktestParams(
        spread_pips=options["spread"], slippage_pips=options["slippage"],
        lots=options["lots"], sl_atr=options["sl_atr"], tp_atr=options["tp_atr"],
        max_bars_held=options["max_bars_held"], use_risk=not options["no_risk"],
        threshold=options["threshold"], initial_equity=options["initial_equity"],
        sweep=sweep, commission_per_lot=options["commission"],
        swap_long_per_lot=options["swap_long"], swap_short_per_lot=options["swap_short"],
        leverage=options["leverage"], stop_out_level=options["stop_out"])


def run_synchronously(model_id: int, start: date | None, end: date | None,
                      params: BacktestParams, account_id: int | None = None,
                      retrain: RetrainPolicy | None = None) -> BacktestRun:
    """Create and execute a run in this process (no worker), through the same services as
    the API and the admin. CommandError with the reason when refused or failed."""
    from marketdata.selectors import bars_range

    try:
        model = backtest_model_get(model_id)
        start = start or first_allowed_day(model)
        if end is None:
            last = bars_range(model.instrument.symbol, model.timeframe)[1]
            end = last.date() if last is not None else start
        run = backtest_run_create(model=model, start=start, end=end, params=params,
                                  enqueue=False, account=account_id, retrain=retrain)
        run = backtest_run_execute(run.pk)
    except DataError as exc:
        raise CommandError(exc.reason) from exc
    except NusaTradeError as exc:
        raise CommandError(str(exc)) from exc
    if run.status != RunStatus.SUCCEEDED:
        raise CommandError(f"backtest #{run.pk} {run.status}: {run.error}")
    return run


def retrain_policy(options: dict[str, Any]) -> RetrainPolicy | None:
    """The ``--retrain-every`` policy, or None; CommandError for options that need it."""
    if options["retrain_every"] is None:
        for name in ("window", "train_length"):
            if options[name] is not None:
                raise CommandError(f"--{name.replace('_', '-')} needs --retrain-every")
        return None
    try:
        return RetrainPolicy(options["retrain_every"], options["window"] or "sliding",
                             options["train_length"])
    except DataError as exc:
        raise CommandError(exc.reason) from exc


class Command(BaseCommand):
    help = ("Backtest a registered model on stored bars AFTER its training window (a period "
            "that overlaps the training window is refused). Spread and slippage are in pips. "
            "Prints the metrics table (and the sweep table with --sweep); --report writes the "
            "HTML report. --retrain-every 3M: walk-forward retraining with the model's own "
            "settings, stitched out-of-sample result next to the model as it is.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", type=int, required=True, metavar="ID")
        parser.add_argument("--start", type=day, default=None, metavar="YYYY-MM-DD",
                            help="first day, UTC (default: the first day after the model's "
                                 "training window)")
        parser.add_argument("--end", type=day, default=None, metavar="YYYY-MM-DD",
                            help="last day, UTC, inclusive (default: the last stored bar)")
        add_backtest_options(parser)
        parser.add_argument("--account", type=int, default=None, metavar="ID",
                            help="backtest with this paper account's strategy settings, risk "
                                 "policy, paper costs and balance (they replace --lots, "
                                 "--sl-atr, --tp-atr, --max-bars-held, --threshold, --spread, "
                                 "--slippage, --commission, --leverage, --stop-out, "
                                 "--initial-equity and --no-risk): the trades its cycle and "
                                 "`replay` make")
        parser.add_argument("--sweep", action="store_true",
                            help="also run the seed's grid: spread 2-5 pips x slippage 1-2 "
                                 "pips x thresholds 0.50-0.70, printed as one table")
        parser.add_argument("--report", default=None, metavar="PATH",
                            help="write the self-contained HTML report to PATH")
        parser.add_argument("--retrain-every", type=period, default=None, metavar="PERIOD",
                            help="walk forward: retrain the model with its own settings every "
                                 "PERIOD (30D, 2W, 3M, 1Y) on data ending before each segment, "
                                 "trade the stitched signals, and compare with the model as "
                                 "it is (no retraining) on the same period")
        parser.add_argument("--window", choices=("sliding", "expanding"), default=None,
                            help="with --retrain-every: train on the last --train-length of "
                                 "data (sliding, the default) or on everything from the "
                                 "model's training start (expanding)")
        parser.add_argument("--train-length", type=period, default=None, metavar="PERIOD",
                            help="with --retrain-every --window sliding: the training window "
                                 "(default: the model's own training-window length)")
        parser.add_argument("--json", action="store_true",
                            help="print the run's metrics and closed trades as JSON (with "
                                 "deflated_sharpe and pbo) instead of the tables")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        run = run_synchronously(options["model"], options["start"], options["end"],
                                params_from(options, options["sweep"]), options["account"],
                                retrain_policy(options))
        if options["json"]:
            if options["report"]:
                output.write_report(run, options["report"])
            self.stdout.write(json.dumps(output.run_json(run), indent=2))
            return
        self.stdout.write(output.summary(run))
        self.stdout.write("")
        self.stdout.write(output.metrics_table(run))
        if run.params.get("retrain"):
            self.stdout.write("")
            self.stdout.write(output.retraining_text(run))
        if run.sweep_results:
            self.stdout.write("")
            self.stdout.write(output.sweep_table(run))
        if options["report"]:
            path = output.write_report(run, options["report"])
            self.stdout.write(f"\nReport: {path}")
        self.stdout.write(self.style.SUCCESS(
            f"\nBacktest #{run.pk} stored: {run.trade_count:,} trades, net profit "
            f"{run.net_profit:,.2f} in {time.perf_counter() - started:.1f} s."))
