"""What a backtest run may be asked for: the inputs, their rules, and the engine config.

The one rule that keeps a backtest honest lives here (:func:`backtest_period_check`): a model
is only ever backtested on days after its training window (``MLModel.data_end``), so every
signal comes from a model that had not seen the period. The command, the API and the admin
all go through it; it raises ``DataError`` (the API answers 400) naming the model, its
training window and the first allowed day.

Spread and slippage are asked in PIPS (the seed speaks in pips: spread 2-5, slippage 1-2) and
converted with the instrument's ``pip_size`` (XAUUSD 0.1: 3 pips = 0.30 in price units).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mlops.models import MLModel
from nusatrade.errors import DataError
from trading.risk import RiskConfig

if TYPE_CHECKING:  # the engine (numpy, pandas, numba) is imported where a config is built
    from backtests.engine import BacktestConfig
    from trading.pnl import InstrumentSpec

# The seed's sweep grid: spread 2-5 pips, slippage 1-2 pips, thresholds 0.50-0.70.
SWEEP_SPREAD_PIPS = (Decimal("2"), Decimal("3"), Decimal("4"), Decimal("5"))
SWEEP_SLIPPAGE_PIPS = (Decimal("1"), Decimal("2"))
SWEEP_THRESHOLDS = (0.50, 0.55, 0.60, 0.65, 0.70)

MAX_PIPS = Decimal("1000")
MAX_ATR_MULTIPLE = 100.0
MAX_BARS_HELD = 100_000
MAX_EQUITY = Decimal("1000000000000")  # 1e12: fits the MONEY columns with room for profit
MAX_COST_PER_LOT = Decimal("100000")  # commission or swap, money per lot
MAX_LEVERAGE = 10_000
MAX_STOP_OUT = Decimal("999")
DEFAULT_LEVERAGE = 100  # a common retail account (1:100); the paper broker's default too
DEFAULT_STOP_OUT = Decimal("50")  # MT5's usual stop-out level, percent


@dataclass(frozen=True)
class BacktestParams:
    """The knobs of one run (defaults: the seed's 3 pips spread, 1 pip slippage, 0.01 lot).

    ``threshold=None`` uses the model's tuned threshold; ``use_risk`` applies the shared risk
    rules and kill switches (``trading.risk.RiskConfig()``, the seed's values).
    ``commission_per_lot`` (money per lot per round trip) and the swaps (money per lot per
    night, negative = a charge): ``None`` takes the instrument's defaults
    (:func:`instrument_cost_defaults`). ``leverage`` and ``stop_out_level`` (percent) model
    the broker account's margin and stop-out.
    """

    spread_pips: Decimal = Decimal("3")
    slippage_pips: Decimal = Decimal("1")
    lots: Decimal = Decimal("0.01")
    sl_atr: float | None = 1.5
    tp_atr: float | None = 3.0
    max_bars_held: int | None = None
    use_risk: bool = True
    threshold: float | None = None
    initial_equity: Decimal = Decimal("10000")
    sweep: bool = False
    commission_per_lot: Decimal | None = None
    swap_long_per_lot: Decimal | None = None
    swap_short_per_lot: Decimal | None = None
    leverage: int = DEFAULT_LEVERAGE
    stop_out_level: Decimal = DEFAULT_STOP_OUT

    def __post_init__(self) -> None:
        # Accept ints, floats and numeric strings for the Decimal fields (via str: a float's
        # binary error is not carried over); anything else is left for the checks to refuse.
        for name in DECIMAL_FIELDS:
            object.__setattr__(self, name, _as_decimal(getattr(self, name)))


DECIMAL_FIELDS = ("spread_pips", "slippage_pips", "lots", "initial_equity", "commission_per_lot",
                  "swap_long_per_lot", "swap_short_per_lot", "stop_out_level")
COST_FIELDS = ("commission_per_lot", "swap_long_per_lot", "swap_short_per_lot")


def instrument_cost_defaults(instrument: Any) -> dict[str, Decimal]:
    """The instrument's commission and swaps (money per lot), when the instrument carries
    them (attributes of the same names); zero otherwise (the synthetic sample's broker)."""
    return {name: Decimal(str(getattr(instrument, name, None) or 0)) for name in COST_FIELDS}


def with_cost_defaults(params: BacktestParams, instrument: Any) -> BacktestParams:
    """``params`` with every cost left empty (None) taken from the instrument."""
    defaults = instrument_cost_defaults(instrument)
    return replace(params, **{name: defaults[name] for name in COST_FIELDS
                              if getattr(params, name) is None})


def _as_decimal(value: Any) -> Any:
    if isinstance(value, Decimal | bool):
        return value
    try:
        return Decimal(str(value)) if isinstance(value, int | float | str) else value
    except InvalidOperation:
        return value


def first_allowed_day(model: MLModel) -> date:
    """The first UTC day a backtest of ``model`` may start: the day after its last training
    bar (``data_end`` is that bar's open time; the whole day holding it is refused)."""
    return model.data_end.astimezone(UTC).date() + timedelta(days=1)


def training_window_text(model: MLModel) -> str:
    return (f"{model.data_start.astimezone(UTC):%Y-%m-%d %H:%M} to "
            f"{model.data_end.astimezone(UTC):%Y-%m-%d %H:%M} UTC")


def backtest_period_check(model: MLModel, start: date, end: date) -> None:
    """Refuse a period that is reversed or touches the model's training window."""
    if end < start:
        raise DataError(f"the period ends ({end}) before it starts ({start})", column="end")
    allowed = first_allowed_day(model)
    if start < allowed:
        raise DataError(
            f"refusing to backtest model #{model.pk} ({model.name} v{model.version}) from "
            f"{start} to {end}: it was trained on {model.instrument.symbol} {model.timeframe} "
            f"bars from {training_window_text(model)} (its training window), so it has seen "
            f"that data. Backtest it after its training window: the first allowed start is "
            f"{allowed}.", column="start")


def backtest_params_check(model: MLModel, params: BacktestParams) -> None:
    """Each input within its range and the instrument's volume rules; DataError naming the
    field (``column``) otherwise."""
    _validate_pips("spread_pips", params.spread_pips)
    _validate_pips("slippage_pips", params.slippage_pips)
    _validate_lots(model, params.lots)
    for name in ("sl_atr", "tp_atr"):
        _validate_atr_multiple(name, getattr(params, name))
    _validate_max_bars_held(params.max_bars_held)
    _validate_threshold(params.threshold)
    _validate_equity(params.initial_equity)
    _validate_costs(params)
    _validate_margin(params)


def _validate_costs(params: BacktestParams) -> None:
    for name in COST_FIELDS:
        value = getattr(params, name)
        if value is None:
            continue
        low = Decimal("0") if name == "commission_per_lot" else -MAX_COST_PER_LOT
        if not _finite_decimal(value) or not low <= value <= MAX_COST_PER_LOT:
            raise DataError(f"{name} must be money per lot from {low} to {MAX_COST_PER_LOT}",
                            column=name)


def _validate_margin(params: BacktestParams) -> None:
    if isinstance(params.leverage, bool) or not isinstance(params.leverage, int) or not (
            1 <= params.leverage <= MAX_LEVERAGE):
        raise DataError(f"leverage must be a whole number from 1 to {MAX_LEVERAGE} "
                        "(100 = 1:100)", column="leverage")
    level = params.stop_out_level
    if not _finite_decimal(level) or not Decimal("0") <= level <= MAX_STOP_OUT:
        raise DataError(f"stop_out_level must be a margin level in percent from 0 to "
                        f"{MAX_STOP_OUT}", column="stop_out_level")


def _validate_pips(name: str, value: Decimal) -> None:
    if not _finite_decimal(value) or not Decimal("0") <= value <= MAX_PIPS:
        raise DataError(f"{name} must be a number of pips from 0 to {MAX_PIPS}", column=name)


def _validate_lots(model: MLModel, lots: Decimal) -> None:
    instrument = model.instrument
    low, high, step = instrument.volume_min, instrument.volume_max, instrument.volume_step
    if not _finite_decimal(lots) or not low <= lots <= high:
        raise DataError(f"lots must be from {low.normalize()} to {high.normalize()} for "
                        f"{instrument.symbol}", column="lots")
    if lots % step != 0:
        raise DataError(f"lots must be a multiple of the volume step {step.normalize()} of "
                        f"{instrument.symbol}", column="lots")


def _validate_atr_multiple(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and 0 < value <= MAX_ATR_MULTIPLE):
        raise DataError(f"{name} must be an ATR multiple above 0 and at most "
                        f"{MAX_ATR_MULTIPLE:g} (or empty for none)", column=name)


def _validate_max_bars_held(value: int | None) -> None:
    if value is not None and not 1 <= value <= MAX_BARS_HELD:
        raise DataError(f"max_bars_held must be from 1 to {MAX_BARS_HELD} (or empty for none)",
                        column="max_bars_held")


def _validate_threshold(value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and 0.5 <= value <= 1.0):
        raise DataError("threshold must be from 0.5 to 1.0 (or empty for the model's)",
                        column="threshold")


def _validate_equity(value: Decimal) -> None:
    if not _finite_decimal(value) or not Decimal("0") < value <= MAX_EQUITY:
        raise DataError(f"initial_equity must be above 0 and at most {MAX_EQUITY:,}",
                        column="initial_equity")


def _finite_decimal(value: Any) -> bool:
    try:
        return isinstance(value, Decimal) and value.is_finite()
    except (InvalidOperation, TypeError):
        return False


def instrument_spec(model: MLModel) -> InstrumentSpec:
    from trading.pnl import InstrumentSpec

    return InstrumentSpec.from_instrument(model.instrument)


def backtest_config_build(model: MLModel, params: BacktestParams) -> BacktestConfig:
    """The engine's config of a run: the instrument's contract, pips in price units."""
    from backtests.engine import BacktestConfig

    return BacktestConfig.for_instrument(
        instrument_spec(model), spread_pips=params.spread_pips,
        slippage_pips=params.slippage_pips, lots=float(params.lots), sl_atr=params.sl_atr,
        tp_atr=params.tp_atr, max_bars_held=params.max_bars_held,
        risk=RiskConfig() if params.use_risk else None,
        initial_equity=float(params.initial_equity),
        commission_per_lot=float(params.commission_per_lot or 0),
        swap_long_per_lot=float(params.swap_long_per_lot or 0),
        swap_short_per_lot=float(params.swap_short_per_lot or 0),
        leverage=float(params.leverage), stop_out_level=float(params.stop_out_level))


def config_json(config: BacktestConfig) -> dict[str, Any]:
    """The engine config as JSON-ready values (for ``BacktestRun.params``)."""
    return json.loads(json.dumps(asdict(config), default=str))


def params_display(model: MLModel, params: BacktestParams, config: BacktestConfig,
                   start: date, end: date, *, synthetic: bool,
                   bars_without_prediction: int) -> dict[str, str]:
    """The run's parameters as a report shows them (pips AND price units, spelled out)."""
    spec = instrument_spec(model)
    threshold = params.threshold if params.threshold is not None else model.threshold
    source = ("the model's" if params.threshold is None
              else f"override; the model's is {model.threshold:.2f}")
    return {
        "Model": f"#{model.pk} {model.name} v{model.version} ({model.algorithm}, "
                 f"{spec.symbol} {model.timeframe})",
        "Training window (never backtested)": training_window_text(model),
        "Period": f"{start} to {end} (UTC days, inclusive)",
        "Data": "SYNTHETIC sample data" if synthetic else "stored market data",
        "Spread": f"{_pips(params.spread_pips)} = {config.spread:g} price units "
                  f"(1 pip = {spec.pip_size.normalize()})",
        "Slippage": f"{_pips(params.slippage_pips)} = {config.slippage:g} price units "
                    "against us on every fill",
        "Lots": f"{params.lots.normalize()} (contract {config.contract_size:g} per 1.0 of price)",
        "Stop-loss": _atr_text(params.sl_atr, config.atr_period),
        "Take-profit": _atr_text(params.tp_atr, config.atr_period),
        "Max bars held": str(params.max_bars_held or "none"),
        "Exit on opposite signal": "yes" if config.exit_on_opposite else "no",
        "Commission": f"{config.commission_per_lot:g} per lot per round trip",
        "Swap": f"long {config.swap_long_per_lot:g}, short {config.swap_short_per_lot:g} per "
                "lot per night (negative = a charge)",
        "Margin": f"leverage 1:{config.leverage:g}; stop-out below a "
                  f"{config.stop_out_level:g}% margin level",
        "Risk rules": _risk_text(config.risk),
        "Threshold (HOLD gate)": f"{threshold:.2f} ({source})",
        "Initial equity": f"{params.initial_equity:,.2f}",
        "Bars without a prediction (feature warm-up)": str(bars_without_prediction),
    }


def _pips(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return f"{text} pip" if value == 1 else f"{text} pips"


def _atr_text(multiple: float | None, period: int) -> str:
    return "none" if multiple is None else f"{multiple:g} x ATR({period})"


def _risk_text(risk: RiskConfig | None) -> str:
    if risk is None:
        return "off (--no-risk)"
    parts = [f"{name}={value}" for name, value in asdict(risk).items() if value is not None]
    return "on: " + ", ".join(parts)
