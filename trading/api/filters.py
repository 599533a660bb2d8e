"""django-filter filtersets of the trader API. Dates take an explicit UTC offset (naive ones
are refused); every filter is also a documented query parameter in the OpenAPI schema."""

from __future__ import annotations

import django_filters

from nusatrade.apibase import ApiFilterSet, AwareDateTimeFilter, CreatedRangeFilterSet, IdFilter
from trading.models import (
    Decision,
    Order,
    OrderPurpose,
    OrderStatus,
    Position,
    PositionStatus,
    Signal,
)
from trading.models import Side as SideChoices

__all__ = ["IdFilter", "OrderFilter", "PositionFilter", "SignalFilter"]  # IdFilter: apibase


class _Common(ApiFilterSet):
    account = IdFilter(field_name="account_id", min_value=1, max_value=2**63 - 1,
                       help_text="Trading account id.")
    model = IdFilter(field_name="model_id", min_value=1, max_value=2**63 - 1,
                     help_text="ML model id.")
    symbol = django_filters.CharFilter(field_name="symbol", lookup_expr="iexact", max_length=32,
                                       help_text="Symbol, e.g. XAUUSD (case-insensitive).")


class PositionFilter(_Common):
    side = django_filters.ChoiceFilter(choices=SideChoices.choices)
    status = django_filters.ChoiceFilter(choices=PositionStatus.choices)
    opened_after = AwareDateTimeFilter(field_name="entry_time", lookup_expr="gte",
                                       help_text="Entry time at or after (ISO 8601 with offset).")
    opened_before = AwareDateTimeFilter(field_name="entry_time", lookup_expr="lt",
                                        help_text="Entry time before (ISO 8601 with offset).")
    closed_after = AwareDateTimeFilter(field_name="exit_time", lookup_expr="gte",
                                       help_text="Exit time at or after (ISO 8601 with offset).")
    closed_before = AwareDateTimeFilter(field_name="exit_time", lookup_expr="lt",
                                        help_text="Exit time before (ISO 8601 with offset).")

    class Meta:
        model = Position
        fields: list[str] = []


class OrderFilter(_Common, CreatedRangeFilterSet):
    side = django_filters.ChoiceFilter(choices=SideChoices.choices)
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    purpose = django_filters.ChoiceFilter(choices=OrderPurpose.choices)

    class Meta:
        model = Order
        fields: list[str] = []


class SignalFilter(_Common):
    # A signal's "side" is its decision (BUY, SELL or HOLD).
    side = django_filters.ChoiceFilter(field_name="decision", choices=Decision.choices)
    bar_after = AwareDateTimeFilter(field_name="bar_time", lookup_expr="gte",
                                    help_text="Bar open time at or after (ISO 8601 with offset).")
    bar_before = AwareDateTimeFilter(field_name="bar_time", lookup_expr="lt",
                                     help_text="Bar open time before (ISO 8601 with offset).")

    class Meta:
        model = Signal
        fields: list[str] = []
