"""The model registry, its audit log, live feature snapshots and predictions.

Writes go through ``mlops.services``, reads through ``mlops.selectors``. "At most one active
model per (instrument, timeframe)" and "one prediction per model and bar" are database
constraints, not only Python checks.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from marketdata.timeframes import CHOICES as TIMEFRAME_CHOICES
from mlops.algorithms import ALGORITHMS


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class Decision(models.IntegerChoices):
    BUY = 1, "BUY"
    HOLD = 0, "HOLD"
    SELL = -1, "SELL"


threshold_validators = [MinValueValidator(0.5), MaxValueValidator(1.0)]


class MLModel(models.Model):
    """A trained model: what it was trained on, how well it did, and where its file is.

    ``artifact_path`` is relative to ``settings.ARTIFACTS_DIR``; the file is loaded only when its
    SHA-256 equals ``artifact_sha256``, the manifest's equals ``manifest_sha256`` and the
    ``fingerprint`` still matches the code (``mlops.services.registry.model_estimator``).
    ``params`` holds the resolved algorithm parameters and the training configuration (splits,
    costs, seed) needed to reproduce the windows.
    """

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    algorithm = models.CharField(max_length=32, choices=[(a, a) for a in ALGORITHMS])
    params = models.JSONField(default=dict)
    feature_set_id = models.CharField(max_length=100)
    feature_names = models.JSONField(default=list, help_text="Estimator input columns, in order.")
    instrument = models.ForeignKey("trading.Instrument", on_delete=models.PROTECT,
                                   related_name="ml_models")
    timeframe = models.CharField(max_length=3, choices=TIMEFRAME_CHOICES)
    label_spec = models.JSONField(default=dict)
    threshold = models.FloatField(default=0.6, validators=threshold_validators)
    data_start = models.DateTimeField(help_text="First bar (open time) given to training.")
    data_end = models.DateTimeField(help_text="Last bar (open time) given to training.")
    n_bars = models.PositiveIntegerField(default=0)
    data_fingerprint = models.CharField(max_length=64, blank=True)
    synthetic = models.BooleanField(default=False, help_text="Trained on generated demo data.")
    metrics = models.JSONField(default=dict)
    artifact_path = models.CharField(max_length=255)
    artifact_sha256 = models.CharField(max_length=64)
    manifest_sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the JSON manifest beside the file.")
    fingerprint = models.CharField(
        max_length=64, blank=True,
        help_text="SHA-256 of the identity components (feature code, libraries, label spec, "
                  "bars source): mlops.identity.")
    fingerprint_components = models.JSONField(
        default=dict, blank=True, help_text="The fingerprint's components, to name what changed.")
    status = models.CharField(max_length=10, choices=ModelStatus.choices,
                              default=ModelStatus.CANDIDATE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "ML model"
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "timeframe"],
                condition=models.Q(status="active"),
                name="mlops_one_active_model_per_series",
            ),
            models.UniqueConstraint(fields=["name", "version"], name="mlops_model_name_version"),
            models.CheckConstraint(
                condition=models.Q(threshold__gte=0.5, threshold__lte=1.0),
                name="mlops_model_threshold_range",
            ),
        ]
        indexes = [models.Index(fields=["instrument", "timeframe", "status"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name} v{self.version} ({self.status})"

    @property
    def symbol(self) -> str:
        return self.instrument.symbol


class AuditAction(models.TextChoices):
    REGISTERED = "registered", "Registered"
    ACTIVATED = "activated", "Activated"
    RETIRED = "retired", "Retired"
    THRESHOLD_TUNED = "threshold_tuned", "Threshold tuned"
    LOOKAHEAD_CHECKED = "lookahead_checked", "Look-ahead checked"


class ModelAuditLog(models.Model):
    """Who did what to which model, when and why. Rows are never edited."""

    model = models.ForeignKey(MLModel, on_delete=models.CASCADE, related_name="audit_log")
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                             blank=True, related_name="+")
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} model #{self.model_id}"


class FeatureSnapshot(models.Model):
    """The features of one closed bar as the live cycle computed them (bounded lookback).

    Stored rather than cached: reruns are no-ops through the unique constraint, the row survives
    a cache outage, and drift monitoring (PSI against the training features) reads them later.
    """

    instrument = models.ForeignKey("trading.Instrument", on_delete=models.PROTECT,
                                   related_name="feature_snapshots")
    timeframe = models.CharField(max_length=3, choices=TIMEFRAME_CHOICES)
    feature_set_id = models.CharField(max_length=100)
    bar_time = models.DateTimeField(help_text="Open time of the closed bar.")
    values = models.JSONField(help_text="Feature name -> value (null when undefined).")
    valid = models.BooleanField(help_text="Every feature is defined (past warm-up).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-bar_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "timeframe", "feature_set_id", "bar_time"],
                name="mlops_snapshot_unique_bar"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.timeframe} {self.bar_time:%Y-%m-%d %H:%M}"


class Prediction(models.Model):
    """A model's decision for one closed bar, after the HOLD gate at ``threshold``."""

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="predictions")
    bar_time = models.DateTimeField(help_text="Open time of the closed bar decided on.")
    proba_up = models.FloatField()
    proba_down = models.FloatField()
    decision = models.SmallIntegerField(choices=Decision.choices)
    threshold = models.FloatField(validators=threshold_validators)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-bar_time"]
        constraints = [
            models.UniqueConstraint(fields=["model", "bar_time"],
                                    name="mlops_prediction_unique_model_bar"),
        ]

    def __str__(self) -> str:
        when = f"{self.bar_time:%Y-%m-%d %H:%M}"
        return f"model #{self.model_id} {when} {self.get_decision_display()}"
