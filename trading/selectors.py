"""Reads of the order path (constant query count: one query per list)."""

from __future__ import annotations

from django.db.models import QuerySet

from trading.models import KillSwitch, Order, Position, PositionStatus


def position_list(account_id: int, *, include_closed: bool = False) -> QuerySet[Position]:
    positions = Position.objects.filter(account_id=account_id).select_related("model")
    if not include_closed:
        positions = positions.filter(status=PositionStatus.OPEN)
    return positions.order_by("entry_time", "id")


def order_list(account_id: int) -> QuerySet[Order]:
    return Order.objects.filter(account_id=account_id).select_related("signal", "model")


def kill_switch_list(*, engaged: bool | None = None) -> QuerySet[KillSwitch]:
    """Every kill switch (history included), newest first; ``engaged`` filters by state."""
    switches = KillSwitch.objects.select_related("account", "model").order_by("-engaged_at",
                                                                              "-id")
    return switches if engaged is None else switches.filter(engaged=engaged)
