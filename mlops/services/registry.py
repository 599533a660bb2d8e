"""Registry writes: register, activate, retire (each with an audit entry), and loading a
model's estimator after verifying its identity: its manifest, its fingerprint against the code
that runs now (``mlops.identity``) and its file, hashed and loaded from the same bytes."""

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

from mlops import artifacts, gating, identity, pipeline
from mlops.algorithms import resolve_params
from mlops.identity import FingerprintMismatch
from mlops.models import AuditAction, MLModel, ModelAuditLog, ModelStatus
from mlops.pipeline import FeatureSet, TrainResult
from nusatrade.errors import DataError, NusaTradeError
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


class ActivationRefused(NusaTradeError):
    """A rule of activation is not met (each rule is one small ``_require_*`` function)."""


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
    components = identity.components(
        feature_set=_feature_set_identity(feature_set),
        feature_code=identity.code_digests(feature_set.code_items()),
        label=config.label.to_dict(),
        bars=bars_source(instrument, timeframe, result, synthetic))
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
        "fingerprint": identity.fingerprint_hash(components),
        "fingerprint_components": components,
    }
    manifest = {**fields, "name": name, "symbol": instrument.symbol, "timeframe": timeframe,
                "versions": {"scikit-learn": sklearn.__version__, "skops": skops.__version__}}
    saved = artifacts.save_artifact(result.model.estimator, manifest,
                                    settings.ARTIFACTS_DIR, file_stem)
    model = _create_versioned(name, instrument=instrument, timeframe=timeframe,
                              artifact_path=saved.path.name, artifact_sha256=saved.sha256,
                              manifest_sha256=saved.manifest_sha256,
                              created_by=_user(user), **fields)
    audit(model, AuditAction.REGISTERED, user, details={
        "artifact": saved.path.name, "sha256": saved.sha256,
        "manifest_sha256": saved.manifest_sha256, "fingerprint": model.fingerprint})
    return model


def _feature_set_identity(feature_set: FeatureSet) -> dict[str, Any]:
    return {"id": feature_set.id, "options": dict(feature_set.options)}


def bars_source(instrument: Instrument, timeframe: str, result: TrainResult,
                synthetic: bool) -> dict[str, Any]:
    """Where the training bars came from: the series, the synthetic flag, the bars' SHA-256
    and the successful imports that stored bars of the training window (provenance)."""
    from marketdata.models import ImportRun

    runs = (ImportRun.objects.filter(
        instrument=instrument, timeframe=timeframe, status=ImportRun.Status.SUCCEEDED,
        first_bar__lte=result.data_end.to_pydatetime(),
        last_bar__gte=result.data_start.to_pydatetime())
        .order_by("id").values("id", "name", "format", "tz"))
    return {"symbol": instrument.symbol, "timeframe": timeframe, "synthetic": synthetic,
            "data_fingerprint": result.fingerprint, "imports": list(runs)}


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


def activation_confidence() -> float:
    """Confidence of the out-of-sample edge automatic activation needs (setting
    ``ML_ACTIVATION_CONFIDENCE``, default 0.95)."""
    return float(getattr(settings, "ML_ACTIVATION_CONFIDENCE",
                         gating.DEFAULT_ACTIVATION_CONFIDENCE))


def require_oos_edge(model: MLModel) -> None:
    """Rule of AUTOMATIC activation: a positive out-of-sample net expectancy after costs at
    the configured confidence (:func:`mlops.gating.oos_edge_check`); an admin activating by
    hand is not bound by it (the audit entry records the verdict)."""
    verdict = gating.oos_edge_check(model.metrics or {}, activation_confidence())
    if not verdict.ok:
        raise ActivationRefused(f"model #{model.pk} not activated automatically: "
                                f"{verdict.reason}. An admin may activate it with a reason.")


def model_activate(model: MLModel, user: Any, reason: str,
                   feature_set: FeatureSet | None = None, *,
                   automatic: bool = False) -> MLModel:
    """Make ``model`` the active one of its series, retiring the previous one (same
    transaction). The artifact and the model's identity are verified first (a model whose
    file, manifest or fingerprint fails is never activated), and every ``_require_*`` rule
    below must hold. ``automatic`` (ml_demo, ``train_model --activate``) adds
    :func:`require_oos_edge`.
    """
    reason = _validate_reason(reason)
    if automatic:
        require_oos_edge(model)
    model_estimator(model, feature_set)  # raises ArtifactIntegrityError / FingerprintMismatch
    with transaction.atomic():
        # Lock the instrument row: activations of one series queue up instead of racing.
        Instrument.objects.select_for_update().get(pk=model.instrument_id)
        model = MLModel.objects.select_for_update().get(pk=model.pk)
        if model.status == ModelStatus.ACTIVE:
            return model
        _require_clean_lookahead_on_current_fingerprint(model)
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


