"""``make demo``: the whole plan end to end on the embedded default, ending in verdicts.

Each step is an ordinary management command an operator can run alone (the command lines are
printed as the steps run); this only sequences them, times them and prints what exists at the
end:

1. ``demo_users`` and ``create_account demo-trader --name "Demo paper"`` (risk policy and
   strategy settings included);
2. ``generate_sample_data`` (SYNTHETIC XAUUSD H1) and ``resample_bars`` to H4 and D1;
3. ``ml_demo`` (walk-forward training, thresholds, comparison, look-ahead check);
4. ``readiness`` on the selected model, through the ``readiness.run`` Celery task (eager on
   the embedded default, a real worker when a broker is configured);
5. the known-answer controls (``marketdata.controls``): ``generate_control_data``,
   ``import_bars --synthetic``, ``ml_demo`` and ``readiness`` on a driftless random walk (must
   be NO-GO) and on a planted edge (must be found);
6. where the reports are, and how to browse them.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from mlops.algorithms import ALGORITHMS
from mlops.management.commands.ml_demo import algorithm_list

SYMBOL, TIMEFRAME = "XAUUSD", "H1"
SEED_HOLDOUT_START = "2023-01-01"
DEMO_TRADER, DEMO_ACCOUNT = "demo-trader", "Demo paper"
CONTROL_KINDS = ("random_walk", "planted_edge")
READINESS_TIMEOUT = 1800  # seconds the demo waits for one readiness task
HEARTBEAT_SECONDS = 15.0
PROVES = {
    "random_walk": "nothing predicts a random walk, so a GO here would be an invented edge: "
                   "NO-GO shows the verdict does not reward noise, overfitting or luck.",
    "planted_edge": "the planted trends are a real, documented edge: finding it shows the "
                    "same criteria can see an edge when one exists (they are not NO-GO by "
                    "construction; docs/demo-controls.md).",
}


class Command(BaseCommand):
    help = ("Run the NusaTrade demo: users and a paper account, sample data, models, the "
            "readiness verdict on the selected model, and the known-answer controls.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--years", type=float, default=21,
                            help="years of synthetic XAUUSD H1 data (default 21, as the seed)")
        parser.add_argument("--algorithms", type=algorithm_list, default=ALGORITHMS,
                            help="comma-separated algorithms for step 3 (default all three)")
        parser.add_argument("--replay-days", type=int, default=30,
                            help="readiness replay length in days (default 30)")
        parser.add_argument("--control-years", type=float, default=5,
                            help="years of each control series (default 5; the last one is "
                                 "held out)")
        parser.add_argument("--control-seed", type=int, default=3)
        parser.add_argument("--no-controls", action="store_true", help="skip step 5")
        parser.add_argument("--quick", action="store_true",
                            help="a smoke run: 4 years, random forest only, 5 replay days "
                                 "(the controls keep their years: a shorter held-out year "
                                 "is too short for the significance criteria)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["quick"]:
            opts["years"] = min(opts["years"], 4)
            opts["algorithms"] = ("random_forest",)
            opts["replay_days"] = min(opts["replay_days"], 5)
        self.opts = opts
        self.logins = ""
        self.reports: list[tuple[str, Any]] = []
        steps = self._steps()
        started = time.perf_counter()
        for number, (title, run) in enumerate(steps, start=1):
            self.stdout.write(self.style.MIGRATE_HEADING(f"\n[{number}/{len(steps)}] {title}"))
            step_started = time.perf_counter()
            run()
            self.stdout.write(f"    done in {time.perf_counter() - step_started:.1f} s")
        self._inventory()
        self.stdout.write(self.style.SUCCESS(
            f"\nDemo finished in {time.perf_counter() - started:.0f} s."))
        self._check_controls()

    def _steps(self) -> list[tuple[str, Callable[[], None]]]:
        o = self.opts
        steps = [
            ("Demo users and the trader's paper account", self._users),
            (f"Synthetic XAUUSD H1 sample data ({o['years']:g} years, seed 42), resampled to "
             "H4 and D1", self._sample_data),
            (f"Train {', '.join(o['algorithms'])} (walk-forward), tune thresholds, check "
             "look-ahead on the best", self._train),
            (f"Readiness of the selected model: held-out backtest, {o['replay_days']}-day "
             "replay, reconciliation, tracker, verdict", self._readiness_main),
        ]
        if not o["no_controls"]:
            steps.append((f"Known-answer controls ({o['control_years']:g} years each, one "
                          "algorithm): random walk must be NO-GO, planted edge must be found",
                          self._controls))
        steps.append(("Reports and where to browse them", self._where))
        return steps

    # --- steps 1-3 -----------------------------------------------------------------------------

    def _run(self, command: str, /, *args: Any, shown: dict[str, str] | None = None,
             **kwargs: Any) -> None:
        """``call_command`` with the command line printed first (``shown``: flag names where
        they differ from the option's dest)."""
        flags = shown or {}

        def text(value: Any) -> str:
            return shlex.quote(",".join(value) if isinstance(value, tuple) else str(value))

        line = " ".join([command, *map(text, args)] + [
            flags.get(k, f"--{k.replace('_', '-')}") + ("" if v is True else f" {text(v)}")
            for k, v in kwargs.items() if v is not False and v is not None])
        self.stdout.write(f"  $ manage.py {line}")
        call_command(command, *args, stdout=self.stdout, stderr=self.stderr, **kwargs)

    def _users(self) -> None:
        from accounts.models import TradingAccount

        out = StringIO()
        call_command("demo_users", stdout=out, stderr=self.stderr)
        self.logins = out.getvalue().rstrip()
        self.stdout.write(self.logins)
        existing = TradingAccount.objects.filter(owner__username=DEMO_TRADER,
                                                 name=DEMO_ACCOUNT).first()
        if existing is not None:
            self.stdout.write(f"  paper account #{existing.pk} {DEMO_ACCOUNT!r} of "
                              f"{DEMO_TRADER} already exists")
            return
        self.stdout.write(f"  paper account of {DEMO_TRADER} (risk policy and strategy "
                          "settings: the seed's defaults), its id:")
        self._run("create_account", DEMO_TRADER, name=DEMO_ACCOUNT, broker="paper",
                  balance=Decimal("10000"))

    def _sample_data(self) -> None:
        self._run("generate_sample_data", symbol=SYMBOL, timeframe=TIMEFRAME,
                  years=self.opts["years"], seed=42)
        for target in ("H4", "D1"):
            self._run("resample_bars", symbol=SYMBOL, source=TIMEFRAME, target=target,
                      shown={"source": "--from", "target": "--to"})

    def _train(self) -> None:
        self._run("ml_demo", symbol=SYMBOL, timeframe=TIMEFRAME,
                  algorithms=tuple(self.opts["algorithms"]),
                  end=_training_end(SYMBOL, holdout_years=3, seed_start=SEED_HOLDOUT_START))

    # --- step 4: readiness -----------------------------------------------------------------

    def _readiness_main(self) -> None:
        model = _selected_model(SYMBOL)
        self.stdout.write(f"  selected model #{model.pk} ({model.algorithm}, {model.status}): "
                          "the one ml_demo activated, else its best walk-forward model")
        report = self._readiness(model)
        self.reports.append(("readiness of the selected model", report.report_path))

    def _readiness(self, model: Any) -> Any:
        """``readiness --model ID --activate`` through the Celery task, with a heartbeat."""
        from readiness import tasks
        from readiness.models import ReadinessReport
        from readiness.output import report_text

        days = self.opts["replay_days"]
        where = ("in this process (eager Celery)" if settings.CELERY_TASK_ALWAYS_EAGER
                 else "on a Celery worker (start one: make worker)")
        self.stdout.write(f"  $ manage.py readiness --model {model.pk} --days {days} "
                          f"--activate   (task readiness.run, {where})")
        with _heartbeat(self.stdout, "readiness"):
            report_id = tasks.run.delay(
                model.pk, days=days, activate=True).get(timeout=READINESS_TIMEOUT)
        report = ReadinessReport.objects.select_related("backtest_run").get(pk=report_id)
        self.stdout.write(report_text(report))
        return report

    # --- step 5: the known-answer controls ------------------------------------------------

    def _controls(self) -> None:
        from marketdata.controls import CONTROLS

        self.control_outcomes: dict[str, str] = {}
        for kind in CONTROL_KINDS:
            control = CONTROLS[kind]
            self.stdout.write(self.style.MIGRATE_LABEL(
                f"\n  Control {kind} ({control.symbol}, SYNTHETIC): expected {control.expected}"))
            report = self._control(kind, control.symbol)
            self.control_outcomes[kind] = control_outcome(kind, report)
            self.reports.append((f"control {kind}", report.report_path))
        self.stdout.write("")
        for kind in CONTROL_KINDS:
            self.stdout.write(f"  {kind:<13}: {self.control_outcomes[kind]}: {PROVES[kind]}")

    def _control(self, kind: str, symbol: str) -> Any:
        from pathlib import Path

        seed, years = self.opts["control_seed"], self.opts["control_years"]
        path = Path(settings.VAR_DIR) / "controls" / f"{symbol}-H1-seed{seed}.txt"
        self._run("generate_control_data", kind=kind, years=years, seed=seed, out=str(path))
        self._run("import_bars", str(path), symbol=symbol, timeframe="H1", synthetic=True)
        self._run("ml_demo", symbol=symbol, timeframe="H1", algorithms=("random_forest",),
                  end=_training_end(symbol, holdout_years=1))
        return self._readiness(_selected_model(symbol))

    def _check_controls(self) -> None:
        wrong = [f"{kind}: {outcome}" for kind, outcome in
                 getattr(self, "control_outcomes", {}).items() if outcome.startswith("WRONG")]
        if wrong:
            raise CommandError("known-answer control failed: " + "; ".join(wrong)
                               + ". The verdict machinery is not calibrated on this run.")

    # --- step 6 ------------------------------------------------------------------------------

    def _where(self) -> None:
        self.stdout.write("  HTML reports (self-contained, open in a browser):")
        for label, path in self.reports:
            self.stdout.write(f"    {label:<32} {path}")
        self.stdout.write(f"    every backtest and report under    {settings.REPORTS_DIR}")
        self.stdout.write(
            "  Browse: `make serve`, then http://127.0.0.1:8000/admin/dashboard/ (readiness "
            "verdicts, models, accounts) and http://127.0.0.1:8000/api/docs/ "
            "(/api/v1/readiness/). Logins (new passwords on every run):")
        self.stdout.write("\n".join(f"  {line}" for line in self.logins.splitlines()[1:]))

    def _inventory(self) -> None:
        from django.apps import apps

        self.stdout.write(self.style.MIGRATE_HEADING("\nWhat exists now"))
        self.stdout.write(f"  environment : {settings.NUSATRADE_ENV} "
                          f"(database {connection.vendor}, "
                          f"celery {'eager' if settings.CELERY_TASK_ALWAYS_EAGER else 'broker'})")
        for label in ("accounts", "trading", "marketdata", "mlops", "backtests", "readiness"):
            counts = [f"{m.__name__} {m.objects.count()}"
                      for m in apps.get_app_config(label).get_models()]
            if counts:
                self.stdout.write(f"  {label:<11} : " + ", ".join(counts))


# The planted edge is FOUND when the seed's profit criteria, the trade count and the
# overfitting check pass on it (docs/demo-controls.md: the Deflated Sharpe criterion is
# reported separately, its calibration on strong edges is an open finding).
FOUND_CRITERIA = ("win_rate", "profit_factor", "min_trades", "pbo")


def control_outcome(kind: str, report: Any) -> str:
    """One line: the control's verdict and whether it is the known answer ("WRONG ..." if
    not). Random walk: must be NO-GO. Planted edge: GO, or NO-GO with every
    ``FOUND_CRITERIA`` passed (the edge was found; what else failed is named)."""
    passed = {c["name"]: c["passed"] for c in report.criteria}
    failed = [c["label"] for c in report.criteria if not c["passed"]]
    if kind == "random_walk":
        return ("NO-GO as expected" if report.verdict == "NO-GO" else
                "WRONG: GO on a random walk")
    if report.verdict == "GO":
        return "GO as expected (every criterion passed)"
    if all(passed.get(name) for name in FOUND_CRITERIA):
        return ("edge FOUND (win rate, profit factor, trades and PBO pass) but NO-GO on: "
                + ", ".join(failed))
    return "WRONG: edge not found, failed: " + ", ".join(failed)


def _training_end(symbol: str, *, holdout_years: int, seed_start: str | None = None) -> str:
    """The last training day: ``holdout_years`` before the data end are held out (at least
    from ``seed_start``: the seed held out 2023-2025)."""
    from marketdata.selectors import bars_range

    first, last, count = bars_range(symbol, TIMEFRAME)
    if not count:
        raise CommandError(f"no {symbol} {TIMEFRAME} bars were stored")
    held_out_start = pd.Timestamp(last) - pd.DateOffset(years=holdout_years)
    if seed_start is not None:
        held_out_start = min(pd.Timestamp(seed_start, tz="UTC"), held_out_start)
    if held_out_start - pd.DateOffset(months=6) < pd.Timestamp(first):
        raise CommandError(
            f"{symbol} {TIMEFRAME}: {first:%Y-%m-%d} to {last:%Y-%m-%d} is too short to train "
            f"on at least six months and hold out {holdout_years} (use more --years)")
    return (held_out_start - pd.Timedelta(days=1)).strftime("%Y-%m-%d")


def _selected_model(symbol: str) -> Any:
    from backtests.selectors import backtest_demo_model

    model = backtest_demo_model(symbol, TIMEFRAME)
    if model is None:
        raise CommandError(f"no {symbol} {TIMEFRAME} model is registered")
    return model


class _heartbeat:
    """Prints ``still running (N s)`` every HEARTBEAT_SECONDS while a long task runs (the
    task may run on a worker, where its own progress cannot reach this terminal)."""

    def __init__(self, out: Any, what: str) -> None:
        self.out, self.what = out, what
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        started = time.perf_counter()
        while not self.stop.wait(HEARTBEAT_SECONDS):
            self.out.write(f"    ... {self.what} still running "
                           f"({time.perf_counter() - started:.0f} s)")

    def __enter__(self) -> _heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
