"""Market data: stored bars (the single source for training, backtests and live trading) and
the record of every import (its quality report and its quarantined rows).

Reads go through ``marketdata.selectors`` (``load_bars``), writes through
``marketdata.services`` (``bars_upsert``, ``bars_import``); nothing else touches these tables.
"""

from __future__ import annotations

from django.db import models

from marketdata.timeframes import CHOICES as TIMEFRAME_CHOICES

PRICE_DIGITS = 18
PRICE_PLACES = 6


class Bar(models.Model):
    """One OHLC bar. ``time`` is the bar's OPEN time in UTC.

    Prices are exact decimals (6 places). ``tick_volume`` is what MetaTrader calls TICKVOL and
    what the bars DataFrame calls ``volume``; ``real_volume`` is exchange volume (0 for OTC
    forex); ``spread`` is in points when the source knows it. ``synthetic`` marks generated demo
    data: anything trained or backtested on it must say so.
    """

    # The primary key is the series and the time: one index that enforces "one bar per
    # instrument, timeframe and time" and serves every range read. No surrogate id and no
    # database-level foreign key: measured on a 488k-row import into PostgreSQL, an id
    # (sequence + second unique index) costs +0.5 s and the deferred per-row FK trigger
    # +1.8 s, i.e. the import would run at half speed. Integrity holds without them:
    # bars_upsert resolves the instrument before writing, and PROTECT still stops an
    # Instrument with bars from being deleted through Django.
    pk = models.CompositePrimaryKey("instrument", "timeframe", "time")
    instrument = models.ForeignKey("trading.Instrument", on_delete=models.PROTECT,
                                   related_name="bars", db_constraint=False, db_index=False)
    timeframe = models.CharField(max_length=3, choices=TIMEFRAME_CHOICES)
    time = models.DateTimeField(help_text="Bar open time, UTC.")
    open = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    high = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    low = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    close = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    tick_volume = models.BigIntegerField()
    real_volume = models.BigIntegerField(default=0)
    spread = models.IntegerField(null=True, blank=True, help_text="Spread in points, if known.")
    synthetic = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.timeframe} {self.time:%Y-%m-%d %H:%M}"


class ImportRun(models.Model):
    """One run of ``import_bars``: what was read, what was kept, and why the rest was not."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    created_at = models.DateTimeField(auto_now_add=True)
    path = models.CharField(max_length=1024)
    name = models.CharField(max_length=255, help_text="File name without directories.")
    instrument = models.ForeignKey("trading.Instrument", on_delete=models.PROTECT,
                                   related_name="import_runs")
    timeframe = models.CharField(max_length=3, choices=TIMEFRAME_CHOICES)
    format = models.CharField(max_length=16, blank=True, help_text="Format detected or forced.")
    tz = models.CharField(max_length=64, blank=True, help_text="Source time zone applied.")
    tz_assumption = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUCCEEDED)
    error = models.TextField(blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0, help_text="Exact duplicate rows.")
    rejected = models.PositiveIntegerField(default=0)
    rejected_by_reason = models.JSONField(default=dict, blank=True)
    gap_count = models.PositiveIntegerField(default=0)
    missing_bars = models.PositiveIntegerField(default=0,
                                               help_text="Bars missing inside all gaps.")
    gaps = models.JSONField(default=list, blank=True, help_text="Longest gaps first (capped).")
    notes = models.JSONField(default=list, blank=True)
    first_bar = models.DateTimeField(null=True, blank=True)
    last_bar = models.DateTimeField(null=True, blank=True)
    min_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES,
                                    null=True, blank=True)
    max_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES,
                                    null=True, blank=True)
    duration = models.DurationField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} -> {self.instrument_id} {self.timeframe} ({self.status})"


class QuarantinedRow(models.Model):
    """A row an import did not store, with the line it came from and the reason."""

    import_run = models.ForeignKey(ImportRun, on_delete=models.CASCADE,
                                   related_name="quarantined_rows")
    line = models.PositiveIntegerField(null=True, blank=True,
                                       help_text="1-based line number in the file.")
    reason = models.CharField(max_length=64)
    detail = models.CharField(max_length=255, blank=True)
    raw = models.TextField(blank=True, help_text="The row's text (truncated).")

    class Meta:
        ordering = ["import_run", "line", "id"]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"
