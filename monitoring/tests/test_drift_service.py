"""``drift_compute`` on a trained model: live snapshots drawn from its training window do not
drift; the same rows with one feature shifted do, and only that one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from mlops.models import FeatureSnapshot, MLModel, Prediction
from monitoring.services import drift_compute
from monitoring.services.drift import held_out_proba, window_features

pytestmark = pytest.mark.django_db


def _store_live(model: MLModel, rows: Any, shift: dict[str, float]) -> Any:
    """Store ``rows`` as live snapshots on consecutive hours ending now-ish (the window)."""
    end = rows.index[-1].to_pydatetime() + timedelta(days=400)
    start = end - timedelta(hours=len(rows))
    for i, (_, row) in enumerate(rows.iterrows()):
        values = {k: float(v) + shift.get(k, 0.0) for k, v in row.items()}
        FeatureSnapshot.objects.create(instrument=model.instrument, timeframe=model.timeframe,
                                       feature_set_id=model.feature_set_id,
                                       bar_time=start + timedelta(hours=i), values=values,
                                       valid=True)
    return start, end


@pytest.mark.parametrize("shifted", [False, True], ids=["same", "shifted"])
def test_feature_drift_on_a_constructed_shift(trained_model: MLModel, shifted: bool) -> None:
    reference = window_features(trained_model, trained_model.data_start,
                                trained_model.data_end)
    names = list(trained_model.feature_names)
    sample = reference.sample(n=300, random_state=np.random.RandomState(3))[names]
    target = names[0]
    shift = {target: 10 * float(reference[target].std())} if shifted else {}
    start, end = _store_live(trained_model, sample, shift)
    proba = held_out_proba(trained_model)
    for i, p in enumerate(proba[np.isfinite(proba)][:200]):
        Prediction.objects.create(model=trained_model, bar_time=start + timedelta(hours=i),
                                  proba_up=p, proba_down=1 - p, decision=0, threshold=0.6)
    result = drift_compute(trained_model, end + timedelta(hours=1))
    features = result["features"]
    assert features["measured"] >= len(names) - 1 and features["live_rows"] == 300
    if shifted:
        assert features["drifting"] == [target]
        assert features["psi"][target] > 1.0
    else:
        assert features["drifting"] == []
    # Live predictions drawn from the test window's own: no prediction drift.
    assert result["predictions"]["psi"] is not None
    assert result["predictions"]["drifting"] is False
