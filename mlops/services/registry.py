"""Registry writes: register, activate, retire (each with an audit entry), and loading a
model's estimator after verifying its file."""

from __future__ import annotations

import math
import threading
import uuid
from typing import Any

import numpy as np
import sklearn
import skops
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from mlops import artifacts, gating
from mlops.algorithms import resolve_params
from mlops.models import AuditAction, MLModel, ModelAuditLog, ModelStatus
from mlops.pipeline import FeatureSet, TrainResult
from nusatrade.errors import DataError
from trading.models import Instrument

_CACHE_LOCK = threading.Lock()
_ESTIMATORS: dict[tuple[str, str, str], Any] = {}


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats as None and numpy scalars as Python ones: JSON columns
    (PostgreSQL jsonb, SQLite's JSON_VALID check) refuse non-finite numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def audit(model: MLModel, action: str, user: Any = None, reason: str = "",
          **details: Any) -> ModelAuditLog:
    return ModelAuditLog.objects.create(model=model, action=action, user=_user(user),
                                        reason=reason, details=json_safe(details))


def model_metrics_update(model: MLModel, **changes: Any) -> MLModel:
    """Merge ``changes`` into the model's metrics (JSON-safe) and save them."""
    model.metrics = json_safe({**model.metrics, **changes})
    model.save(update_fields=["metrics"])
    return model


def _user(user: Any) -> Any:
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _validate_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DataError("a reason is required to activate or retire a model")
    return reason


def model_register(*, instrument: Instrument, timeframe: str, result: TrainResult,
                   feature_set: FeatureSet, synthetic: bool = False, user: Any = None,
                   name: str | None = None) -> MLModel:
    """Save the artifact (skops + manifest) and create the candidate ``MLModel`` row."""
    config = result.config
    name = name or f"{instrument.symbol}-{timeframe}-{config.algorithm}"
    file_stem = f"{name}-{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    fields = {
        "algorithm": config.algorithm,
        "params": {"algorithm": resolve_params(config.algorithm, config.params),
                   "config": config.to_dict()},
        "feature_set_id": feature_set.id,
        "feature_names": list(result.model.feature_names),
        "label_spec": config.label.to_dict(),
        "threshold": float(result.model.threshold),
        "data_start": result.data_start.to_pydatetime(),
        "data_end": result.data_end.to_pydatetime(),
        "n_bars": int(result.metrics["rows"]["dataset_bars"]),
        "data_fingerprint": result.fingerprint,
        "synthetic": synthetic,
        "metrics": json_safe(result.metrics),
    }
    manifest = {**fields, "name": name, "symbol": instrument.symbol, "timeframe": timeframe,
                "versions": {"scikit-learn": sklearn.__version__, "skops": skops.__version__}}
    saved = artifacts.save_artifact(result.model.estimator, manifest,
                                    settings.ARTIFACTS_DIR, file_stem)
    model = _create_versioned(name, instrument=instrument, timeframe=timeframe,
                              artifact_path=saved.path.name, artifact_sha256=saved.sha256,
                              created_by=_user(user), **fields)
    audit(model, AuditAction.REGISTERED, user, details={"artifact": saved.path.name,
                                                        "sha256": saved.sha256})
    return model


def _create_versioned(name: str, **fields: Any) -> MLModel:
    """Create with the next version of ``name``; retry if a concurrent register took it."""
    for _ in range(5):
        last = (MLModel.objects.filter(name=name).order_by("-version")
                .values_list("version", flat=True).first())
        try:
            with transaction.atomic():
                return MLModel.objects.create(name=name, version=(last or 0) + 1, **fields)
        except IntegrityError:
            continue
    raise DataError(f"could not allocate a version for model {name!r}")


class ActivationRefused(DataError):
    """An automatic activation that a rule refused (an admin may still activate by hand)."""


