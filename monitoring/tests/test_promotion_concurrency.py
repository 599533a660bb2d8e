"""Promotion is atomic under a concurrently running trading cycle: a reader that keeps asking
"which model trades XAUUSD H1?" (what the cycle does each bar) while the challenger is being
promoted always finds exactly one active model, never none and never two (real PostgreSQL,
committed rows, separate connections)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from backtests.models import BacktestRun, RunStatus
from mlops.models import MLModel, ModelStatus
from monitoring.models import RetrainingRun
from monitoring.services.retrain import retraining_run_promote

pytestmark = [pytest.mark.services("postgres"), pytest.mark.django_db(transaction=True)]


def _succeeded_run(model: MLModel) -> BacktestRun:
    return BacktestRun.objects.create(
        model=model, start=date(2026, 1, 1), end=date(2026, 1, 31), spread_pips=Decimal("3"),
        slippage_pips=Decimal("1"), lots=Decimal("0.01"), threshold=0.6,
        initial_equity=Decimal("10000"), status=RunStatus.SUCCEEDED,
        finished_at=datetime(2026, 2, 1, tzinfo=UTC), metrics={"return_pct": 1.0})


@pytest.fixture
def champion_and_challenger(settings: Any, tmp_path: Any, sample_bars: Any) -> tuple[Any, Any]:
    from marketdata.services import bars_upsert
    from mlops.services import clear_estimator_cache, model_activate, model_train
    from mlops.tests.conftest import small_config
    from mlops.tests.factories import lookahead_checked

    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.RETRAIN_LOOKAHEAD = {"points": 3, "window": 20, "per_kind": 1}
    clear_estimator_cache()
    bars_upsert("XAUUSD", "H1", sample_bars, synthetic=True)
    champion = lookahead_checked(model_train(symbol="XAUUSD", timeframe="H1",
                                             config=small_config(), cost=0.3))
    champion = model_activate(champion, None, "champion")
    # The challenger: the same verified artifact under a new registry row (a real retrain
    # would produce another file; what is tested here is the switch, not the training).
    fields = {f.name: getattr(champion, f.name) for f in MLModel._meta.concrete_fields
              if f.name not in ("id", "version", "status", "activated_at", "retired_at",
                                "created_at")}
    challenger = MLModel.objects.create(**fields, version=champion.version + 1,
                                        status=ModelStatus.CANDIDATE)
    return champion, challenger


def test_a_cycle_reading_during_the_promotion_always_sees_one_active_model(
        champion_and_challenger: tuple[MLModel, MLModel]) -> None:
    from mlops.selectors import model_active

    champion, challenger = champion_and_challenger
    run = RetrainingRun.objects.create(
        champion=champion, challenger=challenger, window_start=date(2026, 1, 1),
        window_end=date(2026, 1, 31), champion_backtest=_succeeded_run(champion),
        challenger_backtest=_succeeded_run(challenger), comparison={"better": True},
        decision="promote", detail="better by the margin")
    seen: list[tuple[int | None, int]] = []
    stop = threading.Event()

    def cycle() -> None:  # its own connection, autocommit: sees only committed states
        try:
            while not stop.is_set():
                active = model_active("XAUUSD", "H1")
                count = MLModel.objects.filter(instrument=champion.instrument, timeframe="H1",
                                               status=ModelStatus.ACTIVE).count()
                seen.append((active.pk if active else None, count))
        finally:
            connection.close()

    reader = threading.Thread(target=cycle)
    reader.start()
    try:
        retraining_run_promote(run.pk, actor="boss")
    finally:
        stop.set()
        reader.join(timeout=60)
    assert len(seen) > 10  # the cycle really read while the promotion ran
    # One more read after the switch (the reader may not have seen it before stopping).
    seen.append((model_active("XAUUSD", "H1").pk, 1))
    assert seen and all(count == 1 for _, count in seen), seen[:20]
    assert {pk for pk, _ in seen} <= {champion.pk, challenger.pk}
    assert None not in {pk for pk, _ in seen}
    assert seen[-1][0] == challenger.pk
    run.refresh_from_db()
    assert run.decision == "promoted"
