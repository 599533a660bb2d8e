"""``ReadinessReport``: one completed readiness run of a model and its verdict (issue 15).

Stored only when the run completes (a refused run stores nothing); written once by
``readiness.services.readiness_run`` and read-only everywhere else (admin, API)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Verdict(models.TextChoices):
    GO = "GO", "GO"
    NO_GO = "NO-GO", "NO-GO"


class ReadinessReport(models.Model):
    model = models.ForeignKey("mlops.MLModel", on_delete=models.PROTECT,
                              related_name="readiness_reports")
    symbol = models.CharField(max_length=32)
    timeframe = models.CharField(max_length=3)
    backtest_start = models.DateField(help_text="Held-out backtest: first day (UTC), the day "
                                                "after the model's training window.")
    backtest_end = models.DateField(help_text="Held-out backtest: last day (UTC, inclusive).")
    replay_start = models.DateField(help_text="Replay through the trading cycle: first day.")
    replay_days = models.PositiveIntegerField(help_text="Replay length in UTC days.")
    figures = models.JSONField(default=dict, help_text="Every figure measured by the run.")
    criteria = models.JSONField(default=list, help_text="Per criterion: name, measured "
                                "value, threshold, interval, passed, reason.")
    thresholds = models.JSONField(default=dict, help_text="The thresholds applied.")
    verdict = models.CharField(max_length=5, choices=Verdict.choices)
    reasons = models.JSONField(default=list, help_text="Plain words, one per failed "
                                                       "criterion (empty for GO).")
    model_fingerprint = models.CharField(max_length=64, help_text="The model's fingerprint "
                                         "when the run verified it.")
    backtest_run = models.ForeignKey("backtests.BacktestRun", on_delete=models.PROTECT,
                                     related_name="+", help_text="The held-out backtest with "
                                     "the spread/slippage sweep.")
    agreement_run = models.ForeignKey("backtests.BacktestRun", on_delete=models.PROTECT,
                                      related_name="+", help_text="The backtest of the replay "
                                      "window with the paper account's settings.")
    account = models.ForeignKey("accounts.TradingAccount", on_delete=models.PROTECT,
                                related_name="readiness_reports",
                                help_text="The paper account created for the replay.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    ran_by = models.CharField(max_length=150, help_text="Who ran it: the user, or the OS "
                              "user of a command run without one.")
    created_at = models.DateTimeField(auto_now_add=True)
    duration_seconds = models.FloatField()
    report_path = models.CharField(max_length=500, blank=True,
                                   help_text="The self-contained HTML report.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model", "-created_at"]),
                   models.Index(fields=["verdict"])]
        constraints = [models.CheckConstraint(condition=models.Q(verdict__in=["GO", "NO-GO"]),
                                              name="readiness_verdict_valid")]

    def __str__(self) -> str:
        return f"Readiness #{self.pk}: model #{self.model_id} {self.verdict}"
