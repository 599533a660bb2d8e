"""Trading facts for /metrics, read from the database at scrape time (exact with any number
of web and worker processes). Registered by ``TradingConfig.ready``."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Sum
from prometheus_client.core import GaugeMetricFamily

from trading.models import KillSwitch, KillSwitchScope, Order, OrderStatus, Position
from trading.reconciliation.selectors import reconciliation_last_success


def trading_collect() -> Iterable:
    orders = GaugeMetricFamily("nusatrade_orders", "Orders by status (every status listed).",
                               labels=["status"])
    counts = dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by())
    for status in OrderStatus.values:
        orders.add_metric([status], counts.get(status, 0))

    lots = GaugeMetricFamily("nusatrade_open_exposure_lots",
                             "Open volume in lots, by symbol and side.",
                             labels=["symbol", "side"])
    positions = GaugeMetricFamily("nusatrade_open_positions", "Open positions, by symbol.",
                                  labels=["symbol", "side"])
    rows = (Position.objects.filter(status="open").values("symbol", "side")
            .annotate(volume=Sum("volume"), n=Count("id")).order_by("symbol", "side"))
    for row in rows:
        lots.add_metric([row["symbol"], row["side"]], float(row["volume"]))
        positions.add_metric([row["symbol"], row["side"]], row["n"])

    switches = GaugeMetricFamily("nusatrade_kill_switches_engaged",
                                 "Engaged kill switches, by scope.", labels=["scope"])
    engaged = dict(KillSwitch.objects.filter(engaged=True).values_list("scope")
                   .annotate(n=Count("id")).order_by())
    for scope in KillSwitchScope.values:
        switches.add_metric([scope], engaged.get(scope, 0))
    last = reconciliation_last_success()
    reconciled = GaugeMetricFamily(
        "nusatrade_reconciliation_last_success_timestamp_seconds",
        "Unix time the last completed reconciliation run finished (0: never).",
        value=last.timestamp() if last else 0)
    return [orders, lots, positions, switches, reconciled]
