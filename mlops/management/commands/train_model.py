"""``train_model``: train, evaluate and register a model; print its metrics table and id."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketdata.calendar import DAY_BOUNDARIES
from mlops import pipeline, services
from mlops.algorithms import ALGORITHMS
from mlops.gating import DEFAULT_MIN_TRADES, DEFAULT_THRESHOLD
from mlops.labels import LABEL_KINDS, LabelSpec
from mlops.lookahead import implausible_metrics
from mlops.management.progress import CommandProgress
from mlops.management.tables import metrics_table
from mlops.pipeline import TrainConfig
from nusatrade.errors import NusaTradeError


class Command(BaseCommand):
    help = "Train a model on stored bars, evaluate it without look-ahead, and register it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbol", default="XAUUSD")
        parser.add_argument("--timeframe", default="H1")
        parser.add_argument("--algorithm", choices=ALGORITHMS, default="random_forest")
        parser.add_argument("--label", choices=LABEL_KINDS, default="next_bar")
        parser.add_argument("--tp-atr", type=float, default=1.5, help="triple_barrier target")
        parser.add_argument("--sl-atr", type=float, default=1.5, help="triple_barrier stop")
        parser.add_argument("--max-bars", type=int, default=24, help="triple_barrier limit")
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
        parser.add_argument("--tune", action="store_true",
                            help="pick the threshold on the validation window instead")
        parser.add_argument("--cost", type=float, default=None,
                            help="round-trip cost in price units (default: median spread)")
        parser.add_argument("--min-trades", type=int, default=DEFAULT_MIN_TRADES)
        parser.add_argument("--walk-forward", type=int, default=0, metavar="N")
        parser.add_argument("--rolling", action="store_true",
                            help="rolling walk-forward windows (default: expanding)")
        parser.add_argument("--calibrate", action="store_true")
        parser.add_argument("--select-features", action="store_true")
        parser.add_argument("--test-fraction", type=float, default=0.2)
        parser.add_argument("--embargo", type=int, default=None, help="bars (>= horizon)")
        parser.add_argument("--params", default="{}", help="JSON of algorithm parameters")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--n-jobs", type=int, default=None)
        parser.add_argument("--start", default=None)
        parser.add_argument("--end", default=None)
        parser.add_argument("--day-boundary", choices=DAY_BOUNDARIES, default=None,
                            help="D1/H4 bins of the features: ny17 = the forex day, 17:00 New "
                                 "York (default), utc = midnight UTC")
        parser.add_argument("--activate", action="store_true")
        parser.add_argument("--reason", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            config = self._config(opts)
            progress = CommandProgress(self.stdout, f"train {opts['algorithm']}")
            feature_set = (pipeline.default_feature_set(opts["day_boundary"])
                           if opts["day_boundary"] else None)
            model = services.model_train(
                symbol=opts["symbol"], timeframe=opts["timeframe"], config=config,
                cost=opts["cost"], start=opts["start"], end=opts["end"],
                activate=opts["activate"], reason=opts["reason"], progress=progress,
                feature_set=feature_set)
        except (NusaTradeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("")
        self.stdout.write(metrics_table(model))
        self._warn_if_too_good(model.metrics)
        if model.synthetic:
            self.stdout.write("Trained on SYNTHETIC demo data.")
        refused = (model.metrics.get("activation") or {}).get("refused")
        if refused:
            self.stdout.write(self.style.WARNING(refused))
        self.stdout.write(self.style.SUCCESS(
            f"Model id: {model.pk} ({model.name} v{model.version}, {model.status})"))

    def _warn_if_too_good(self, metrics: dict[str, Any]) -> None:
        """Loudly (stdout and stderr): figures this good on market data are usually a leak."""
        findings = implausible_metrics(metrics)
        if not findings:
            return
        lines = ["", "!" * 78, "WARNING: LIKELY LEAKAGE. These figures are implausibly high for "
                 "market data:", *(f"  - {f}" for f in findings),
                 "Run check_lookahead on this model and look for a feature that reads the "
                 "future", "before trusting any result of it.", "!" * 78, ""]
        for line in lines:
            self.stdout.write(self.style.ERROR(line))
            self.stderr.write(line)

    @staticmethod
    def _config(opts: dict[str, Any]) -> TrainConfig:
        try:
            params = json.loads(opts["params"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not valid JSON: {exc}") from exc
        label = LabelSpec(opts["label"], opts["tp_atr"], opts["sl_atr"], opts["max_bars"])
        return TrainConfig(
            algorithm=opts["algorithm"], params=params, label=label, threshold=opts["threshold"],
            tune=opts["tune"], min_trades=opts["min_trades"],
            test_fraction=opts["test_fraction"], embargo=opts["embargo"],
            walk_forward=opts["walk_forward"], expanding=not opts["rolling"],
            calibrate=opts["calibrate"], select_features=opts["select_features"],
            seed=opts["seed"], n_jobs=opts["n_jobs"])
