"""The ML management commands: what they print and what they store."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mlops import pipeline
from mlops.models import MLModel, ModelStatus, Prediction
from mlops.tests.factories import LEAKY, lookahead_checked


def run(*args: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


TRAIN = ["train_model", "--symbol", "XAUUSD", "--timeframe", "H1", "--cost", "0.3",
         "--params", '{"n_estimators": 20, "max_depth": 4}', "--min-trades", "20"]


def test_train_model_prints_the_metrics_table_and_the_model_id(
        stored_bars: pd.DataFrame, artifacts_dir: Path) -> None:
    out = run(*TRAIN, "--walk-forward", "2", "--label", "triple_barrier", "--max-bars", "6")
    model = MLModel.objects.get()
    assert f"Model id: {model.pk}" in out
    for text in ("accuracy", "ROC AUC", "coverage", "Walk-forward (2 expanding folds",
                 "confusion matrix", "Class balance", "SYNTHETIC", "[1/6] features"):
        assert text in out, text
    assert model.label_spec["kind"] == "triple_barrier" and model.label_spec["max_bars"] == 6
    assert "LIKELY LEAKAGE" not in out  # plausible figures: no warning
    assert len(model.metrics["walk_forward"]["folds"]) == 2


def test_train_model_activate_refuses_a_model_without_an_out_of_sample_edge(
        stored_bars: pd.DataFrame, artifacts_dir: Path) -> None:
    out = run(*TRAIN, "--activate", "--reason", "first model")
    model = MLModel.objects.get()
    assert model.status == ModelStatus.CANDIDATE  # synthetic data: no edge after costs
    assert "not activated automatically" in out and "An admin may activate it" in out
    assert "not activated automatically" in model.metrics["activation"]["refused"]
    for text in ("majority", "95% CI", "Out of sample (", "Optimism of the tuned threshold",
                 "Trades at the threshold, 95% block-bootstrap", "profit factor"):
        assert text in out, text


def test_train_model_rejects_bad_params_json(stored_bars: pd.DataFrame) -> None:
    with pytest.raises(CommandError, match="not valid JSON"):
        run("train_model", "--params", "{nope")


def test_test_model_shows_latest_decisions(trained_model: MLModel) -> None:
    out = run("test_model", str(trained_model.pk), "--last", "4")
    lines = [line for line in out.splitlines() if line[:4].isdigit()]
    assert len(lines) == 4
    assert all(any(d in line for d in ("BUY", "SELL", "HOLD")) for line in lines)
    assert "P(up)" in out and f"threshold {trained_model.threshold:.2f}" in out
    assert Prediction.objects.count() == 0  # a preview stores nothing


def test_tune_threshold_prints_the_table_and_stores_the_choice(trained_model: MLModel) -> None:
    out = run("tune_threshold", str(trained_model.pk), "--min-trades", "20")
    trained_model.refresh_from_db()
    assert "<- chosen" in out and "0.75" in out
    assert f"Stored threshold {trained_model.threshold:.2f}" in out


def test_check_lookahead_command_passes_a_causal_model(trained_model: MLModel) -> None:
    out = run("check_lookahead", "--model", str(trained_model.pk), "--points", "5",
              "--window", "30", "--boundary-points", "2")
    assert "VERDICT: CLEAN" in out
    assert "Coverage:" in out and "first bar of a trading day: 2" in out
    coverage = MLModel.objects.get(pk=trained_model.pk).metrics["lookahead"]["coverage"]
    assert coverage["random"] == 5 and coverage["h4_last"] == 2


def test_check_lookahead_command_fails_and_names_a_leaky_feature(
        stored_bars: pd.DataFrame, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch,
        ) -> None:
    monkeypatch.setattr(pipeline, "default_feature_set", lambda: LEAKY)
    trained = run(*TRAIN)
    assert "WARNING: LIKELY LEAKAGE" in trained and "implausibly high" in trained
    model = MLModel.objects.get()
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("check_lookahead", "--model", str(model.pk), "--points", "10",
                     stdout=out)
    assert excinfo.value.returncode == 1
    text = out.getvalue()
    assert "VERDICT: LOOK-AHEAD FOUND" in text and "next_body_LEAK" in text


def test_predict_and_compute_features_commands(trained_model: MLModel,
                                               stored_bars: pd.DataFrame) -> None:
    assert "no active model" in run("predict")
    from mlops import services

    services.model_activate(lookahead_checked(trained_model), None, "command test")
    out = run("predict")
    assert run("predict") == out  # idempotent: the same stored prediction
    assert Prediction.objects.count() == 1
    assert f"model #{trained_model.pk}" in out
    assert "features defined" in run("compute_features")


def test_unknown_model_id_is_a_clean_command_error(db: None) -> None:
    with pytest.raises(CommandError, match="no ML model with id 999"):
        run("test_model", "999")