def activation_confidence() -> float:
    """Confidence of the out-of-sample edge automatic activation needs (setting
    ``ML_ACTIVATION_CONFIDENCE``, default 0.95)."""
    return float(getattr(settings, "ML_ACTIVATION_CONFIDENCE",
                         gating.DEFAULT_ACTIVATION_CONFIDENCE))


def _require_oos_edge(model: MLModel) -> None:
    """Rule of automatic activation: a positive out-of-sample net expectancy after costs at
    the configured confidence (:func:`mlops.gating.oos_edge_check`)."""
    verdict = gating.oos_edge_check(model.metrics or {}, activation_confidence())
    if not verdict.ok:
        raise ActivationRefused(f"model #{model.pk} not activated automatically: "
                                f"{verdict.reason}. An admin may activate it with a reason.")


def model_activate(model: MLModel, user: Any, reason: str, *,
                   automatic: bool = False) -> MLModel:
    """Make ``model`` the active one of its series, retiring the previous one (same
    transaction). The artifact is verified first: a model whose file fails is never activated.
    ``automatic`` (ml_demo, ``train_model --activate``): refused (``ActivationRefused``) unless
    the model showed an out-of-sample edge; an admin's activation records the reason given.
    """
    reason = _validate_reason(reason)
    if automatic:
        _require_oos_edge(model)
    model_estimator(model)  # raises ArtifactIntegrityError loudly
    with transaction.atomic():
        # Lock the instrument row: activations of one series queue up instead of racing.
        Instrument.objects.select_for_update().get(pk=model.instrument_id)
        model = MLModel.objects.select_for_update().get(pk=model.pk)
        if model.status == ModelStatus.ACTIVE:
            return model
        now = timezone.now()
        previous = (MLModel.objects.select_for_update()
                    .filter(instrument_id=model.instrument_id, timeframe=model.timeframe,
                            status=ModelStatus.ACTIVE))
        for old in previous:
            _set_status(old, ModelStatus.RETIRED, now)
            audit(old, AuditAction.RETIRED, user, f"replaced by model #{model.pk}: {reason}")
        _set_status(model, ModelStatus.ACTIVE, now)
        audit(model, AuditAction.ACTIVATED, user, reason,
              previous=[old.pk for old in previous], automatic=automatic,
              oos_edge=gating.oos_edge_check(model.metrics or {},
                                             activation_confidence()).reason)
    return model


def model_retire(model: MLModel, user: Any, reason: str) -> MLModel:
    """Retire ``model`` (whatever its status); a no-op when already retired."""
    reason = _validate_reason(reason)
    with transaction.atomic():
        model = MLModel.objects.select_for_update().get(pk=model.pk)
        if model.status == ModelStatus.RETIRED:
            return model
        _set_status(model, ModelStatus.RETIRED, timezone.now())
        audit(model, AuditAction.RETIRED, user, reason)
    return model


def _set_status(model: MLModel, status: str, now: Any) -> None:
    model.status = status
    if status == ModelStatus.ACTIVE:
        model.activated_at = now
    else:
        model.retired_at = now
    model.save(update_fields=["status", "activated_at", "retired_at"])


def model_estimator(model: MLModel) -> Any:
    """The model's estimator after SHA-256 and type verification.

    The file's hash is checked on every call (milliseconds); only the deserialised object is
    cached per process, so a file changed after the first load is still refused.
    """
    artifacts.verify_artifact(model.artifact_path, model.artifact_sha256, settings.ARTIFACTS_DIR)
    key = (str(settings.ARTIFACTS_DIR), model.artifact_path, model.artifact_sha256)
    with _CACHE_LOCK:
        if key not in _ESTIMATORS:
            _ESTIMATORS[key] = artifacts.load_artifact(model.artifact_path,
                                                       model.artifact_sha256,
                                                       settings.ARTIFACTS_DIR)
        return _ESTIMATORS[key]


def clear_estimator_cache() -> None:
    with _CACHE_LOCK:
        _ESTIMATORS.clear()
