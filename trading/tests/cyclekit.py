"""Shared set-up of the cycle, replay and parity tests: stored synthetic XAUUSD H1 bars, a
small random forest trained on the first months with the tiny test feature set (fast) and
made the active model, and a paper account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from accounts.models import TradingAccount, User
from marketdata import synthetic
from marketdata.services import bars_upsert
from mlops.models import MLModel, ModelStatus
from mlops.pipeline import TrainConfig
from mlops.tests.factories import TINY
from trading.services import account_create

FEATURES = TINY
TRAIN_END = datetime(2024, 2, 29, 23, tzinfo=UTC)      # training window: Jan-Feb 2024
# A Wednesday, 10:00 UTC: the close of the 09:00 bar, inside the stored data.
AT = datetime(2024, 3, 6, 10, tzinfo=UTC)


def store_bars(start: str = "2024-01-01", end: str = "2024-05-01", seed: int = 5
               ) -> pd.DataFrame:
    frame = synthetic.generate_range(start, end, "H1", seed=seed, symbol="XAUUSD",
                                     start_price=2050.0)
    bars_upsert("XAUUSD", "H1", frame, synthetic=True)
    return frame


def active_model(threshold: float = 0.5, **params: Any) -> MLModel:
    """A small random forest on Jan-Feb 2024, active for XAUUSD H1. Set active directly:
    these tests are about the cycle, not about the activation rules."""
    from mlops.services import model_train

    config = TrainConfig(params={"n_estimators": 20, "max_depth": 4, **params},
                         importance_repeats=1, min_trades=5, n_jobs=1, threshold=threshold)
    model = model_train(symbol="XAUUSD", timeframe="H1", config=config, cost=0.3,
                        end=TRAIN_END, feature_set=FEATURES)
    MLModel.objects.filter(pk=model.pk).update(status=ModelStatus.ACTIVE, threshold=threshold)
    model.refresh_from_db()
    return model


def paper_account(username: str = "trader", name: str = "paper 1") -> TradingAccount:
    User.objects.get_or_create(username=username)
    return account_create(username, name=name, broker="paper")


def fresh_estimators(settings: Any, tmp_path: Any) -> None:
    from mlops.services import clear_estimator_cache

    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    clear_estimator_cache()
