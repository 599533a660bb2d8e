"""Pieces every list/read endpoint of the API shares (no models: the bottom layer).

- :class:`StrictQueryMixin`: a query parameter the view does not know is a 400 naming it
  (a typo like ``?acount=3`` must not silently return everything).
- :class:`CursorPage`: cursor pagination (stable under inserts, no ``COUNT(*)``: a list never
  tells how many rows exist, its own or anyone's).
- :class:`AwareDateTimeFilter`: ISO 8601 with an explicit offset; a naive time is refused.
- :class:`ApiFilterSet`: django-filter with the form class built once; :class:`IdFilter`.
- :class:`StrictDecimalField`: plain decimal text or a JSON integer; no exponent (``1e9``),
  no ``NaN``/``Infinity``, no float (binary floats are not money).
- :class:`ValuesRows` / :class:`ValuesListMixin`: a list page read with ``.values()`` and
  rendered by the serializer's own fields, without model instances (the same bytes).
"""

from __future__ import annotations

import copy
import decimal
import re
from datetime import UTC
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

import django_filters
from django import forms
from django.utils.dateparse import parse_datetime
from django_filters.filters import QuerySetRequestMixin
from django_filters.filterset import FilterSetMetaclass
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, exceptions, serializers
from rest_framework.fields import _UnvalidatedField
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination
from rest_framework.relations import PrimaryKeyRelatedField, RelatedField
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

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


class IdFilter(django_filters.NumberFilter):
    """A row id: digits only (``1e3`` or ``1.5`` is a 400, not a decimal)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class _ShallowCopiedFilters(dict):
    """A filterset's ``base_filters``: django-filter deep-copies them for every request (each
    instance sets its own ``model`` and ``parent`` on them); a shallow copy of each filter is
    enough, as nothing else on a filter changes while it filters."""

    def __deepcopy__(self, memo: dict) -> dict:
        return {name: _filter_copy(filter_) for name, filter_ in self.items()}


def _filter_copy(filter_: django_filters.Filter) -> django_filters.Filter:
    clone = copy.copy(filter_)
    if getattr(filter_, "method", None) is not None:
        # A ``method=`` filter calls through a FilterMethod bound to its filter (to reach the
        # filterset as its ``parent``): bind a new one to the clone, not the original.
        clone.method = filter_.method
    return clone


class _SharedFields(dict):
    """A cached filter form's ``base_fields``: Django deep-copies a form's fields for every
    instance; validating query parameters changes nothing on them, so every instance gets a
    new dict of the same field objects."""

    def __deepcopy__(self, memo: dict) -> dict:
        return dict(self)


class _ApiFilterSetMetaclass(FilterSetMetaclass):
    def __new__(mcs, name: str, bases: tuple, attrs: dict) -> type:
        new_class = super().__new__(mcs, name, bases, attrs)
        for filter_name, filter_ in new_class.base_filters.items():
            if isinstance(filter_, QuerySetRequestMixin):  # its field depends on the request
                raise TypeError(f"{name}.{filter_name}: a request-dependent filter cannot "
                                "share a cached form; use django_filters.FilterSet")
        new_class.base_filters = _ShallowCopiedFilters(new_class.base_filters)
        return new_class


class ApiFilterSet(django_filters.FilterSet, metaclass=_ApiFilterSetMetaclass):
    """django-filter's ``FilterSet`` without its per-request copying (a list's filters were a
    fifth of its CPU, most of it ``copy.deepcopy``): the form class is built once per
    filterset (``get_form_class`` made a new class, and a form field with its label per
    filter, every time), its fields are shared by the form instances, and the filters are
    copied shallowly. Only for filters whose fields do not depend on the request (a
    ``ModelChoiceFilter`` is refused when the class is defined). Filtering, validation and
    error messages are django-filter's own."""

    def get_form_class(self) -> type[forms.Form]:
        cls = type(self)
        form_class = cls.__dict__.get("_api_form_class")
        if form_class is None:  # a race builds it twice, identically
            form_class = super().get_form_class()
            form_class.base_fields = _SharedFields(form_class.base_fields)
            cls._api_form_class = form_class
        return form_class



class CreatedRangeFilterSet(ApiFilterSet):
    """``created_after`` / ``created_before`` on ``created_at``: the same pair, the same
    words, on every list that has them (orders, models, backtests, readiness)."""

    created_after = AwareDateTimeFilter(field_name="created_at", lookup_expr="gte",
                                        help_text="Created at or after (ISO 8601 with offset).")
    created_before = AwareDateTimeFilter(field_name="created_at", lookup_expr="lt",
                                         help_text="Created before (ISO 8601 with offset).")

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


def _same(value: Any) -> Any:
    return value


def _json_object(field: serializers.DictField, value: Any) -> Any:
    """A ``DictField`` without a child type: DRF copies the dict with ``str`` keys; a JSON
    column's object has ``str`` keys already, so it is rendered as it is (the same JSON)."""
    if type(value) is dict and all(type(key) is str for key in value):
        return value
    return field.to_representation(value)


