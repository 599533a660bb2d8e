"""Put at least one row in every table, for backup round trips that must lose nothing.

Real data first (a paper account with bars, an order and a position from the trading test
helpers), then a generic filler for every model still empty: each field gets a valid value of
its type, each foreign key the first row of its target (filled first). Auto-created
many-to-many tables get a link. The caller asserts every table is non-empty.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import connection, models
from django.utils import timezone

_counter = itertools.count(1)


def _choice(field: models.Field) -> Any:
    first = field.choices[0][1]
    return first[0][0] if isinstance(first, (list, tuple)) else field.choices[0][0]


def _value(field: models.Field) -> Any:
    n = next(_counter)
    if field.choices:
        return _choice(field)
    if isinstance(field, models.JSONField):
        return {"filled": n}
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.EmailField):
        return f"fill{n}@nusatrade.test"
    if isinstance(field, (models.CharField, models.TextField)):
        return f"fill{n}"[: field.max_length or 20]
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DecimalField):
        return Decimal("1")
    if isinstance(field, (models.FloatField,)):
        return 1.0
    if isinstance(field, models.DurationField):
        return timedelta(seconds=n)
    if isinstance(field, models.IntegerField):
        return n
    if isinstance(field, models.DateTimeField):
        return timezone.now() - timedelta(minutes=n)
    if isinstance(field, models.DateField):
        return timezone.now().date()
    if isinstance(field, models.BinaryField):
        return b"fill"
    return None


def _instance(model: type[models.Model], seen: set) -> models.Model:
    existing = model._default_manager.first()
    if existing is not None:
        return existing
    if model in seen:
        raise RuntimeError(f"foreign-key cycle at {model._meta.label}")
    seen.add(model)
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key and isinstance(field, models.AutoField):
            continue
        if field.is_relation:
            if field.null:
                continue
            values[field.name] = _instance(field.related_model, seen)
        elif field.has_default() or field.null or getattr(field, "auto_now", False) or \
                getattr(field, "auto_now_add", False):
            continue
        else:
            values[field.name] = _value(field)
    return model._default_manager.create(**values)


def _real_rows() -> None:
    from trading.services import paper_broker_at, signal_order_place
    from trading.tests import orderpaths

    orderpaths.store_bars()
    account = orderpaths.paper_account()
    signal = orderpaths.buy_signal(account, orderpaths.ml_model())
    signal_order_place(signal.pk, broker=paper_broker_at(account, orderpaths.AT))


def fill_every_table() -> dict[str, int]:
    """Fill, then return {table: rows} for every table of the database."""
    _real_rows()
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if not PeriodicTask.objects.exists():  # needs a schedule (the migrations' rows may be gone)
        PeriodicTask.objects.create(name="filldb", task="operations.backup",
                                    crontab=_instance(CrontabSchedule, set()))
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            _instance(model, set())
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through._meta.auto_created and not through.objects.exists():
                getattr(_instance(model, set()), m2m.name).add(
                    _instance(m2m.related_model, set()))
    from trading.models import KillSwitch

    # A released switch: an engaged one would halt everything the tests then do.
    KillSwitch.objects.update(engaged=False, released_by="filldb", released_at=timezone.now())
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    return counts
