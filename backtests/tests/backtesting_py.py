"""Run precomputed signals through backtesting.py (0.6.x), configured to match our engine.

A dev-only reference for the equivalence test and the benchmark. How backtesting.py behaves
(read from its 0.6.6 source, ``_Broker._process_orders``): market orders placed in
``Strategy.next()`` at bar t's close fill at bar t+1's open (``trade_on_close=False``); a
trade's SL is a stop order and its TP a limit order, SL orders are queued first so the SL wins
when a bar touches both; a stop gapped through fills at the open (``min/max(open, stop)``), a
limit gapped through at the (better) open; SL/TP are checked in the entry bar too. Its
``spread`` and ``commission`` are fractions of the price, so the comparison uses zero costs.

Matching our rules needs an adapter rather than ``exclusive_orders=True``:

- our SL/TP are distances from the entry fill; backtesting.py wants absolute prices when the
  order is placed, so the adapter passes the levels the fill will produce (with zero costs
  the fill is the next open, known to this precomputed-signals harness);
- a time or opposite-signal exit is a market order at the next open. backtesting.py checks a
  trade's SL/TP orders against the whole next bar *before* a market close, which would turn
  some of those exits into stop exits at worse prices; the adapter cancels the bracket when it
  closes, which is what closing a position at the open means;
- backtesting.py ignores the first bar's signal (``next()`` starts at bar 1) and leaves
  positions open at the end (``finalize_trades=False``): compare trades that did not end
  with the data.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")  # before backtesting.py imports tqdm
from backtesting import Backtest, Strategy


def _levels(open_: np.ndarray, side: int, i: int, sl_dist: np.ndarray, tp_dist: np.ndarray,
            scale: float) -> tuple[float | None, float | None]:
    """SL/TP prices for a position decided at bar i, from its fill at open[i + 1]."""
    fill = float(open_[i + 1])

    def level(distance: float, sign: int) -> float | None:
        if math.isnan(distance):
            return None
        price = fill + sign * distance
        return float(np.rint(price * scale) / scale) if scale else price

    return level(sl_dist[i], -side), level(tp_dist[i], side)


class SignalStrategy(Strategy):
    """Feeds precomputed signals; class attributes are set through ``Backtest.run(**...)``."""

    signals: np.ndarray = np.zeros(0)
    sl_dist: np.ndarray = np.zeros(0)
    tp_dist: np.ndarray = np.zeros(0)
    open_: np.ndarray = np.zeros(0)
    max_bars_held: int = 0
    exit_on_opposite: bool = True
    scale: float = 0.0

    def init(self) -> None:
        pass

    def next(self) -> None:
        i = len(self.data) - 1
        if i + 1 >= len(self.signals):
            return  # no next bar to fill at
        signal = int(self.signals[i])
        if self.trades:
            trade = self.trades[0]
            side = 1 if trade.is_long else -1
            reverse = self.exit_on_opposite and signal == -side
            timed_out = 0 < self.max_bars_held <= i + 1 - trade.entry_bar
            if not (reverse or timed_out):
                return
            trade.sl = None  # cancel the bracket: the close is a market order at the open
            trade.tp = None
            trade.close()
            if not reverse:
                return
        if signal != 0:
            self._enter(signal, i)

    def _enter(self, side: int, i: int) -> None:
        sl, tp = _levels(self.open_, side, i, self.sl_dist, self.tp_dist, self.scale)
        (self.buy if side > 0 else self.sell)(size=1, sl=sl, tp=tp)


def run_backtesting_py(frame: pd.DataFrame, signals: np.ndarray, *, sl_dist: np.ndarray,
                       tp_dist: np.ndarray, max_bars_held: int | None = None,
                       exit_on_opposite: bool = True,
                       digits: int | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """backtesting.py's closed trades for ``signals`` and its stats.

    ``sl_dist``/``tp_dist``: the stop distances per decision bar (NaN: none; a signal whose
    needed ATR is NaN must be zeroed by the caller, as our engine skips it).
    """
    data = pd.DataFrame({
        "Open": frame["open"].to_numpy(), "High": frame["high"].to_numpy(),
        "Low": frame["low"].to_numpy(), "Close": frame["close"].to_numpy(),
        "Volume": np.ones(len(frame)),
    }, index=frame.index.tz_localize(None))
    test = Backtest(data, SignalStrategy, cash=1e9, spread=0.0, commission=0.0,
                    trade_on_close=False, hedging=False, exclusive_orders=False,
                    finalize_trades=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open": expected, see above
        stats = test.run(signals=np.asarray(signals), sl_dist=np.asarray(sl_dist, float),
                         tp_dist=np.asarray(tp_dist, float),
                         open_=frame["open"].to_numpy(), max_bars_held=max_bars_held or 0,
                         exit_on_opposite=exit_on_opposite,
                         scale=0.0 if digits is None else 10.0 ** digits)
    return stats._trades, stats


def comparable(trades: pd.DataFrame, *, ours: bool) -> pd.DataFrame:
    """side, entry/exit bar and price, from either engine's trade table."""
    if ours:
        done = trades[trades.exit_reason != "end_of_data"]
        table = {"side": np.where(done.side == "BUY", 1, -1), "entry_bar": done.entry_bar,
                 "exit_bar": done.exit_bar, "entry_price": done.entry_price,
                 "exit_price": done.exit_price}
    else:
        table = {"side": np.sign(trades.Size).astype(int), "entry_bar": trades.EntryBar,
                 "exit_bar": trades.ExitBar, "entry_price": trades.EntryPrice,
                 "exit_price": trades.ExitPrice}
    return pd.DataFrame({k: np.asarray(v) for k, v in table.items()}).astype(
        {"side": np.int64, "entry_bar": np.int64, "exit_bar": np.int64})
