"""Serializers of the trader API (read shapes, and the manual order's strict input)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import TradingAccount
from nusatrade.apibase import StrictDecimalField, StrictSerializerMixin
from trading.brokers import retcodes
from trading.models import ExitReason, KillSwitch, Order, Position, RiskPolicy, Side, Signal

MONEY = {"max_digits": 18, "decimal_places": 2, "coerce_to_string": True}
# trading.services.keys.MAX_CLIENT_ORDER_ID (a test holds them equal): importing the services
# package here would load pandas at start-up.
MAX_CLIENT_ORDER_ID = 64


class RiskPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = RiskPolicy
        exclude = ["id", "account"]


class KillSwitchSerializer(serializers.ModelSerializer):
    paused_by_owner = serializers.SerializerMethodField()

    class Meta:
        model = KillSwitch
        fields = ["id", "scope", "rule", "reason", "engaged_by", "engaged_at", "release_at",
                  "paused_by_owner"]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_paused_by_owner(self, switch: KillSwitch) -> bool:
        from trading.services.pausing import paused_by_owner  # services: pandas underneath

        return paused_by_owner(switch)


class AccountFiguresSerializer(serializers.Serializer):
    balance = serializers.DecimalField(**MONEY, help_text=(
        "Realised: the paper broker's balance, or for MT5 the initial balance plus the net "
        "P/L of closed positions recorded here. No broker call."))
    realised_pnl = serializers.DecimalField(**MONEY, help_text="Net P/L of closed positions.")
    open_positions = serializers.IntegerField()
    open_volume = serializers.DecimalField(max_digits=12, decimal_places=4, coerce_to_string=True)
    open_pnl = serializers.DecimalField(**MONEY, allow_null=True, help_text=(
        "Open P/L marked at the last stored bar close (marked_at), not a live quote; null when "
        "an open position's symbol has no stored bar."))
    equity = serializers.DecimalField(**MONEY, allow_null=True, help_text="balance + open_pnl.")
    margin = serializers.DecimalField(**MONEY, help_text=(
        "Margin of the open positions at their entry prices (trading.pnl.margin_required)."))
    free_margin = serializers.DecimalField(**MONEY, allow_null=True)
    margin_level = serializers.DecimalField(**MONEY, allow_null=True,
                                            help_text="Percent; null with no margin in use.")
    marked_at = serializers.DateTimeField(allow_null=True,
                                          help_text="Open time of the oldest bar marked at.")


class AccountSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    figures = serializers.SerializerMethodField()
    risk_policy = serializers.SerializerMethodField()
    kill_switch = serializers.SerializerMethodField()
    trading_enabled = serializers.SerializerMethodField()

    class Meta:
        model = TradingAccount
        # password_env_var is deliberately absent: even the variable name stays server-side.
        fields = ["id", "name", "owner", "broker", "broker_login", "broker_server", "currency",
                  "leverage", "initial_balance", "status", "created_at", "figures",
                  "risk_policy", "kill_switch", "trading_enabled"]
        read_only_fields = fields

    @extend_schema_field(AccountFiguresSerializer)
    def get_figures(self, account: TradingAccount) -> dict[str, Any]:
        figures = self.context["figures"][account.pk]
        return AccountFiguresSerializer(figures).data

    @extend_schema_field(RiskPolicySerializer(allow_null=True))
    def get_risk_policy(self, account: TradingAccount) -> dict[str, Any] | None:
        policy = getattr(account, "risk_policy", None)
        return None if policy is None else RiskPolicySerializer(policy).data

    @extend_schema_field(KillSwitchSerializer(allow_null=True))
    def get_kill_switch(self, account: TradingAccount) -> dict[str, Any] | None:
        """The engaged switch of this account (the global switch is in ``trading_enabled``)."""
        switches = account.engaged_switches
        return KillSwitchSerializer(switches[0]).data if switches else None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_trading_enabled(self, account: TradingAccount) -> bool:
        return (account.status == "active" and not account.engaged_switches
                and self.context.get("global_switch") is None)


class EquityPointSerializer(serializers.Serializer):
    time = serializers.DateTimeField(help_text="Exit time of the closed position.")
    balance = serializers.DecimalField(**MONEY, help_text="Realised balance after it.")
    pnl = serializers.DecimalField(**MONEY, help_text="Its net P/L.")


class EquityCurveSerializer(serializers.Serializer):
    account = serializers.IntegerField()
    initial_balance = serializers.DecimalField(**MONEY)
    downsampled = serializers.BooleanField()
    points = EquityPointSerializer(many=True)


class PositionSerializer(serializers.ModelSerializer):
    # Empty while open: declared so the schema's enum admits "" (read-only fields lose it).
    exit_reason = serializers.ChoiceField(choices=ExitReason.choices, allow_blank=True,
                                          read_only=True)
    model_name = serializers.CharField(source="model.name", read_only=True, allow_null=True,
                                       default=None)

    class Meta:
        model = Position
        fields = ["id", "account", "model", "model_name", "opening_order", "symbol", "side",
                  "volume", "status", "broker_ticket", "entry_price", "entry_time", "sl", "tp",
                  "exit_price", "exit_time", "exit_reason", "commission", "swap", "gross_pnl",
                  "net_pnl", "updated_at"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    # Empty only on a refused intent whose side was not valid.
    side = serializers.ChoiceField(choices=Side.choices, allow_blank=True, read_only=True)
    retcode_meaning = serializers.SerializerMethodField()
    client_order_id = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "account", "signal", "model", "client_order_id", "client_id", "symbol",
                  "side", "volume", "sl", "tp", "purpose", "position", "status",
                  "retcode", "retcode_text", "retcode_meaning", "error", "filled_volume",
                  "fill_price", "broker_order_ticket", "broker_deal_ticket",
                  "broker_position_ticket", "attempts", "created_at", "sent_at",
                  "completed_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_retcode_meaning(self, order: Order) -> str:
        """What the broker's return code means ("" before the order was sent)."""
        if order.retcode is None and order.status in ("pending", "rejected") \
                and not order.attempts:
            return ""
        return retcodes.meaning(order.retcode)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_client_order_id(self, order: Order) -> str | None:
        """The caller's id of a manual order (idempotency key ``acct:N|client:ID``)."""
        _, sep, rest = order.idempotency_key.partition("|client:")
        return rest if sep else None


class SignalSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True, allow_null=True,
                                       default=None)
    probabilities = serializers.DictField(child=serializers.FloatField(), read_only=True)

    class Meta:
        model = Signal
        fields = ["id", "account", "model", "model_name", "symbol", "timeframe", "bar_time",
                  "decision", "probabilities", "reason", "created_at"]
        read_only_fields = fields


class OrderCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    """A manual market order on one of your PAPER accounts. Decimals as strings."""

    account = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=["BUY", "SELL"])
    volume = StrictDecimalField(max_digits=12, positive=True, help_text="Lots, e.g. \"0.01\".")
    sl = StrictDecimalField(max_digits=20, positive=True, required=False, allow_null=True,
                            help_text="Stop-loss price (optional).")
    tp = StrictDecimalField(max_digits=20, positive=True, required=False, allow_null=True,
                            help_text="Take-profit price (optional).")
    client_order_id = serializers.CharField(
        max_length=MAX_CLIENT_ORDER_ID, required=False, allow_null=True,
        help_text="Your id for this order: a repeated id returns the same order, never a "
                  "second one.")

    def validate_client_order_id(self, value: str | None) -> str | None:
        if value is not None and (not value.strip() or not value.isprintable()):
            raise serializers.ValidationError("Must be printable characters.")
        return value


class PauseSerializer(StrictSerializerMixin, serializers.Serializer):
    """Pause/resume take no body (an empty object is fine)."""


class OrderRejectedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    order = OrderSerializer()
