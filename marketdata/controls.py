"""The known-answer controls of ``make demo``: synthetic series whose right verdict is known.

- ``random_walk``: a driftless random walk (``synthetic.random_walk_bars``). Nothing predicts
  the next bar, so the whole pipeline (import, walk-forward training, readiness) must end
  NO-GO on it; a GO would mean the verdict machinery invents edges.
- ``planted_edge``: persistent trends planted in the bar returns
  (``synthetic.planted_edge_bars``: a hidden up/down direction re-drawn every 240 bars on
  average, drift 0.25 bar-sd a bar; its docstring gives the exact effect size). The pipeline
  must find it; a NO-GO would mean the machinery cannot see a real edge.

Each control lives under its own symbol (``SYN_RWALK``, ``SYN_EDGE``), never mixed with the
XAUUSD data: the instrument is created with XAUUSD's contract facts (100 oz a lot, point 0.01,
pip 0.1) so costs in pips mean the same, and a description that says it is synthetic. Bars are
written as an MT5 export file for ``import_bars --synthetic`` (the real importer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.db import transaction

from marketdata import synthetic
from marketdata.exports import write_mt5
from nusatrade.errors import DataError
from trading.models import Instrument

CONTRACT_OF = "XAUUSD"
# A Monday; a series of whole years then ends in late February, away from the year-end
# holidays (a replay window ending at Dec 31 cannot close its last position on Jan 1).
START = "2019-03-04"
START_PRICE = 2000.0           # gold-like level: bar sd ~4.0, so pip costs weigh as on gold
VOL_PER_BAR = 0.002            # gold's hourly volatility (16% a year)
DIGITS = 2


@dataclass(frozen=True)
class Control:
    kind: str
    symbol: str
    description: str
    expected: str


CONTROLS: dict[str, Control] = {
    "random_walk": Control(
        "random_walk", "SYN_RWALK",
        "SYNTHETIC control: driftless random walk, no edge (make demo)", "NO-GO"),
    "planted_edge": Control(
        "planted_edge", "SYN_EDGE",
        "SYNTHETIC control: planted edge, persistent trends (make demo)", "GO"),
}


@dataclass(frozen=True)
class ControlFile:
    control: Control
    path: Path
    bars: int
    first: pd.Timestamp
    last: pd.Timestamp


def control_get(kind: str) -> Control:
    try:
        return CONTROLS[kind]
    except KeyError:
        raise DataError(f"unknown control {kind!r}: use one of {', '.join(CONTROLS)}",
                        column="kind") from None


def control_instrument_ensure(control: Control) -> Instrument:
    """The control's instrument, created with XAUUSD's contract facts when missing."""
    with transaction.atomic():
        existing = Instrument.objects.filter(symbol=control.symbol).first()
        if existing is not None:
            return existing
        template = Instrument.objects.filter(symbol=CONTRACT_OF).first()
        if template is None:
            raise DataError(f"the {CONTRACT_OF} instrument is missing (run migrate): the "
                            "controls copy its contract facts", column="symbol")
        facts = {f.name: getattr(template, f.name) for f in Instrument._meta.concrete_fields
                 if f.name not in ("id", "symbol", "description")}
        instrument, _ = Instrument.objects.get_or_create(
            symbol=control.symbol, defaults={**facts, "description": control.description})
        return instrument


def control_bars(control: Control, *, years: float, seed: int,
                 edge: float = 0.25) -> pd.DataFrame:
    """The control's bars (pure generators, see their docstrings for what they hold)."""
    n = synthetic.bars_in_years(years, "H1")
    common = {"timeframe": "H1", "start": START, "start_price": START_PRICE,
              "vol_per_bar": VOL_PER_BAR, "digits": DIGITS}
    if control.kind == "random_walk":
        return synthetic.random_walk_bars(n, seed, **common)
    return synthetic.planted_edge_bars(n, seed, edge=edge, **common)


def control_file_write(kind: str, path: Path, *, years: float = 5.0, seed: int = 3,
                       edge: float = 0.25) -> ControlFile:
    """Create the control's instrument and write its H1 bars to ``path`` (MT5 export)."""
    control = control_get(kind)
    control_instrument_ensure(control)
    frame = control_bars(control, years=years, seed=seed, edge=edge)
    write_mt5(frame, path, DIGITS)
    return ControlFile(control, path, len(frame), frame.index[0], frame.index[-1])
