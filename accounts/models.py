"""Users, roles and trading accounts."""

from __future__ import annotations

import os
from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models


class Role(models.TextChoices):
    """Roles are Django groups of these names (created by a data migration)."""

    ADMIN = "admin", "Admin"
    TRADER = "trader", "Trader"
    OPS = "ops", "Ops"


class User(AbstractUser):
    """Custom user from the start, so the auth model can grow without a painful migration."""

    # Bumped by accounts.services.user_tokens_revoke (password change, "log out everywhere"):
    # JWTs carry the version they were minted under and die when it moves (accounts.tokens).
    token_version = models.PositiveIntegerField(default=0, editable=False)

    def has_role(self, role: Role | str) -> bool:
        return self.groups.filter(name=str(role)).exists()

    @property
    def roles(self) -> list[str]:
        return sorted(self.groups.values_list("name", flat=True))


class Broker(models.TextChoices):
    PAPER = "paper", "Paper (simulated)"
    MT5 = "mt5", "MetaTrader 5"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"


env_var_name = RegexValidator(r"^[A-Z][A-Z0-9_]{2,63}$",
                              "Use an environment variable name such as MT5_PASSWORD_MAIN.")


class TradingAccount(models.Model):
    """A broker account a user trades through.

    The broker password is never stored: ``password_env_var`` names the environment variable
    that holds it on the machines that connect to the broker.
    """

    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="trading_accounts")
    name = models.CharField(max_length=100)
    broker = models.CharField(max_length=10, choices=Broker.choices, default=Broker.PAPER)
    broker_login = models.CharField(max_length=64, blank=True)
    broker_server = models.CharField(max_length=128, blank=True)
    password_env_var = models.CharField(max_length=64, blank=True, validators=[env_var_name],
                                        help_text="Name of the environment variable holding "
                                                  "the broker password (never the password).")
    currency = models.CharField(max_length=3, default="USD")
    leverage = models.PositiveIntegerField(default=100, validators=[MinValueValidator(1)])
    initial_balance = models.DecimalField(max_digits=18, decimal_places=2,
                                          default=Decimal("10000.00"),
                                          validators=[MinValueValidator(Decimal("0"))])
    status = models.CharField(max_length=10, choices=AccountStatus.choices,
                              default=AccountStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="account_unique_name_per_owner"),
            models.UniqueConstraint(
                fields=["broker", "broker_server", "broker_login"],
                condition=~models.Q(broker_login=""),
                name="account_unique_broker_login",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_broker_display()})"

    def broker_password(self) -> str | None:
        """Read the password from the environment at the moment of use (never cached)."""
        return os.environ.get(self.password_env_var) if self.password_env_var else None


class AuditEntry(models.Model):
    """Who did what to which object, when and why: kill switches engaged and released, models
    activated or retired, retraining approved, restores... Written by services through
    :func:`accounts.audit.audit_record` only, never edited or deleted (the admin shows it
    read-only). ``actor`` is a username, or ``system:<component>`` for the machine's own
    decisions (an automatic kill switch)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=60, db_index=True,
                              help_text="What was done, e.g. kill_switch.engage.")
    target_type = models.CharField(max_length=60, blank=True,
                                   help_text="app_label.model of the object acted on.")
    target_id = models.CharField(max_length=40, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"],
                                name="audit_target_idx")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target_repr}"
