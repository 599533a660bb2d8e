"""Reconciliation runs and their findings (``trading.reconciliation.service`` writes them).

Kept out of ``trading/models.py`` so the order-path models file stays one subject; imported at
its end so Django registers them in the ``trading`` app.
"""

from __future__ import annotations

from django.db import models


class ReconciliationStatus(models.TextChoices):
    RUNNING = "running", "Running"
    CLEAN = "clean", "Clean (database and broker agree)"
    FIXED = "fixed", "Fixed (safe fixes applied)"
    MISMATCH = "mismatch", "Mismatch (unsafe: kill switch engaged)"
    FAILED = "failed", "Failed (nothing compared)"
    SKIPPED = "skipped", "Skipped (a cycle holds the account lock)"


# The runs that compared the whole account (what "last success" means for monitoring).
COMPLETED = (ReconciliationStatus.CLEAN, ReconciliationStatus.FIXED,
             ReconciliationStatus.MISMATCH)


class ReconciliationRun(models.Model):
    """One comparison of an account's orders and positions with its broker."""

    account = models.ForeignKey("accounts.TradingAccount", on_delete=models.CASCADE,
                                related_name="reconciliation_runs")
    status = models.CharField(max_length=8, choices=ReconciliationStatus.choices,
                              default=ReconciliationStatus.RUNNING)
    triggered_by = models.CharField(
        max_length=150, help_text='Who or what started it: "command", "task", a username...')
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    as_of = models.DateTimeField(help_text="The clock the broker history was read up to.")
    db_open_positions = models.PositiveIntegerField(default=0)
    broker_positions = models.PositiveIntegerField(default=0)
    findings = models.PositiveIntegerField(default=0)
    fixed = models.PositiveIntegerField(default=0)
    reported = models.PositiveIntegerField(default=0)
    unsafe = models.PositiveIntegerField(default=0,
                                         help_text="Findings that engaged the kill switch.")
    kill_switch = models.ForeignKey("trading.KillSwitch", on_delete=models.SET_NULL, null=True,
                                    blank=True, related_name="reconciliation_runs")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["account", "status", "-finished_at"],
                                name="recon_run_account_status")]

    def __str__(self) -> str:
        return f"reconciliation #{self.pk} of account {self.account_id} ({self.status})"


class FindingKind(models.TextChoices):
    ORDER_STUCK = "order_stuck", "Order stuck in pending/sent/unknown"
    ORDER_IN_FLIGHT = "order_in_flight", "Order being sent (left to its sender)"
    ADOPTED = "adopted", "Our position at the broker, missing in the database"
    FOREIGN = "foreign", "Position of another magic (never touched)"
    CLOSED_AT_BROKER = "closed_at_broker", "Position closed at the broker"
    MISSING_AT_BROKER = "missing_at_broker", "Position missing at the broker"
    CLOSED_HERE = "closed_here", "Closed here, still open at the broker"
    VOLUME = "volume", "Volume mismatch"
    SIDE = "side", "Side or symbol mismatch"
    PRICE = "price", "Entry price mismatch"
    SL_TP = "sl_tp", "SL/TP mismatch"
    PNL = "pnl", "P/L difference beyond the tolerance"
    COSTS = "costs", "Costs (commission, swap) missing or different"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class ItemAction(models.TextChoices):
    FIXED = "fixed", "Fixed"
    REPORTED = "reported", "Reported only"
    KILL_SWITCH = "kill_switch", "Kill switch engaged"


class ReconciliationItem(models.Model):
    """One finding of a run: what we expected, what the broker had, what was done."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=20, choices=FindingKind.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    action = models.CharField(max_length=11, choices=ItemAction.choices)
    position = models.ForeignKey("trading.Position", on_delete=models.SET_NULL, null=True,
                                 blank=True, related_name="reconciliation_items")
    order = models.ForeignKey("trading.Order", on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="reconciliation_items")
    broker_ticket = models.BigIntegerField(null=True, blank=True)
    expected = models.JSONField(default=dict, blank=True, help_text="What the database had.")
    found = models.JSONField(default=dict, blank=True, help_text="What the broker had.")
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.action}): {self.message[:60]}"