def _datetime_renderer(field: serializers.DateTimeField) -> Any:
    """``field.to_representation`` for one page, with the time zone looked up once per page
    instead of once per value (``DateTimeField.enforce_timezone`` asks the thread-local
    current time zone every time: a third of a page's rendering). The same text: ISO 8601 in
    that zone, ``Z`` for UTC; anything else (another format, a naive value, an overflow) goes
    to the field itself."""
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if output_format is None or output_format.lower() != ISO_8601 or zone is None:
        return field.to_representation

    def render(value: Any) -> Any:
        if isinstance(value, str) or value.utcoffset() is None:
            return field.to_representation(value)
        try:
            text = value.astimezone(zone).isoformat()
        except OverflowError:
            return field.to_representation(value)
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return render


def _decimal_renderer(field: serializers.DecimalField) -> Any:
    """``field.to_representation`` for one page, with the quantizing context built once per
    page instead of once per value (``DecimalField.quantize`` copies the thread's decimal
    context every call: the biggest cost of a page of money). The same text: quantized to
    the field's places in a copy of the current context with ``prec = max_digits``, then
    ``f"{value:f}"``; other configurations go to the field itself."""
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    if not coerce or field.localize or field.normalize_output or field.decimal_places is None:
        return field.to_representation
    context = decimal.getcontext().copy()
    if field.max_digits is not None:
        context.prec = field.max_digits
    exponent, rounding = Decimal(".1") ** field.decimal_places, field.rounding

    def render(value: Any) -> Any:
        if not isinstance(value, Decimal):
            return field.to_representation(value)
        return f"{value.quantize(exponent, rounding=rounding, context=context):f}"

    return render


class ValuesRows:
    """A list serializer's output from ``QuerySet.values()`` rows: the same bytes for a
    fraction of the cost (performance, issue 13).

    Built once from a serializer class (the one the schema documents): every readable field
    maps to one column of ``.values()`` (``source="model.name"`` -> ``model__name``; a
    primary-key relation -> the foreign key's id) and is rendered by *that field's own*
    ``to_representation`` (date-times and decimals: the same rule with its per-call set-up
    hoisted out of the loop, :func:`_datetime_renderer`, :func:`_decimal_renderer`), with
    DRF's rule that ``None`` stays ``None``. What it skips is the per-row machinery: a model
    instance per row, ``get_attribute`` per field, an ``OrderedDict`` per row. A field it
    cannot map (a ``SerializerMethodField``, a nested serializer, ``source="*"``) is a
    ``TypeError`` when it is built, never a silent difference; tests compare both renderings
    row for row."""

    def __init__(self, serializer_class: type[serializers.Serializer]) -> None:
        self.serializer_class = serializer_class
        self._plan: tuple[tuple[str, str, serializers.Field], ...] | None = None

    @property
    def plan(self) -> tuple[tuple[str, str, serializers.Field], ...]:
        """(output name, ``.values()`` column, field) per readable field, in order. Built on
        first use (the app registry is ready by then); a race builds it twice, identically."""
        if self._plan is None:
            self._plan = tuple(self._column(field) for field in
                               self.serializer_class()._readable_fields)
        return self._plan

    def _column(self, field: serializers.Field) -> tuple[str, str, serializers.Field]:
        name = f"{self.serializer_class.__name__}.{field.field_name}"
        if isinstance(field, serializers.SerializerMethodField | serializers.BaseSerializer) \
                or field.source == "*":
            raise TypeError(f"{name}: not a column; render this serializer the usual way")
        if isinstance(field, RelatedField) and (
                not isinstance(field, PrimaryKeyRelatedField) or field.pk_field is not None):
            raise TypeError(f"{name}: only plain primary-key relations map to a column")
        return field.field_name, "__".join(field.source_attrs), field

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column for _name, column, _field in self.plan)

    @staticmethod
    def _renderer(field: serializers.Field) -> Any:
        if isinstance(field, RelatedField):
            return _same  # .values() gives the id itself, not the related object
        if isinstance(field, serializers.DateTimeField):
            return _datetime_renderer(field)
        if isinstance(field, serializers.DecimalField):
            return _decimal_renderer(field)
        if isinstance(field, serializers.DictField) and type(field.child) is _UnvalidatedField:
            return partial(_json_object, field)
        return field.to_representation

    def render(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Hot path: one plain dict per row, keys in the serializer's field order."""
        plan = [(name, column, self._renderer(field)) for name, column, field in self.plan]
        return [{name: None if (value := row[column]) is None else render(value)
                 for name, column, render in plan} for row in rows]


class ValuesListMixin:
    """``list`` through :class:`ValuesRows` (``list_rows``): the view's queryset, filters,
    ordering and cursor pagination unchanged, rows fetched as ``.values()`` dicts (cursor
    pagination reads its position from a dict as from an instance)."""

    list_rows: ValuesRows

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self
        rows = view.filter_queryset(view.get_queryset()).values(*self.list_rows.columns)
        page = view.paginate_queryset(rows)
        if page is None:
            return Response(self.list_rows.render(list(rows)))
        return view.get_paginated_response(self.list_rows.render(page))
