"""Daily performance snapshots of each model, each account and each (account, model) pair."""

from __future__ import annotations

from django.db import models

MONEY = {"max_digits": 18, "decimal_places": 2}


class PerformanceSnapshot(models.Model):
    """What the tracker found on ``date`` (as of the end of that UTC day) for one scope.

    ``scope_key`` names the scope ("account:3/model:5", "account:3", "model:5") so "one
    snapshot per scope and day" is a plain unique constraint (nullable foreign keys would not
    be unique in PostgreSQL). A rerun for the same day replaces the row.
    """

    date = models.DateField()
    scope_key = models.CharField(max_length=60)
    account = models.ForeignKey("accounts.TradingAccount", on_delete=models.CASCADE, null=True,
                                blank=True, related_name="performance_snapshots")
    model = models.ForeignKey("mlops.MLModel", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="performance_snapshots")
    trades = models.PositiveIntegerField(default=0, help_text="Closed trades, all time.")
    net_pnl = models.DecimalField(**MONEY, default=0, help_text="Net P/L of closed trades, "
                                                                "all time (Decimal sum).")
    win_rate = models.FloatField(null=True, blank=True)
    profit_factor = models.FloatField(null=True, blank=True)
    figures = models.JSONField(default=dict, help_text="Window -> trade figures (all, 7d, "
                                                       "30d, 90d, last20, last50).")
    signals = models.JSONField(default=dict, blank=True,
                               help_text="Window -> signal statistics (all, 30d).")
    expected = models.JSONField(default=dict, blank=True,
                                help_text="The backtest's figures the live ones are held to.")
    versus_backtest = models.JSONField(default=dict, blank=True)
    drift = models.JSONField(default=dict, blank=True,
                             help_text="PSI per feature, drifting share, prediction drift.")
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "scope_key"]
        constraints = [models.UniqueConstraint(fields=["date", "scope_key"],
                                               name="monitoring_snapshot_one_per_scope_day")]
        indexes = [models.Index(fields=["model", "-date"]),
                   models.Index(fields=["account", "-date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.scope_key}"


class RetrainingStatus(models.TextChoices):
    PENDING = "pending", "Pending (awaiting an admin)"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class RetrainingRequest(models.Model):
    """A flag that a model should be retrained, with the trigger and its evidence. Created by
    a trigger (or by hand); an admin approves or rejects it. Nothing is swapped silently: an
    approval only allows the retraining pipeline to promote a better challenger."""

    model = models.ForeignKey("mlops.MLModel", on_delete=models.CASCADE,
                              related_name="retraining_requests")
    trigger = models.CharField(max_length=40, help_text="e.g. win_rate, drift, model_age.")
    evidence = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=RetrainingStatus.choices,
                              default=RetrainingStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(
            fields=["model", "trigger"], condition=models.Q(status="pending"),
            name="monitoring_one_pending_request_per_trigger")]

    def __str__(self) -> str:
        return f"retrain model #{self.model_id} ({self.trigger}, {self.status})"


class RetrainingRun(models.Model):
    """One champion/challenger comparison: both backtested on the same recent out-of-sample
    window with costs, the comparison, and what was decided (``monitoring.challenger``)."""

    champion = models.ForeignKey("mlops.MLModel", on_delete=models.PROTECT, related_name="+")
    challenger = models.ForeignKey("mlops.MLModel", on_delete=models.PROTECT, related_name="+")
    request = models.ForeignKey(RetrainingRequest, on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="runs")
    window_start = models.DateField()
    window_end = models.DateField()
    champion_backtest = models.ForeignKey("backtests.BacktestRun", on_delete=models.PROTECT,
                                          related_name="+")
    challenger_backtest = models.ForeignKey("backtests.BacktestRun", on_delete=models.PROTECT,
                                            related_name="+")
    comparison = models.JSONField(default=dict)
    decision = models.CharField(max_length=20, help_text="promote, awaiting_approval, "
                                                          "kept_champion, promoted, refused.")
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"model #{self.challenger_id} vs #{self.champion_id}: {self.decision}"
