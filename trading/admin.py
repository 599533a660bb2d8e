from __future__ import annotations

from django.contrib import admin

from trading.models import Instrument


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("symbol", "digits", "point", "contract_size", "tick_size", "tick_value",
                    "pip_size", "profit_currency")
    search_fields = ("symbol",)
