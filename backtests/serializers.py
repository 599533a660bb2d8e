"""API shapes of backtest runs. Input checks here are about form (types, ranges); the rules
(the training window, the instrument's volume step, bars exist) are the service's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from backtests.models import BacktestRun, BacktestTrade
from backtests.services import BacktestParams
from backtests.services.params import (
    DEFAULT_LEVERAGE,
    DEFAULT_STOP_OUT,
    MAX_ATR_MULTIPLE,
    MAX_BARS_HELD,
    MAX_COST_PER_LOT,
    MAX_EQUITY,
    MAX_LEVERAGE,
    MAX_PIPS,
    MAX_STOP_OUT,
)


class BacktestRunListSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    symbol = serializers.CharField(source="model.instrument.symbol", read_only=True)
    timeframe = serializers.CharField(source="model.timeframe", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True,
                                       default=None)

    class Meta:
        model = BacktestRun
        fields = ("id", "model", "model_name", "symbol", "timeframe", "start", "end", "status",
                  "spread_pips", "slippage_pips", "threshold", "synthetic_data", "trade_count",
                  "net_profit", "final_equity", "return_pct", "max_drawdown_pct", "win_rate",
                  "profit_factor", "sharpe", "deflated_sharpe", "pbo", "created_by",
                  "created_at", "finished_at", "duration_seconds")
        read_only_fields = fields


class BacktestTradeSerializer(serializers.ModelSerializer):
    class Meta:
        model = BacktestTrade
        fields = ("number", "side", "lots", "signal_time", "entry_time", "exit_time",
                  "entry_price", "exit_price", "sl", "tp", "gross_pnl", "spread_cost",
                  "slippage_cost", "commission", "swap", "costs", "net_pnl", "balance",
                  "exit_reason", "bars_held", "nights", "confidence")
        read_only_fields = fields


class BacktestRunDetailSerializer(BacktestRunListSerializer):
    parameters = serializers.SerializerMethodField()
    trades = BacktestTradeSerializer(many=True, read_only=True)

    class Meta(BacktestRunListSerializer.Meta):
        fields = (*BacktestRunListSerializer.Meta.fields, "lots", "sl_atr", "tp_atr",
                  "max_bars_held", "use_risk", "initial_equity", "sweep",
                  "commission_per_lot", "swap_long_per_lot", "swap_short_per_lot", "leverage",
                  "stop_out_level", "parameters",
                  "error", "attempts", "started_at", "bars", "max_drawdown", "total_costs",
                  "metrics", "equity_curve", "sweep_results", "trades")
        read_only_fields = fields

    def get_parameters(self, run: BacktestRun) -> dict[str, str]:
        """The resolved settings as the report shows them (pips and price units)."""
        return run.params.get("display", {})


def _decimal(max_digits: int, places: int, low: str, high: str | Decimal, **kw: Any
             ) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=max_digits, decimal_places=places,
                                    min_value=Decimal(low), max_value=Decimal(high), **kw)


class BacktestRunCreateSerializer(serializers.Serializer):
    """Start a backtest. Spread and slippage are in PIPS of the model's instrument (XAUUSD
    1 pip = 0.1). NaN and infinities are refused (DRF decimals reject them)."""

    model = serializers.IntegerField(min_value=1)
    start = serializers.DateField(help_text="First day (UTC); after the model's training "
                                            "window.")
    end = serializers.DateField(help_text="Last day (UTC), inclusive.")
    spread_pips = _decimal(10, 2, "0", MAX_PIPS, default=Decimal("3"))
    slippage_pips = _decimal(10, 2, "0", MAX_PIPS, default=Decimal("1"))
    lots = _decimal(12, 4, "0.0001", "1000", default=Decimal("0.01"))
    sl_atr = _decimal(7, 3, "0.001", str(MAX_ATR_MULTIPLE), default=Decimal("1.5"),
                      allow_null=True, help_text="null: no stop-loss")
    tp_atr = _decimal(7, 3, "0.001", str(MAX_ATR_MULTIPLE), default=Decimal("3.0"),
                      allow_null=True, help_text="null: no take-profit")
    max_bars_held = serializers.IntegerField(min_value=1, max_value=MAX_BARS_HELD,
                                             allow_null=True, default=None)
    use_risk = serializers.BooleanField(default=True)
    threshold = _decimal(4, 3, "0.5", "1", allow_null=True, default=None,
                         help_text="null: the model's tuned threshold")
    initial_equity = _decimal(18, 2, "0.01", MAX_EQUITY, default=Decimal("10000"))
    sweep = serializers.BooleanField(default=False)
    commission_per_lot = _decimal(18, 2, "0", MAX_COST_PER_LOT, allow_null=True, default=None,
                                  help_text="Money per lot per round trip; null: the "
                                            "instrument's default.")
    swap_long_per_lot = _decimal(18, 2, f"-{MAX_COST_PER_LOT}", MAX_COST_PER_LOT,
                                 allow_null=True, default=None,
                                 help_text="Money per lot per night long (negative = a "
                                           "charge); null: the instrument's default.")
    swap_short_per_lot = _decimal(18, 2, f"-{MAX_COST_PER_LOT}", MAX_COST_PER_LOT,
                                  allow_null=True, default=None,
                                  help_text="Money per lot per night short; null: the "
                                            "instrument's default.")
    leverage = serializers.IntegerField(min_value=1, max_value=MAX_LEVERAGE,
                                        default=DEFAULT_LEVERAGE,
                                        help_text="Account leverage (100 = 1:100).")
    stop_out_level = _decimal(6, 2, "0", MAX_STOP_OUT, default=DEFAULT_STOP_OUT,
                              help_text="Margin level (%) below which the position is "
                                        "closed.")

    def to_params(self) -> BacktestParams:
        data = self.validated_data
        return BacktestParams(
            spread_pips=data["spread_pips"], slippage_pips=data["slippage_pips"],
            lots=data["lots"], sl_atr=_float(data["sl_atr"]), tp_atr=_float(data["tp_atr"]),
            max_bars_held=data["max_bars_held"], use_risk=data["use_risk"],
            threshold=_float(data["threshold"]), initial_equity=data["initial_equity"],
            sweep=data["sweep"], commission_per_lot=data["commission_per_lot"],
            swap_long_per_lot=data["swap_long_per_lot"],
            swap_short_per_lot=data["swap_short_per_lot"], leverage=data["leverage"],
            stop_out_level=data["stop_out_level"])


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
