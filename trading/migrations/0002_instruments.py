from __future__ import annotations

from decimal import Decimal as D

from django.db import migrations

INSTRUMENTS = [
    dict(symbol="XAUUSD", description="Gold vs US Dollar", digits=2, point=D("0.01"),
         contract_size=D("100"), tick_size=D("0.01"), tick_value=D("1"), profit_currency="USD",
         pip_size=D("0.1")),
    dict(symbol="EURUSD", description="Euro vs US Dollar", digits=5, point=D("0.00001"),
         contract_size=D("100000"), tick_size=D("0.00001"), tick_value=D("1"),
         profit_currency="USD", pip_size=D("0.0001")),
]


def create_instruments(apps, schema_editor):
    Instrument = apps.get_model("trading", "Instrument")
    for spec in INSTRUMENTS:
        Instrument.objects.update_or_create(symbol=spec["symbol"], defaults=spec)


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]
    operations = [migrations.RunPython(create_instruments, migrations.RunPython.noop)]
