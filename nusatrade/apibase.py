"""Pieces every list/read endpoint of the API shares (no models: the bottom layer).

- :class:`StrictQueryMixin`: a query parameter the view does not know is a 400 naming it
  (a typo like ``?acount=3`` must not silently return everything).
- :class:`CursorPage`: cursor pagination (stable under inserts, no ``COUNT(*)``: a list never
  tells how many rows exist, its own or anyone's).
- :class:`AwareDateTimeFilter`: ISO 8601 with an explicit offset; a naive time is refused.
- :class:`StrictDecimalField`: plain decimal text or a JSON integer; no exponent (``1e9``),
  no ``NaN``/``Infinity``, no float (binary floats are not money).
"""

from __future__ import annotations

import re
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any

import django_filters
from django import forms
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination

from nusatrade.ratelimit import RatelimitThrottle, key_ip, key_user_or_ip

PAGE_SIZE_PARAM = "page_size"
CURSOR_PARAM = "cursor"
ORDERING_PARAM = "ordering"
FORMAT_PARAM = "format"  # never accepted: we render JSON only


class CursorPage(CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = PAGE_SIZE_PARAM
    cursor_query_param = CURSOR_PARAM
    ordering = "-id"


class StrictQueryMixin:
    """Refuses unknown query parameters (400 naming each), before any query runs.

    The known ones: the filterset's fields, ``ordering`` when the view orders, the pagination
    parameters when it paginates, and ``extra_query_params``."""

    extra_query_params: tuple[str, ...] = ()

    def known_query_params(self) -> set[str]:
        known = set(self.extra_query_params)
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None and getattr(self, "action", None) in (None, "list"):
            known |= set(filterset_class.base_filters)
            if getattr(self, "ordering_fields", None):
                known.add(ORDERING_PARAM)
            if getattr(self, "pagination_class", None) is not None:
                known |= {CURSOR_PARAM, PAGE_SIZE_PARAM}
        return known

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # auth first: 401
        unknown = sorted(set(request.query_params) - self.known_query_params())
        if unknown:
            raise exceptions.ValidationError(
                {name: ["Unknown query parameter."] for name in unknown})
        # PostgreSQL cannot store or compare a NUL character: refuse it here (a 400), not as a
        # database error (a 500) in whichever filter passes it on.
        nul = sorted(name for name, values in request.query_params.lists()
                     if any("\x00" in value for value in values))
        if nul:
            raise exceptions.ValidationError(
                {name: ["Null characters are not allowed."] for name in nul})


class AwareDateTimeField(forms.DateTimeField):
    """ISO 8601 with a UTC offset (``2026-01-02T03:04:05Z``); a naive time is an error, not a
    guess in the server's time zone."""

    def to_python(self, value: Any):
        if value in self.empty_values:
            return None
        parsed = parse_datetime(str(value).strip()) if isinstance(value, str) else None
        if parsed is None:
            raise forms.ValidationError("Enter an ISO 8601 date-time with a UTC offset, e.g. "
                                        "2026-01-02T03:04:05Z.", code="invalid")
        if parsed.tzinfo is None:
            raise forms.ValidationError("Naive date-time: add a UTC offset (Z or +00:00).",
                                        code="naive")
        # In UTC: PostgreSQL refuses offsets beyond 15:59 that Python accepts (-16:07).
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Date-time out of range.", code="range") from None


class AwareDateTimeFilter(django_filters.Filter):
    field_class = AwareDateTimeField


_PLAIN_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@extend_schema_field({"type": "string", "pattern": r"^[+-]?(\d+(\.\d*)?|\.\d+)$",
                     "example": "0.10"})
class StrictDecimalField(serializers.Field):
    """A decimal from ``"0.10"`` or ``1``; never ``1e9``, ``NaN``, ``Infinity`` or a float."""

    default_error_messages = {
        "invalid": "A plain decimal number is required, e.g. \"0.10\" (no exponent, no NaN).",
        "float": "Send decimals as a string (e.g. \"0.10\"): binary floats are inexact.",
        "too_long": "At most {max_digits} digits.",
        "not_positive": "Must be greater than zero.",
    }

    def __init__(self, *, max_digits: int = 20, positive: bool = False, **kwargs: Any) -> None:
        self.max_digits = max_digits
        self.positive = positive
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, float):
            self.fail("float")
        text = str(data).strip() if isinstance(data, str | int) else ""
        if not _PLAIN_DECIMAL.match(text):
            self.fail("invalid")
        if len(text.lstrip("+-").replace(".", "")) > self.max_digits:
            self.fail("too_long", max_digits=self.max_digits)
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid text
            self.fail("invalid")
        if self.positive and number <= 0:
            self.fail("not_positive")
        return number

    def to_representation(self, value: Any) -> str:
        return str(value)


class StrictSerializerMixin:
    """Unknown body fields are a 400 naming each (DRF ignores them silently by default)."""

    def to_internal_value(self, data: Any):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))  # type: ignore[attr-defined]
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]



class WriteThrottle(RatelimitThrottle):
    """Every write of the trader API: one window per user AND one per client IP
    (``RATELIMIT_TRADING`` each); fails closed in production like every limit."""

    group = "api-write"
    rate_setting = "RATELIMIT_TRADING"
    keys = (key_user_or_ip, key_ip)


class StrictOrderingFilter(OrderingFilter):
    """``ordering`` naming a field the view does not order by is a 400 (DRF ignores it)."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",")]
            valid = {name for name, _label in self.get_valid_fields(queryset, view,
                                                                     {"request": request})}
            bad = [f for f in fields if f.lstrip("-") not in valid]
            if bad:
                raise exceptions.ValidationError({self.ordering_param: [
                    f"Cannot order by {', '.join(bad)}; use one of "
                    f"{', '.join(sorted(valid))} (prefix - for descending)."]})
        return super().get_ordering(request, queryset, view)
