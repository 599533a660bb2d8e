"""Reads of the model registry, predictions and feature snapshots."""

from __future__ import annotations

from django.db.models import QuerySet

from mlops.models import MLModel, ModelAuditLog, ModelStatus, Prediction
from nusatrade.errors import DataError


def model_get(model_id: int) -> MLModel:
    """The model with ``model_id`` (and its instrument), or DataError naming the id."""
    try:
        return MLModel.objects.select_related("instrument").get(pk=model_id)
    except MLModel.DoesNotExist:
        raise DataError(f"no ML model with id {model_id}") from None


def model_active(symbol: str, timeframe: str) -> MLModel | None:
    """The active model of ``symbol``/``timeframe``, or None."""
    return (MLModel.objects.select_related("instrument")
            .filter(instrument__symbol=symbol.upper(), timeframe=timeframe.upper(),
                    status=ModelStatus.ACTIVE).first())


def model_list(symbol: str | None = None, timeframe: str | None = None) -> QuerySet[MLModel]:
    models = MLModel.objects.select_related("instrument", "created_by")
    if symbol:
        models = models.filter(instrument__symbol=symbol.upper())
    if timeframe:
        models = models.filter(timeframe=timeframe.upper())
    return models


def prediction_list(model: MLModel, last: int = 10) -> list[Prediction]:
    """The model's latest stored predictions, newest first."""
    return list(Prediction.objects.filter(model=model).order_by("-bar_time")[:last])


def audit_log_list(model: MLModel) -> list[ModelAuditLog]:
    return list(ModelAuditLog.objects.filter(model=model).select_related("user"))
