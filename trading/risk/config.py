"""Risk rule settings, shared by the backtester and the live engine (pure: no Django imports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from nusatrade.errors import ConfigurationError


@dataclass(frozen=True)
class RiskConfig:
    """The seed's risk rules and kill switches. ``None`` switches a rule off.

    Percentages are percent (``5.0`` = 5 %); ``min_win_rate`` is a fraction (0.35 = 35 %).
    Daily rules count UTC calendar days. The profit-factor and win-rate kill switches look at
    the last ``kill_switch_window`` closed trades and apply once at least
    ``kill_switch_min_trades`` of them exist. A kill-switch halt lasts ``cooldown`` (``None``:
    for the rest of the period, until :func:`trading.risk.release` in live trading).
    """

    max_trades_per_day: int | None = 2
    one_position_per_symbol: bool = True
    daily_loss_stop_pct: float | None = 5.0
    max_consecutive_losses: int | None = 5
    min_profit_factor: float | None = 1.0
    min_win_rate: float | None = 0.35
    kill_switch_window: int = 20
    kill_switch_min_trades: int = 10
    max_drawdown_pct: float | None = 15.0
    cooldown: timedelta | None = None

    def __post_init__(self) -> None:
        _validate_positive_int("max_trades_per_day", self.max_trades_per_day)
        _validate_positive_int("max_consecutive_losses", self.max_consecutive_losses)
        _validate_positive_int("kill_switch_window", self.kill_switch_window)
        _validate_positive_int("kill_switch_min_trades", self.kill_switch_min_trades)
        if self.kill_switch_min_trades > self.kill_switch_window:
            raise ConfigurationError("kill_switch_min_trades must not exceed kill_switch_window")
        for name in ("daily_loss_stop_pct", "max_drawdown_pct"):
            _validate_range(name, getattr(self, name), 0.0, 100.0)
        _validate_range("min_win_rate", self.min_win_rate, 0.0, 1.0)
        _validate_range("min_profit_factor", self.min_profit_factor, 0.0, float("inf"))
        if self.cooldown is not None and self.cooldown <= timedelta(0):
            raise ConfigurationError("cooldown must be positive (or None for the whole period)")


def _validate_positive_int(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
        raise ConfigurationError(f"{name} must be a whole number >= 1 (or None to disable)")


def _validate_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is not None and not low < value <= high:
        raise ConfigurationError(f"{name} must be in ({low}, {high}] (or None to disable)")
