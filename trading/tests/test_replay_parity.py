"""Replay runs the real cycle over stored history and lists the same trades as
``backtest --account`` over the same period (issue 10, "Replay: ... Parity is the point").

30 days of H1 (2024-03-04 to 2024-04-02) on synthetic bars, a small random forest trained on
Jan-Feb, a fresh paper account with the default strategy settings (but a take-profit at
0.5 ATR, so that both stop-loss and take-profit exits occur), risk policy and paper costs.
Both commands run as a user runs them (``call_command``, ``--json``); the tiny test feature
set stands in for the production one (monkeypatched lookup) to keep the test fast.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from trading.models import Order, Position, Signal
from trading.services.strategy import strategy_settings_get
from trading.tests import cyclekit

START, DAYS, END = date(2024, 3, 4), 30, date(2024, 4, 2)
TP_ATR = 0.5
KEYS = ("entry_time", "exit_time", "side", "volume", "exit_reason", "net_pnl")


@pytest.fixture
def world(db, settings, tmp_path, monkeypatch):
    from mlops import pipeline
    from mlops.services import clear_estimator_cache

    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    clear_estimator_cache()
    production = pipeline.feature_set_for_id
    monkeypatch.setattr(pipeline, "feature_set_for_id", lambda fid: cyclekit.FEATURES
                        if fid == cyclekit.FEATURES.id else production(fid))
    cyclekit.store_bars(end="2024-04-10")  # training Jan-Feb + the period and its next open
    model = cyclekit.active_model()
    account = cyclekit.paper_account()
    # A take-profit closer than the default 3 ATR: the period then holds both SL and TP
    # exits (the default account's trades here exit by stop or opposite signal only).
    settings = strategy_settings_get(account.pk)
    settings.tp_atr = TP_ATR
    settings.save(update_fields=["tp_atr"])
    return account, model


def run_json(*args: str) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def comparable(trade: dict) -> tuple:
    prices = tuple(Decimal(trade[k]).quantize(Decimal("0.01"))
                   for k in ("entry_price", "exit_price"))
    return tuple(str(trade[k]) for k in KEYS) + prices


def test_replay_lists_the_same_trades_and_halts_as_the_backtest(world):
    account, model = world
    replay = run_json("replay", "--account", str(account.pk), "--start", START.isoformat(),
                      "--days", str(DAYS))
    backtest = run_json("backtest", "--model", str(model.pk), "--account", str(account.pk),
                        "--start", START.isoformat(), "--end", END.isoformat())
    replayed = [comparable(t) for t in replay["trades"]]
    tested = [comparable(t) for t in backtest["trades"]]
    assert replayed == tested
    reasons = {t["exit_reason"] for t in replay["trades"]}
    assert len(replayed) >= 5, replayed
    assert {"stop_loss", "take_profit"} <= reasons, reasons
    # The same risk halts at the same times, and the production gate refused the entries
    # the backtester denied, rule by rule.
    assert [(h["time"], h["rule"]) for h in replay["halts"]] == [
        (h["time"], h["rule"]) for h in backtest["halts"]]
    assert replay["halts"], "the period must contain a risk halt"
    assert replay["denied_by_rule"] == backtest["denied_by_rule"]
    # Everything went through the production rows.
    assert Position.objects.filter(account=account, status="closed").count() == len(replayed)
    assert Signal.objects.filter(account=account).count() >= replay["bars"] - 1
    assert Order.objects.filter(account=account, status="filled").exists()
    print(json.dumps({"replay": {k: replay[k] for k in ("bars", "cycles", "seconds",
                                                        "bars_per_second")},
                      "trades": len(replayed), "halts": replay["halts"],
                      "denied": replay["denied_by_rule"], "reasons": sorted(reasons)}))


def test_max_trades_per_day_counts_alike_in_replay_and_backtest(world):
    """The daily limit as the binding rule (1 trade a UTC day, the kill switches off): the
    replay and the backtest open and refuse the same entries, weekly reopenings included
    (both judge an entry at its fill time). The demo's "5 vs 7 under max_trades_per_day" was
    holiday bars, not this rule (readiness/tests/test_agreement_closed_market.py)."""
    from trading.models import RiskPolicy

    account, model = world
    RiskPolicy.objects.filter(account=account).update(
        max_trades_per_day=1, daily_loss_stop_pct=None, max_consecutive_losses=None,
        min_profit_factor=None, min_win_rate_pct=None, max_drawdown_pct=None)
    replay = run_json("replay", "--account", str(account.pk), "--start", START.isoformat(),
                      "--days", str(DAYS))
    backtest = run_json("backtest", "--model", str(model.pk), "--account", str(account.pk),
                        "--start", START.isoformat(), "--end", END.isoformat())
    replayed = [comparable(t) for t in replay["trades"]]
    assert replayed == [comparable(t) for t in backtest["trades"]]
    days = [t["entry_time"][:10] for t in replay["trades"]]
    assert len(days) == len(set(days)) >= 10, days  # at most one a UTC day, and many days
    assert replay["denied_by_rule"].get("max_trades_per_day", 0) > 0, replay["denied_by_rule"]
    assert replay["denied_by_rule"] == backtest["denied_by_rule"]
    assert replay["halts"] == backtest["halts"] == []
    # Friday's last decisions filled at the Sunday 22:00 reopening count on that Sunday (UTC),
    # so Monday still has its trade: on both paths.
    reopenings = [day for day in days if date.fromisoformat(day).weekday() == 6]
    assert reopenings, days
