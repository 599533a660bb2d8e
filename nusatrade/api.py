"""DRF glue shared by every app: the exception handler that keeps every error JSON."""

from __future__ import annotations

from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from nusatrade.errors import DataError, RiskLimitBreached


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "A required service is unavailable; try again shortly."
    default_code = "service_unavailable"


def exception_handler(exc, context):
    # DRF would turn django-ratelimit's Ratelimited (a PermissionDenied) into 403: it is a 429.
    if isinstance(exc, Ratelimited):
        exc = exceptions.Throttled(detail="Too many requests; slow down.")
    elif isinstance(exc, DataError):
        exc = exceptions.ValidationError({"detail": str(exc)})
    elif isinstance(exc, RiskLimitBreached):
        exc = exceptions.PermissionDenied(detail=str(exc))
    return drf_exception_handler(exc, context)
