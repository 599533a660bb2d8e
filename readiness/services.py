"""``readiness_run``: the seed's plan run end to end on one model, ending in GO or NO-GO.

Steps (docs/readiness.md), each through the services that already own it:

1. refusals (nothing is stored): the model's fingerprint no longer matches the code or its
   record (``mlops.services.registry.model_identity_changes``), no stored bar after its
   training window, a replay window that is not held out or not fully stored, or the model is
   not the active model of its series and the caller did not ask to activate it;
2. the look-ahead check on the model's CURRENT fingerprint (the recorded one when it ran on
   that fingerprint, else run now: ``mlops.services.lookahead``);
3. the held-out backtest with the seed's spread/slippage/threshold sweep, from the day after
   the training window to the last stored bar (a stored ``BacktestRun``, as ``backtest``);
4. the replay through the real trading cycle on a NEW paper account (``trading.cycle.replay``)
   and the stop conditions it hit (risk halts, kill switches);
5. ``backtest --account`` on the replay's window, compared trade by trade (agreement);
6. reconciliation of the paper account and the performance tracker over the replay;
7. the criteria (``readiness.criteria``), the stored ``ReadinessReport`` and its HTML report.

Why the model must be ACTIVE: the cycle trades the active model of the account's symbol and
timeframe (``mlops.selectors.model_active``; it re-checks it on every prediction), so a replay
of any other model is impossible without activating it. Activation changes what every live
account of that series trades, so it is never implicit: ``activate=True`` (``--activate``)
activates the model through ``model_activate`` (audited, with its rules: a verified artifact
and a clean look-ahead check on the current fingerprint), the report records it, and the
model STAYS active afterwards (re-activate the previous one in the admin if wanted).
"""

from __future__ import annotations

import getpass
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import AccountStatus, Broker, TradingAccount, User
from backtests.models import BacktestRun, RunStatus
from mlops.models import MLModel, ModelStatus
from nusatrade.errors import DataError, NusaTradeError
from readiness import criteria as rules
from readiness.agreement import compare_trades
from readiness.figures import collect_figures
from readiness.models import ReadinessReport

logger = logging.getLogger("nusatrade.readiness")
Progress = Callable[[str], None]
SYSTEM_USER = "readiness"
MAX_DAYS = 366


class ReadinessRefused(NusaTradeError):
    """The readiness run cannot be trusted or cannot run: nothing was stored."""


@dataclass(frozen=True)
class Window:
    backtest_start: date
    backtest_end: date
    replay_start: date
    days: int

    @property
    def replay_end(self) -> date:
        """Last day of the replay (inclusive), as ``backtest --end`` takes it."""
        return self.replay_start + timedelta(days=self.days - 1)


def readiness_thresholds() -> rules.Thresholds:
    try:
        return rules.Thresholds.from_mapping(getattr(settings, "READINESS_THRESHOLDS", None))
    except ValueError as exc:
        from nusatrade.errors import ConfigurationError

        raise ConfigurationError(str(exc)) from None


def readiness_run(model_id: int, *, start: date | None = None, days: int = 30, user: Any = None,
                  report_path: Path | None = None, progress: Progress | None = None,
                  activate: bool = False, ran_by: str | None = None) -> ReadinessReport:
    """Run every step (module doc) and store the verdict; ``ReadinessRefused`` (nothing
    stored) when the run cannot be trusted or cannot run."""
    started = time.perf_counter()
    say = progress or (lambda _text: None)
    user = user if getattr(user, "is_authenticated", False) else None
    thresholds = readiness_thresholds()
    model = _model_get(model_id)
    _refuse_changed_fingerprint(model)
    window = readiness_window(model, start, days)
    _refuse_inactive(model, activate)
    say(f"Look-ahead check of model #{model.pk} on its current fingerprint "
        f"{model.fingerprint[:12]}")
    lookahead = _lookahead(model, user)
    activation = _activate(model, activate, user) if activate else {"activated": False}
    say(f"Held-out backtest {window.backtest_start} to {window.backtest_end} with the "
        "spread/slippage/threshold sweep")
    held_out = _backtest(model, window.backtest_start, window.backtest_end, user=user,
                         sweep=True)
    account = _account_create(model, user)
    try:
        say(f"Replay {window.days} day(s) from {window.replay_start} through the trading "
            f"cycle on paper account #{account.pk} ({account.name})")
        replay = _replay(account, window, say)
        say(f"Backtest of the replay window with account #{account.pk}'s settings "
            "(agreement)")
        twin = _backtest(model, window.replay_start, window.replay_end, user=user,
                         account=account)
        agreement = _agreement(replay, twin)
        say(f"Reconciliation and performance tracker of account #{account.pk}")
        reconciliation = _reconcile(account, replay, model)
        tracker = _track(account, model, replay)
    finally:
        _account_close(account)
    figures = collect_figures(held_out, replay.to_dict(), agreement, reconciliation, tracker,
                              lookahead, model)
    figures["activation"] = activation
    verdict = rules.evaluate(figures, thresholds)
    say(f"Verdict: {verdict.verdict}")
    return _store(model, window, figures, verdict, thresholds, held_out, twin, account, user,
                  ran_by, report_path, time.perf_counter() - started)


