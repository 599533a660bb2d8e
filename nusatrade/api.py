"""DRF glue shared by every app: the exception handler that keeps every error JSON.

Django raises ``RequestDataTooBig`` (body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``),
``TooManyFieldsSent`` / ``TooManyFilesSent`` (query string or form over
``DATA_UPLOAD_MAX_NUMBER_FIELDS`` / ``..._FILES``) as ``SuspiciousOperation``s. DRF's handler
does not know them, so they escaped to Django's ``handler400``: an HTML page. Here they are a
JSON 413 / 400 like every other API error; ``bad_request`` does the same for ``/api/`` paths
that fail before a DRF view runs.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from nusatrade.errors import DataError, RiskLimitBreached, ServiceUnavailableError

security_logger = logging.getLogger("django.security")
API_PREFIX = "/api/"


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "A required service is unavailable; try again shortly."
    default_code = "service_unavailable"


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def exception_handler(exc, context):
    # DRF would turn django-ratelimit's Ratelimited (a PermissionDenied) into 403: it is a 429.
    if isinstance(exc, Ratelimited):
        exc = exceptions.Throttled(detail="Too many requests; slow down.")
    elif isinstance(exc, DataError):
        exc = exceptions.ValidationError({"detail": str(exc)})
    elif isinstance(exc, RiskLimitBreached):
        exc = exceptions.PermissionDenied(detail=str(exc))
    elif isinstance(exc, ServiceUnavailableError):
        exc = ServiceUnavailable(detail=str(exc))
    elif isinstance(exc, SuspiciousOperation):
        exc = _suspicious_to_api(exc)
    return drf_exception_handler(exc, context)


def _suspicious_to_api(exc: SuspiciousOperation) -> exceptions.APIException:
    security_logger.warning("refused request: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    return exceptions.ParseError(f"Bad request: {exc}")


def bad_request(request: HttpRequest, exception: Exception | None = None,
                template_name: str = defaults.ERROR_400_TEMPLATE_NAME) -> HttpResponse:
    """``handler400``: JSON under ``/api/`` (413 for an oversized body), Django's page elsewhere."""
    if not request.path.startswith(API_PREFIX):
        return defaults.bad_request(request, exception, template_name)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"detail": PayloadTooLarge.default_detail}, status=413)
    return JsonResponse({"detail": "Bad request."}, status=400)


def not_found(request: HttpRequest, exception: Exception | None = None,
              template_name: str = defaults.ERROR_404_TEMPLATE_NAME) -> HttpResponse:
    """``handler404``: the API's JSON error shape under ``/api/``, Django's page elsewhere."""
    if not request.path.startswith(API_PREFIX):
        return defaults.page_not_found(request, exception, template_name)
    return JsonResponse({"detail": "Not found."}, status=404)
