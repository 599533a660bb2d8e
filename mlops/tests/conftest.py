"""Fixtures of the ML app's tests: stored bars, a trusted artifacts directory, trained models,
and a REAL Celery worker for the task tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops.pipeline import TrainConfig

SMALL_RF = {"n_estimators": 30, "max_depth": 4}


@pytest.fixture
def artifacts_dir(settings: Any, tmp_path: Path) -> Path:
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    from mlops.services import clear_estimator_cache

    clear_estimator_cache()
    return settings.ARTIFACTS_DIR


@pytest.fixture
def sample_bars() -> pd.DataFrame:
    """About 2,500 gold-like H1 bars (0.4 years): enough for the production features."""
    from marketdata.synthetic import generate_bars

    return generate_bars("H1", years=0.4, seed=7)


@pytest.fixture
def live_db(transactional_db: None) -> None:
    """Committed rows (another process, e.g. a Celery worker, can see them). The migrations'
    reference rows (instruments, roles) are re-seeded for every DB test by the root conftest."""


@pytest.fixture
def stored_bars(db: None, sample_bars: pd.DataFrame) -> pd.DataFrame:
    from marketdata.services import bars_upsert

    bars_upsert("XAUUSD", "H1", sample_bars, synthetic=True)
    return sample_bars


def small_config(**changes: Any) -> TrainConfig:
    return TrainConfig(**{"params": SMALL_RF, "importance_repeats": 1, "min_trades": 20,
                          "n_jobs": 1, **changes})


@pytest.fixture
def trained_model(stored_bars: pd.DataFrame, artifacts_dir: Path) -> Any:
    """A candidate random forest on the stored bars with the production features."""
    from mlops.services import model_train

    return model_train(symbol="XAUUSD", timeframe="H1", config=small_config(), cost=0.3)


@pytest.fixture
def celery_worker(artifacts_dir: Path, celery_worker_process: str) -> str:
    """The root conftest's real worker, started after ``artifacts_dir`` so it inherits it."""
    return celery_worker_process