# --- step 1: refusals ------------------------------------------------------------------------

def _model_get(model_id: int) -> MLModel:
    try:
        return MLModel.objects.select_related("instrument").get(pk=model_id)
    except (MLModel.DoesNotExist, ValueError, TypeError):
        raise ReadinessRefused(f"no ML model with id {model_id}") from None


def _refuse_changed_fingerprint(model: MLModel) -> None:
    from mlops.services.registry import model_identity_changes

    changes = model_identity_changes(model)
    if changes:
        raise ReadinessRefused(
            f"REFUSED: model #{model.pk} ({model.name} v{model.version}): its fingerprint no "
            f"longer matches the code or its record: {'; '.join(changes)}. Its figures would "
            "describe another model; retrain it on the current code (or restore the code and "
            "libraries it was trained with). Nothing was run or stored.")


def readiness_window(model: MLModel, start: date | None, days: int) -> Window:
    """The held-out backtest period and the replay window, or ReadinessRefused saying why.

    The replay window is ``days`` UTC days (as ``replay --days``), by default the last ones
    whose following bar is stored: the paper broker prices the final close at the next open,
    so the last stored day itself is left for that."""
    from backtests.services import first_allowed_day, training_window_text
    from marketdata.selectors import bars_range

    symbol, tf = model.instrument.symbol, model.timeframe
    if not 1 <= int(days) <= MAX_DAYS:
        raise ReadinessRefused(f"days must be from 1 to {MAX_DAYS}, not {days}")
    held_out = first_allowed_day(model)
    first, last, count = bars_range(symbol, tf)
    if not count or last.date() < held_out:
        raise ReadinessRefused(
            f"REFUSED: model #{model.pk} was trained on {symbol} {tf} bars from "
            f"{training_window_text(model)} and no bar is stored after that: there is no "
            "held-out data to judge it on. Import newer bars or train with an earlier end.")
    last_day = last.date()
    replay_start = start or last_day - timedelta(days=days)
    window = Window(held_out, last_day, replay_start, int(days))
    if replay_start < held_out:
        raise ReadinessRefused(
            f"REFUSED: the replay window {replay_start} to {window.replay_end} starts before "
            f"{held_out}, the first day after model #{model.pk}'s training window: a replay "
            f"on training bars would flatter it. Stored {symbol} {tf} bars after training: "
            f"{held_out} to {last_day} ({(last_day - held_out).days} day(s)); use fewer days "
            "or a later --start.")
    if first.date() > replay_start or window.replay_end >= last_day:
        raise ReadinessRefused(
            f"REFUSED: fewer than {days} day(s) of {symbol} {tf} bars are stored for the "
            f"replay window {replay_start} to {window.replay_end} (stored: "
            f"{first:%Y-%m-%d} to {last:%Y-%m-%d}; the replay also needs the bars of the day "
            "after its window, whose open prices its final close).")
    return window


def _refuse_inactive(model: MLModel, activate: bool) -> None:
    from mlops.selectors import model_active

    if model.status == ModelStatus.ACTIVE or activate:
        return
    active = model_active(model.instrument.symbol, model.timeframe)
    now = f"the active one is #{active.pk}" if active else "none is active"
    raise ReadinessRefused(
        f"REFUSED: model #{model.pk} is not the active {model.instrument.symbol} "
        f"{model.timeframe} model ({now}). The replay runs the real trading cycle, which "
        f"trades the active model only. Activate model #{model.pk} first (admin, or "
        "`readiness --activate`, which activates it through the audited activation rules "
        "and leaves it active). Nothing was run or stored.")


# --- step 2: look-ahead and activation ---------------------------------------------------------

def _lookahead(model: MLModel, user: Any) -> dict[str, Any]:
    """The look-ahead check on the model's current fingerprint: the recorded one when it ran
    on that fingerprint (the fingerprint covers the feature code, so it proves the same), else
    a check run now (recorded on the model, as ``check_lookahead``)."""
    check = (model.metrics or {}).get("lookahead") or {}
    if check and check.get("fingerprint") == model.fingerprint:
        return {**check, "source": "recorded on the current fingerprint"}
    from mlops.services.lookahead import model_check_lookahead

    report = model_check_lookahead(model, user=user)
    model.refresh_from_db()
    return {**report.to_dict(), "source": "run now by this readiness run"}


