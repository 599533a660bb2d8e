"""``retrain``: a challenger trained before the evaluation window, both models backtested on
it, decided both ways; promotion only with approval, atomic (one active model per series)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from mlops.models import MLModel, ModelStatus
from mlops.services import model_activate
from mlops.tests.factories import lookahead_checked
from monitoring.models import RetrainingRequest, RetrainingRun
from monitoring.services import retraining_request_decide
from monitoring.services.retrain import retrain

pytestmark = pytest.mark.django_db


@pytest.fixture
def champion(stored_bars: Any, artifacts_dir: Any, settings: Any) -> MLModel:
    """The active model, trained on all but the last 40 days (which it then "traded")."""
    from mlops.services import model_train
    from mlops.tests.conftest import small_config

    settings.RETRAIN_EVAL_DAYS = 30
    settings.RETRAIN_MIN_TRADES = 1
    settings.RETRAIN_LOOKAHEAD = {"points": 3, "window": 20, "per_kind": 1}
    settings.RETRAIN_AUTO_PROMOTE = False
    end = stored_bars.index[-1] - timedelta(days=40)
    model = model_train(symbol="XAUUSD", timeframe="H1", config=small_config(), cost=0.3,
                        end=end)
    return model_activate(lookahead_checked(model), None, "champion for the test")


def test_not_flagged_does_nothing(champion: MLModel) -> None:
    out = StringIO()
    call_command("retrain", "--if-flagged", stdout=out)
    assert "not flagged" in out.getvalue() and not RetrainingRun.objects.exists()


def test_challenger_never_sees_the_window_and_is_kept_out_when_not_better(
        champion: MLModel, settings: Any) -> None:
    settings.RETRAIN_MARGIN = 1e9  # nothing beats the champion by a billion points
    run = retrain("XAUUSD", "H1")
    challenger = run.challenger
    # Trained on bars ending before the evaluation window (out of sample for it).
    assert challenger.data_end.date() < run.window_start
    assert champion.data_end.date() < run.window_start
    assert run.champion_backtest.start == run.challenger_backtest.start == run.window_start
    assert run.decision == "kept_champion"
    champion.refresh_from_db()
    challenger.refresh_from_db()
    assert champion.status == ModelStatus.ACTIVE and challenger.status == ModelStatus.CANDIDATE


def test_better_challenger_waits_for_approval_then_is_promoted_atomically(
        champion: MLModel, settings: Any) -> None:
    settings.RETRAIN_MARGIN = -1e9  # any challenger is "better": the decision path is tested
    request = RetrainingRequest.objects.create(model=champion, trigger="win_rate")
    run = retrain("XAUUSD", "H1", if_flagged=True)
    assert run.decision == "awaiting_approval" and run.request == request
    champion.refresh_from_db()
    assert champion.status == ModelStatus.ACTIVE  # the champion trades until the switch
    retraining_request_decide(request.pk, approve=True, actor="boss", reason="looks good")
    run.refresh_from_db()
    champion.refresh_from_db()
    assert run.decision == "promoted" and run.promoted_at is not None
    assert champion.status == ModelStatus.RETIRED
    active = MLModel.objects.filter(instrument=champion.instrument, timeframe="H1",
                                    status=ModelStatus.ACTIVE)
    assert list(active) == [run.challenger]
