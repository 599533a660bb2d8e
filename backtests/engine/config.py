"""``BacktestConfig``: every knob of one backtest, in price units and account money."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nusatrade.errors import ConfigurationError
from trading.pnl import InstrumentSpec
from trading.risk import RiskConfig


@dataclass(frozen=True)
class BacktestConfig:
    """One backtest's settings. Prices and distances are in price units (XAUUSD 2 pips = 0.2;
    :meth:`for_instrument` converts pips), money in the account currency.

    Defaults: XAUUSD-like contract (100 per 1.0 of price per lot), 10,000 starting equity,
    the seed's 0.01 lot, no costs, no stops, no risk rules.

    - ``spread``: ask minus bid, added to the bid bars for every ask fill; with
      ``spread_from_bars`` the bars' ``spread`` column (points) times ``point`` is used instead.
    - ``slippage``: price units against us on every fill (entries and all exits, TP included).
    - ``commission_per_lot``: money per lot per round trip (open + close), charged at the close.
    - ``swap_long_per_lot`` / ``swap_short_per_lot``: money per lot per night (negative: a
      charge), per UTC midnight crossed.
    - ``lots`` (fixed) or ``risk_per_trade_pct`` (lots whose stop-loss loses that percent of
      the equity, rounded down to ``volume_step``; needs a stop-loss).
    - ``sl_atr``/``tp_atr``: multiples of TA-Lib's (Wilder) ATR over ``atr_period`` taken at the
      signal bar; ``sl_distance``/``tp_distance``: fixed price distances. Either is measured
      from the entry fill and fixed for the trade's life. ``digits`` rounds SL/TP prices to the
      quote grid (``None``: no rounding).
    - ``exit_on_opposite``: an opposite signal closes the position at the next open and opens
      the opposite one (subject to the risk rules). ``max_bars_held``: time exit (``None``: off).
    - ``min_confidence``: signals whose confidence is below it count as HOLD.
    - ``risk``: the shared live risk rules, ``None`` for none. ``symbol`` is what they see.
    - ``bars_per_year``: Sharpe/Sortino annualisation; ``None`` infers it from the bar spacing.
    - ``leverage``: account leverage (1:100 = 100); an entry whose margin (``lots x
      contract_size x price / leverage``) exceeds the balance is skipped. ``None``: no margin
      model (and no stop-out).
    - ``stop_out_level``: margin level in percent (equity / margin x 100) below which the
      position is closed, as the broker's stop-out does (MT5's usual 50). ``None``: off.
    """

    spread: float = 0.0
    slippage: float = 0.0
    commission_per_lot: float = 0.0
    swap_long_per_lot: float = 0.0
    swap_short_per_lot: float = 0.0
    lots: float = 0.01
    risk_per_trade_pct: float | None = None
    contract_size: float = 100.0
    sl_atr: float | None = None
    tp_atr: float | None = None
    atr_period: int = 14
    sl_distance: float | None = None
    tp_distance: float | None = None
    exit_on_opposite: bool = True
    max_bars_held: int | None = None
    min_confidence: float = 0.0
    risk: RiskConfig | None = None
    symbol: str = "XAUUSD"
    initial_equity: float = 10_000.0
    digits: int | None = None
    point: float = 0.01
    spread_from_bars: bool = False
    volume_step: float = 0.01
    volume_min: float = 0.01
    volume_max: float = 100.0
    bars_per_year: float | None = None
    leverage: float | None = 100.0
    stop_out_level: float | None = 50.0

    def __post_init__(self) -> None:
        _validate_costs(self)
        _validate_stops(self)
        _validate_sizing(self)
        _validate_exits(self)
        _validate_margin(self)

    @property
    def uses_atr(self) -> bool:
        return self.sl_atr is not None or self.tp_atr is not None

    @classmethod
    def for_instrument(cls, spec: InstrumentSpec, *, spread_pips: float = 0.0,
                       slippage_pips: float = 0.0, spread_points: float | None = None,
                       **fields: Any) -> BacktestConfig:
        """A config for ``spec``: contract value, quote grid, volume limits and pips (or
        points) converted to price units (``spread_pips=3`` on XAUUSD is a spread of 0.3,
        ``spread_points=25`` one of 0.25)."""
        if spread_points is not None and spread_pips:
            raise ConfigurationError("give the spread in pips or in points, not both")
        spread = (spec.points(Decimal(str(spread_points))) if spread_points is not None
                  else spec.pips(Decimal(str(spread_pips))))
        return cls(
            symbol=spec.symbol, contract_size=float(spec.value_per_price_unit),
            digits=spec.digits, point=float(spec.point), spread=float(spread),
            slippage=float(spec.pips(Decimal(str(slippage_pips)))),
            volume_step=float(spec.volume_step), volume_min=float(spec.volume_min),
            volume_max=float(spec.volume_max), **fields,
        )


def _non_negative(config: BacktestConfig, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigurationError(f"{name} must be a finite number >= 0")


def _positive(config: BacktestConfig, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigurationError(f"{name} must be a finite number > 0 (or None)")


def _validate_costs(config: BacktestConfig) -> None:
    _non_negative(config, "spread", "slippage", "commission_per_lot")
    for name in ("swap_long_per_lot", "swap_short_per_lot"):
        if not math.isfinite(getattr(config, name)):
            raise ConfigurationError(f"{name} must be finite")


def _validate_stops(config: BacktestConfig) -> None:
    _positive(config, "sl_atr", "tp_atr", "sl_distance", "tp_distance")
    if config.sl_atr is not None and config.sl_distance is not None:
        raise ConfigurationError("give either sl_atr or sl_distance, not both")
    if config.tp_atr is not None and config.tp_distance is not None:
        raise ConfigurationError("give either tp_atr or tp_distance, not both")
    if config.atr_period < 1:
        raise ConfigurationError("atr_period must be >= 1")
    if config.digits is not None and not 0 <= config.digits <= 10:
        raise ConfigurationError("digits must be between 0 and 10 (or None)")


def _validate_sizing(config: BacktestConfig) -> None:
    _positive(config, "lots", "contract_size", "initial_equity", "risk_per_trade_pct",
              "volume_step", "volume_min", "volume_max", "point", "bars_per_year")
    if config.risk_per_trade_pct is not None and (
            config.sl_atr is None and config.sl_distance is None):
        raise ConfigurationError("risk_per_trade_pct sizing needs a stop-loss "
                                 "(sl_atr or sl_distance)")
    if config.volume_min > config.volume_max:
        raise ConfigurationError("volume_min must not exceed volume_max")


def _validate_margin(config: BacktestConfig) -> None:
    _positive(config, "leverage")
    if config.stop_out_level is not None and not (
            math.isfinite(config.stop_out_level) and 0 <= config.stop_out_level < 1000):
        raise ConfigurationError("stop_out_level must be a margin level in percent from 0 to "
                                 "1000 (or None)")


def _validate_exits(config: BacktestConfig) -> None:
    if config.max_bars_held is not None and config.max_bars_held < 1:
        raise ConfigurationError("max_bars_held must be >= 1 (or None)")
    if not 0.0 <= config.min_confidence <= 1.0:
        raise ConfigurationError("min_confidence must be between 0 and 1")