def _activate(model: MLModel, activate: bool, user: Any) -> dict[str, Any]:
    from mlops.selectors import model_active
    from mlops.services import ActivationRefused, model_activate

    if model.status == ModelStatus.ACTIVE:
        return {"activated": False, "note": "already the active model"}
    previous = model_active(model.instrument.symbol, model.timeframe)
    try:
        model_activate(model, user, "readiness run (--activate): the replay trades the "
                                    "active model")
    except ActivationRefused as exc:
        raise ReadinessRefused(f"REFUSED: model #{model.pk} cannot be activated for the "
                               f"replay: {exc}") from exc
    model.refresh_from_db()
    return {"activated": True, "previous_active": previous.pk if previous else None,
            "note": f"model #{model.pk} was activated for this run and stays active"
                    + (f" (it replaced #{previous.pk})" if previous else "")}


# --- steps 3 and 5: backtests ------------------------------------------------------------------

def _backtest(model: MLModel, start: date, end: date, *, user: Any, sweep: bool = False,
              account: TradingAccount | None = None) -> BacktestRun:
    """A stored backtest run executed here (as ``backtest`` runs it); ReadinessRefused with
    its error when refused or failed."""
    from backtests.services import BacktestParams, backtest_run_create, backtest_run_execute

    try:
        run = backtest_run_create(model=model, start=start, end=end, user=user, enqueue=False,
                                  params=BacktestParams(sweep=sweep), account=account)
    except DataError as exc:
        raise ReadinessRefused(f"backtest {start} to {end} refused: {exc}") from exc
    run = backtest_run_execute(run.pk)
    if run.status != RunStatus.SUCCEEDED:
        raise ReadinessRefused(f"backtest #{run.pk} {start} to {end} {run.status}: {run.error}")
    return run


def _run_trades(run: BacktestRun) -> list[dict[str, Any]]:
    return [{"entry_time": t.entry_time.isoformat(), "side": t.side,
             "net_pnl": str(t.net_pnl), "exit_time": t.exit_time.isoformat()}
            for t in run.trades.order_by("entry_time", "number")]


# --- step 4: the paper account and the replay --------------------------------------------------

def _owner(user: Any) -> User:
    if user is not None:
        return user
    owner, created = User.objects.get_or_create(username=SYSTEM_USER,
                                                defaults={"is_active": False})
    if created:
        owner.set_unusable_password()
        owner.save(update_fields=["password"])
    return owner


def _agreement(replay: Any, twin: BacktestRun) -> dict[str, Any]:
    """Replay vs backtest, trade by trade; trades made on a closed market (by the cycle's own
    calendar) are named (``readiness.agreement``)."""
    from trading.cycle.steps import market_open_at

    return compare_trades(replay.trades, _run_trades(twin), market_open=market_open_at)


def _account_create(model: MLModel, user: Any) -> TradingAccount:
    """A new paper account for this run (risk policy, strategy settings and paper book as
    ``create_account`` makes them), trading the model's symbol and timeframe."""
    from trading.models import StrategySettings
    from trading.services import account_create

    owner = _owner(user)
    number = TradingAccount.objects.filter(name__startswith="readiness #").count() + 1
    for attempt in range(20):
        name = f"readiness #{number + attempt} model {model.pk}"
        try:
            account = account_create(owner.get_username(), name=name, broker=Broker.PAPER)
            break
        except DataError:   # the name was taken meanwhile: take the next number
            continue
    else:
        raise ReadinessRefused("could not allocate a paper account name for the replay")
    StrategySettings.objects.filter(account=account).update(
        symbol=model.instrument.symbol, timeframe=model.timeframe)
    return account


def _account_close(account: TradingAccount) -> None:
    """Close the run's paper account once the replay is over (or failed): the live cycle's
    dispatcher trades every ACTIVE account at wall-clock time, and this one is a record of a
    past window, not an account to trade. (It must be active while the replay runs: the order
    gate refuses a paused or closed account.)"""
    TradingAccount.objects.filter(pk=account.pk).update(status=AccountStatus.CLOSED)


def _replay(account: TradingAccount, window: Window, say: Progress) -> Any:
    from trading.cycle.replay import replay_run

    quarters: set[int] = set()

    def progress(done: int, total: int) -> None:
        quarter = done * 4 // max(total, 1)
        if quarter not in quarters and quarter in (1, 2, 3):
            quarters.add(quarter)
            say(f"  replay {done}/{total} cycles")

    try:
        return replay_run(account.pk, window.replay_start, window.days, progress=progress)
    except DataError as exc:
        raise ReadinessRefused(f"replay refused: {exc}") from exc


# --- step 6: reconciliation and tracker --------------------------------------------------------