def _require_clean_lookahead_on_current_fingerprint(model: MLModel) -> None:
    """Activation rule: the model's last look-ahead check was clean AND ran on the fingerprint
    the model has now (``model_estimator`` has just verified it matches the running code). A
    check that ran on other feature code proves nothing about this code."""
    check = model.metrics.get("lookahead") or {}
    if not check:
        raise ActivationRefused(
            f"model #{model.pk} has no look-ahead check: run `check_lookahead --model "
            f"{model.pk}` and activate it once the check is clean")
    if not check.get("clean"):
        raise ActivationRefused(f"model #{model.pk}: its last look-ahead check found "
                                "look-ahead; it cannot be activated")
    if check.get("fingerprint") != model.fingerprint:
        raise ActivationRefused(
            f"model #{model.pk}: its clean look-ahead check ran on fingerprint "
            f"{str(check.get('fingerprint'))[:12]}, not on the model's current fingerprint "
            f"{model.fingerprint[:12]}: run `check_lookahead --model {model.pk}` again")


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


def model_estimator(model: MLModel, feature_set: FeatureSet | None = None) -> Any:
    """The model's estimator, for prediction, activation, backtest or replay, after every check:
    its manifest (hashed), its fingerprint against the running code (``feature_set``: the one
    the caller will compute features with; default the production set of the model's id) and
    its file, whose bytes are read once, hashed and deserialised from that same buffer.

    Every check runs on every call (milliseconds); only the deserialised object is cached per
    process, keyed by the file's hash, so a file changed after the first load is still refused.
    """
    model_identity_verify(model, feature_set)
    data = artifacts.read_verified(model.artifact_path, model.artifact_sha256,
                                   settings.ARTIFACTS_DIR)
    key = (str(settings.ARTIFACTS_DIR), model.artifact_path, model.artifact_sha256)
    with _CACHE_LOCK:
        if key not in _ESTIMATORS:
            _ESTIMATORS[key] = artifacts.load_bytes(data, model.artifact_path)
        return _ESTIMATORS[key]


def current_components(model: MLModel, feature_set: FeatureSet | None = None,
                       ) -> dict[str, Any]:
    """The fingerprint components as the running code (and the registry row) give them now."""
    feature_set = feature_set or pipeline.feature_set_for_id(model.feature_set_id)
    stored_bars = (model.fingerprint_components or {}).get("bars", {})
    bars = {**stored_bars, "symbol": model.instrument.symbol, "timeframe": model.timeframe,
            "synthetic": model.synthetic, "data_fingerprint": model.data_fingerprint}
    return identity.components(
        feature_set=_feature_set_identity(feature_set),
        feature_code=identity.code_digests(feature_set.code_items()),
        label=model.label_spec, bars=bars)


def model_identity_changes(model: MLModel, feature_set: FeatureSet | None = None) -> list[str]:
    """What no longer matches the model's fingerprint (empty: it matches). Reads the manifest
    (hash-verified) and compares it with the registry row, then the stored components with the
    running code's."""
    if not model.fingerprint or not model.manifest_sha256:
        return ["no fingerprint: registered before model identity was recorded"]
    try:
        manifest = artifacts.read_verified_manifest(model.artifact_path, model.manifest_sha256,
                                                    settings.ARTIFACTS_DIR)
    except artifacts.ArtifactError as exc:
        return [str(exc)]
    changes = [f"manifest: {key} differs from the registry"
               for key, value in (("fingerprint", model.fingerprint),
                                  ("sha256", model.artifact_sha256),
                                  ("feature_set_id", model.feature_set_id),
                                  ("feature_names", model.feature_names))
               if manifest.get(key) != value]
    if identity.fingerprint_hash(model.fingerprint_components) != model.fingerprint:
        changes.append("registry: the stored fingerprint components do not hash to the "
                       "model's fingerprint (edited after training)")
    stored = manifest.get("fingerprint_components") or model.fingerprint_components
    return changes + identity.describe_changes(stored, current_components(model, feature_set))


def model_identity_verify(model: MLModel, feature_set: FeatureSet | None = None) -> None:
    """Raise ``FingerprintMismatch`` naming what changed, unless the model's identity holds."""
    changes = model_identity_changes(model, feature_set)
    if changes:
        raise FingerprintMismatch(
            f"REFUSING model #{model.pk} ({model.name} v{model.version}): its fingerprint no "
            f"longer matches: {'; '.join(changes)}. Retrain it on the current code (or restore "
            "the code and libraries it was trained with).", changes)


def clear_estimator_cache() -> None:
    with _CACHE_LOCK:
        _ESTIMATORS.clear()


def models_identity_check(models: Any = None) -> tuple[int, list[tuple[MLModel, list[str]]]]:
    """(models checked, [(model, what changed)] for every model whose fingerprint no longer
    matches). ``models``: a queryset or list (default: every registered model)."""
    if models is None:
        models = MLModel.objects.select_related("instrument").order_by("id")
    models = list(models)
    return len(models), [(m, changes) for m in models
                         if (changes := model_identity_changes(m))]
