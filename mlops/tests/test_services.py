"""Registry, training, tuning, look-ahead and live services against the database."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.db import IntegrityError, connection, transaction

from mlops import selectors, services
from mlops.artifacts import ArtifactIntegrityError
from mlops.models import AuditAction, FeatureSnapshot, MLModel, ModelStatus, Prediction
from mlops.tests.conftest import small_config
from mlops.tests.factories import lookahead_checked
from nusatrade.errors import DataError

NOW = pd.Timestamp("2030-01-01", tz="UTC")  # after every stored bar: the last one is closed


def actions(model: MLModel) -> list[str]:
    return [entry.action for entry in reversed(selectors.audit_log_list(model))]


def test_training_registers_a_candidate_with_its_artifact_and_manifest(
        trained_model: MLModel, artifacts_dir: Path, stored_bars: pd.DataFrame) -> None:
    model = trained_model
    assert model.status == ModelStatus.CANDIDATE and model.version == 1
    assert model.synthetic and model.n_bars > 0
    assert model.data_start == stored_bars.index[0] and model.data_end == stored_bars.index[-1]
    assert model.feature_set_id.startswith("nusatrade-v1:")
    manifest = json.loads((artifacts_dir / model.artifact_path).with_suffix(".json").read_text())
    assert manifest["sha256"] == model.artifact_sha256
    assert manifest["feature_set_id"] == model.feature_set_id
    assert manifest["label_spec"]["kind"] == "next_bar"
    assert manifest["params"]["config"]["cost"] == 0.3
    assert model.metrics["test"]["n"] > 0 and actions(model) == [AuditAction.REGISTERED]


def test_versions_increase_per_name(trained_model: MLModel) -> None:
    again = services.model_train(symbol="XAUUSD", timeframe="H1", config=small_config(),
                                 cost=0.3)
    assert (again.name, again.version) == (trained_model.name, 2)


def test_default_cost_is_the_median_spread_in_price_units(stored_bars: pd.DataFrame) -> None:
    from trading.models import Instrument

    gold = Instrument.objects.get(symbol="XAUUSD")
    expected = float(stored_bars["spread"].median()) * 0.01
    assert services.default_cost(gold, stored_bars) == pytest.approx(expected)


def test_activation_retires_the_previous_model_and_is_audited(trained_model: MLModel,
                                                              admin_user: Any) -> None:
    first = services.model_activate(lookahead_checked(trained_model), admin_user,
                                    "first live model")
    second = services.model_train(symbol="XAUUSD", timeframe="H1", config=small_config(),
                                  cost=0.3)
    services.model_activate(lookahead_checked(second), admin_user, "better on validation")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ModelStatus.RETIRED and first.retired_at is not None
    assert second.status == ModelStatus.ACTIVE and second.activated_at is not None
    assert selectors.model_active("XAUUSD", "H1") == second
    assert actions(first) == ["registered", "lookahead_checked", "activated", "retired"]
    last = selectors.audit_log_list(first)[0]
    assert last.user == admin_user and "better on validation" in last.reason


def test_the_database_refuses_two_active_models_for_one_series(trained_model: MLModel) -> None:
    clone = MLModel.objects.get(pk=trained_model.pk)
    clone.pk, clone.version = None, 99
    clone.status = ModelStatus.ACTIVE
    clone.save()
    trained_model.status = ModelStatus.ACTIVE
    with pytest.raises(IntegrityError), transaction.atomic():
        trained_model.save()


def test_activation_and_retirement_need_a_reason(trained_model: MLModel) -> None:
    with pytest.raises(DataError, match="reason is required"):
        services.model_activate(trained_model, None, "  ")
    with pytest.raises(DataError, match="reason is required"):
        services.model_retire(trained_model, None, "")


def test_a_model_whose_file_changed_is_never_loaded_or_activated(trained_model: MLModel,
                                                                 artifacts_dir: Path) -> None:
    services.model_estimator(trained_model)  # loads and caches
    with open(artifacts_dir / trained_model.artifact_path, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ArtifactIntegrityError, match="REFUSING TO LOAD"):
        services.model_estimator(trained_model)  # the cache does not bypass the check
    with pytest.raises(ArtifactIntegrityError):
        services.model_activate(trained_model, None, "should not happen")
    trained_model.refresh_from_db()
    assert trained_model.status == ModelStatus.CANDIDATE


def test_tune_threshold_uses_validation_and_stores_the_choice(trained_model: MLModel) -> None:
    outcome = services.model_tune_threshold(trained_model, min_trades=20)
    trained_model.refresh_from_db()
    assert trained_model.threshold == outcome.choice.threshold
    assert trained_model.metrics["tuning"]["threshold"] == outcome.choice.threshold
    assert len(trained_model.metrics["tuning"]["table"]) == 26
    assert trained_model.metrics["test"]["threshold"] == outcome.choice.threshold
    assert actions(trained_model)[-1] == AuditAction.THRESHOLD_TUNED


def test_tuning_is_refused_when_the_bars_changed_since_training(trained_model: MLModel,
                                                                stored_bars: pd.DataFrame,
                                                                ) -> None:
    from marketdata.models import Bar

    Bar.objects.filter(time=stored_bars.index[1000]).delete()
    with pytest.raises(DataError, match="changed since training"):
        services.model_tune_threshold(trained_model)


def test_check_lookahead_of_a_trained_model_is_clean_and_recorded(trained_model: MLModel,
                                                                  ) -> None:
    report = services.model_check_lookahead(trained_model, points=8, window=50)
    assert report.clean and len(report.checked) >= 8
    trained_model.refresh_from_db()
    assert trained_model.metrics["lookahead"]["clean"] is True
    assert actions(trained_model)[-1] == AuditAction.LOOKAHEAD_CHECKED


def test_predict_without_an_active_model_does_nothing(stored_bars: pd.DataFrame) -> None:
    assert services.prediction_make("XAUUSD", "H1", now=NOW) is None
    assert Prediction.objects.count() == 0


def test_predict_stores_one_prediction_per_bar_and_reruns_are_no_ops(
        trained_model: MLModel, stored_bars: pd.DataFrame) -> None:
    services.model_activate(lookahead_checked(trained_model), None, "test")
    first = services.prediction_make("XAUUSD", "H1", now=NOW)
    again = services.prediction_make("XAUUSD", "H1", now=NOW)
    assert first is not None and again is not None and first.pk == again.pk
    assert Prediction.objects.count() == 1 and FeatureSnapshot.objects.count() == 1
    assert first.bar_time == stored_bars.index[-1]
    assert first.proba_up + first.proba_down == pytest.approx(1.0)
    assert first.threshold == trained_model.threshold
    # Same decision as the model on the full history: the bounded lookback changes nothing.
    latest = services.model_predict_latest(trained_model, last=1, now=NOW)
    assert first.proba_up == pytest.approx(latest["proba_up"].iloc[-1], rel=1e-9)
    assert first.decision == latest["decision"].iloc[-1]


def test_the_bar_still_forming_is_never_used(trained_model: MLModel,
                                             stored_bars: pd.DataFrame) -> None:
    last = stored_bars.index[-1]
    snapshot = services.features_snapshot_compute("XAUUSD", "H1",
                                                  now=last + pd.Timedelta(minutes=30))
    assert snapshot.bar_time == stored_bars.index[-2]


def test_feature_snapshot_is_stored_once_per_bar(stored_bars: pd.DataFrame) -> None:
    a = services.features_snapshot_compute("XAUUSD", "H1", now=NOW)
    b = services.features_snapshot_compute("XAUUSD", "H1", now=NOW)
    assert a.pk == b.pk and a.valid and len(a.values) > 50
    assert all(v is None or isinstance(v, float) for v in a.values.values())


def test_predict_latest_shows_probabilities_decisions_and_known_outcomes(
        trained_model: MLModel, stored_bars: pd.DataFrame) -> None:
    frame = services.model_predict_latest(trained_model, last=5, now=NOW)
    assert list(frame.index) == list(stored_bars.index[-5:])
    assert frame["proba_up"].between(0, 1).all()
    assert frame["actual"].iloc[:-1].notna().all() and pd.isna(frame["actual"].iloc[-1])


@pytest.mark.services("postgres")
def test_concurrent_activations_of_one_series_leave_exactly_one_active(
        live_db: None, trained_model: MLModel) -> None:
    other = lookahead_checked(services.model_train(symbol="XAUUSD", timeframe="H1",
                                                   config=small_config(), cost=0.3))
    lookahead_checked(trained_model)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def activate(model: MLModel) -> None:
        try:
            barrier.wait()
            services.model_activate(model, None, "race")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=activate, args=(m,)) for m in (trained_model, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    statuses = sorted(MLModel.objects.values_list("status", flat=True))
    assert statuses == [ModelStatus.ACTIVE, ModelStatus.RETIRED]


def test_automatic_activation_needs_a_positive_out_of_sample_bound(trained_model: MLModel,
                                                                   admin_user: Any) -> None:
    from mlops.services.registry import ActivationRefused, model_metrics_update

    lookahead_checked(trained_model)
    with pytest.raises(ActivationRefused, match="not activated automatically"):
        services.model_activate(trained_model, None, "auto", automatic=True)
    trained_model.refresh_from_db()
    assert trained_model.status == ModelStatus.CANDIDATE
    model_metrics_update(trained_model, selection={"oos": {
        "lower_bound": 0.02, "confidence": 0.95, "expectancy": 0.05, "source": "test"}})
    services.model_activate(trained_model, None, "auto", automatic=True)
    trained_model.refresh_from_db()
    assert trained_model.status == ModelStatus.ACTIVE
    entry = selectors.audit_log_list(trained_model)[0]
    assert entry.details["automatic"] is True and "above 0.0200" in entry.details["oos_edge"]


def test_an_admin_may_activate_without_an_edge_and_the_reason_is_recorded(
        trained_model: MLModel, admin_user: Any) -> None:
    services.model_activate(lookahead_checked(trained_model), admin_user,
                            "reviewed the costs by hand")
    trained_model.refresh_from_db()
    assert trained_model.status == ModelStatus.ACTIVE
    entry = selectors.audit_log_list(trained_model)[0]
    assert entry.reason == "reviewed the costs by hand" and entry.details["automatic"] is False
    assert "not positive" in entry.details["oos_edge"] or "no out-of-sample" in (
        entry.details["oos_edge"])


def test_the_training_cost_ignores_the_test_windows_spreads(stored_bars: pd.DataFrame,
                                                            artifacts_dir: Path) -> None:
    from marketdata.models import Bar
    from mlops import pipeline

    # Spread 10 points on the first 60% of the training window, 100 everywhere else (the
    # feature warm-up before it and the test window after it): the whole period's median is
    # 100 points (1.00), the training window's 10 (0.10).
    ds = pipeline.build_dataset(stored_bars, pipeline.default_feature_set(),
                                small_config().label)
    start, cut = ds.times[0], ds.times[int(0.6 * 0.8 * ds.n)]
    Bar.objects.update(spread=100)
    Bar.objects.filter(time__gte=start, time__lt=cut).update(spread=10)
    model = services.model_train(symbol="XAUUSD", timeframe="H1", config=small_config())
    assert model.params["config"]["cost"] == pytest.approx(0.10)
    assert "training window" in model.metrics["cost"]["source"]
