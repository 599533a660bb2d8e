"""Database connection use, read at scrape time from PostgreSQL itself."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from prometheus_client.core import GaugeMetricFamily


def database_collect() -> Iterable:
    if connection.vendor != "postgresql":
        return []  # the embedded SQLite has no server connections to count
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                       "WHERE datname = current_database() GROUP BY 1")
        by_state = cursor.fetchall()
        cursor.execute("SHOW max_connections")
        maximum = int(cursor.fetchone()[0])
    used = GaugeMetricFamily("nusatrade_db_connections",
                             "Connections to this database, by state (pg_stat_activity).",
                             labels=["state"])
    for state, count in by_state:
        used.add_metric([state], count)
    limit = GaugeMetricFamily("nusatrade_db_max_connections",
                              "The server's max_connections (all databases).", value=maximum)
    return [used, limit]