def _end_clock(replay: Any) -> datetime:
    """When the replay ended: its last day's end, or later (a weekend's next open)."""
    end = datetime.combine(replay.start + timedelta(days=replay.days), datetime.min.time(),
                           tzinfo=UTC)
    from trading.models import Position

    last = (Position.objects.filter(account_id=replay.account_id)
            .exclude(exit_time__isnull=True).order_by("-exit_time")
            .values_list("exit_time", flat=True).first())
    return max(end, last) if last else end


def _reconcile(account: TradingAccount, replay: Any, model: MLModel) -> dict[str, Any]:
    from trading.reconciliation.service import reconcile_account
    from trading.services import paper_broker_at

    at = _end_clock(replay)
    run = reconcile_account(account.pk, now=at, broker=paper_broker_at(account, at),
                            triggered_by=f"readiness of model #{model.pk}")
    return {"run": run.pk, "status": run.status, "findings": run.findings,
            "unsafe": run.unsafe, "error": run.error, "as_of": at.isoformat(),
            "clean": run.status == "clean" and not replay.open_positions}


def _track(account: TradingAccount, model: MLModel, replay: Any) -> dict[str, Any]:
    from monitoring.services.performance import scope_track

    day = (_end_clock(replay) - timedelta(microseconds=1)).date()
    snapshot = scope_track(day, account.pk, model.pk, drift=False)
    return {"snapshot": snapshot.pk, "date": day.isoformat(), "trades": snapshot.trades,
            "net_pnl": str(snapshot.net_pnl), "win_rate": snapshot.win_rate,
            "profit_factor": snapshot.profit_factor,
            "versus_backtest": snapshot.versus_backtest, "expected": snapshot.expected}


# --- step 7: figures, verdict, storage ---------------------------------------------------------

def _ran_by(user: Any, ran_by: str | None) -> str:
    if user is not None:
        return user.get_username()
    if ran_by:
        return ran_by[:150]
    try:
        return f"{getpass.getuser()} (command)"[:150]
    except (KeyError, OSError):   # no passwd entry for the uid (containers)
        return "command"


def _store(model: MLModel, window: Window, figures: dict[str, Any], verdict: rules.Verdict,
           thresholds: rules.Thresholds, held_out: BacktestRun, twin: BacktestRun,
           account: TradingAccount, user: Any, ran_by: str | None, report_path: Path | None,
           seconds: float) -> ReadinessReport:
    from mlops.services.registry import json_safe
    from readiness.report import render_html

    figures = json_safe(figures)
    with transaction.atomic():
        report = ReadinessReport.objects.create(
            model=model, symbol=model.instrument.symbol, timeframe=model.timeframe,
            backtest_start=window.backtest_start, backtest_end=window.backtest_end,
            replay_start=window.replay_start, replay_days=window.days, figures=figures,
            criteria=json_safe([c.to_dict() for c in verdict.criteria]),
            thresholds=thresholds.to_dict(),
            verdict=verdict.verdict, reasons=list(verdict.reasons),
            model_fingerprint=model.fingerprint, backtest_run=held_out, agreement_run=twin,
            account=account, created_by=user, ran_by=_ran_by(user, ran_by),
            duration_seconds=seconds)
        path = Path(report_path) if report_path else (
            Path(settings.REPORTS_DIR) / f"readiness-{report.pk}-model-{model.pk}.html")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(_report_data(report, held_out)), encoding="utf-8")
        report.report_path = str(path)
        report.save(update_fields=["report_path"])
    logger.info("readiness #%s of model #%s: %s", report.pk, model.pk, report.verdict)
    return report


def _report_data(report: ReadinessReport, held_out: BacktestRun) -> dict[str, Any]:
    from backtests.models import BacktestReport

    charts = BacktestReport.objects.filter(run=held_out).values(
        "equity_svg", "drawdown_svg").first() or {}
    model = report.model
    return {"id": report.pk, "model": f"#{model.pk} {model.name} v{model.version} "
                                      f"({model.algorithm})",
            "series": f"{report.symbol} {report.timeframe}", "verdict": report.verdict,
            "reasons": report.reasons, "criteria": report.criteria, "figures": report.figures,
            "window": {"held-out backtest": f"{report.backtest_start} to "
                                            f"{report.backtest_end} (run #{held_out.pk})",
                       "replay": f"{report.replay_days} day(s) from {report.replay_start} on "
                                 f"paper account #{report.account_id} (agreement backtest "
                                 f"#{report.agreement_run_id})"},
            "fingerprint": report.model_fingerprint, "ran_by": report.ran_by,
            "created_at": report.created_at.isoformat(timespec="seconds"),
            "duration": report.duration_seconds, "charts": charts,
            "synthetic": held_out.synthetic_data}
