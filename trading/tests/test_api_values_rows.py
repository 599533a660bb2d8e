"""The list endpoints' fast read path (issue 13 performance): ``.values()`` rows rendered by
``nusatrade.apibase.ValuesRows`` must give the SAME bytes as the DRF serializer over model
instances, for every field of positions, signals and performance snapshots, in any time
zone; a serializer with fields that are not columns is refused, not approximated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from monitoring.api.views import PerformanceSnapshotSerializer, PerformanceViewSet
from monitoring.models import PerformanceSnapshot
from nusatrade.apibase import ValuesRows
from trading.api.serializers import OrderSerializer, PositionSerializer, SignalSerializer
from trading.api.views import PositionViewSet, SignalViewSet
from trading.models import Position, Signal
from trading.tests.apidata import client_for, ml_model, position, signal, snapshot, world

pytestmark = pytest.mark.django_db


def _varied_rows() -> tuple:
    """Rows with every kind of value: open and closed, with and without a model, odd decimal
    scales, microseconds, an offset that is not UTC, non-ASCII text, int and float JSON."""
    w = world(rows=3)
    a = w.account_a
    position(a, 10, model=None, closed=False, side="SELL")
    odd = position(a, 11, model=ml_model("gb", 2))
    Position.objects.filter(pk=odd.pk).update(
        volume=Decimal("0.1"), sl=Decimal("2340.5"), tp=Decimal("2360"),
        commission=Decimal("-0.7"), entry_time=datetime(2026, 3, 2, 9, 0, 0, 123456,
                                                         tzinfo=UTC) + timedelta(days=3))
    odd_signal = signal(a, 12, model=None, decision="BUY")
    Signal.objects.filter(pk=odd_signal.pk).update(
        probabilities={"BUY": 1, "SELL": 0.0, "HOLD": 1e-7}, reason="mögliche Überprüfung",
        bar_time=datetime(2026, 3, 5, 12, 30, tzinfo=timezone.get_fixed_timezone(420)))
    snapshot(a, day=2)
    snapshot(a, w.model, day=3)
    snapshot(None, w.model, day=4)
    rich = snapshot(a, day=5)
    PerformanceSnapshot.objects.filter(pk=rich.pk).update(
        net_pnl=Decimal("-0.5"), profit_factor=None,
        figures={"all": {"win_rate": None, "profit_factor": 1e-9, "note": "ü"}},
        drift={"psi": 0.1234567890123, "features": ["rsi_14", "atr_14"]})
    return w, a


CASES = [
    (PositionSerializer, lambda: Position.objects.select_related("model")),
    (SignalSerializer, lambda: Signal.objects.select_related("model")),
    (PerformanceSnapshotSerializer, lambda: PerformanceSnapshot.objects.all()),
]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Jakarta"])
@pytest.mark.parametrize(("serializer_class", "rows"), CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_values_rows_render_the_same_bytes_as_the_serializer(serializer_class, rows, zone):
    _varied_rows()
    renderer = JSONRenderer()
    fast = ValuesRows(serializer_class)
    with timezone.override(zone):
        instances = list(rows().order_by("id"))
        values = list(rows().order_by("id").values(*fast.columns))
        assert len(instances) >= 4
        expected = renderer.render(serializer_class(instances, many=True).data)
        assert renderer.render(fast.render(values)) == expected


@pytest.mark.parametrize(("url", "view"), [("/api/v1/positions/", PositionViewSet),
                                           ("/api/v1/signals/", SignalViewSet),
                                           ("/api/v1/performance/", PerformanceViewSet)])
def test_list_endpoints_return_what_the_serializer_would(url, view):
    w, _account = _varied_rows()
    response = client_for(w.alice).get(url, {"page_size": 2})
    assert response.status_code == 200
    page = response.json()
    ids = [row["id"] for row in page["results"]]
    assert len(ids) == 2 and page["next"]
    model = view.serializer_class.Meta.model
    by_id = {row.pk: row for row in model.objects.filter(pk__in=ids)}
    expected = view.serializer_class([by_id[pk] for pk in ids], many=True).data
    assert page["results"] == [dict(row) for row in expected]


def test_a_serializer_with_computed_fields_is_refused_not_approximated():
    with pytest.raises(TypeError, match=r"OrderSerializer\.client_order_id"):
        ValuesRows(OrderSerializer).plan  # noqa: B018 - building the plan is the test


def test_api_filtersets_copy_filters_per_request_and_keep_method_filters_bound():
    from django.http import QueryDict

    from monitoring.api.views import PerformanceFilter

    rows = PerformanceSnapshot.objects.all()
    first = PerformanceFilter(QueryDict("scope=account"), queryset=rows)
    second = PerformanceFilter(QueryDict("scope=pair"), queryset=rows)
    assert first.filters["scope"] is not second.filters["scope"]
    assert first.filters["scope"].parent is first and second.filters["scope"].parent is second
    assert not hasattr(PerformanceFilter.base_filters["scope"], "parent")
    assert first.is_valid() and second.is_valid()
    assert "IS NULL" in str(first.qs.query) and "IS NOT NULL" in str(second.qs.query)
    # One form class, but each request's own form and cleaned data.
    assert type(first.form) is type(second.form) and first.form is not second.form
    assert first.form.cleaned_data["scope"] == "account"


def test_a_request_dependent_filter_is_refused_when_the_filterset_is_defined():
    import django_filters

    from nusatrade.apibase import ApiFilterSet

    with pytest.raises(TypeError, match=r"Bad\.position"):
        class Bad(ApiFilterSet):
            position = django_filters.ModelChoiceFilter(queryset=Position.objects.none())

            class Meta:
                model = Position
                fields: list[str] = []
