"""Drive the compiled kernel, answering its entry requests with the shared risk rules.

Without risk rules the kernel runs the whole backtest in one call. With them it pauses before
every candidate entry; Python then books the trades closed since the last pause with
``trading.risk.on_trade_closed`` (which may halt), asks ``check_entry``, and on yes counts the
position with ``on_trade_opened``: the calls the live engine makes. A denial or a halt
that says until when it lasts lets the kernel drop candidates before that time without asking
again (a few thousand Python calls per backtest instead of one per signal).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from backtests.engine import kernel as k
from backtests.engine.config import BacktestConfig
from backtests.engine.data import FinerBars, PreparedBars
from nusatrade.errors import DataError
from trading import risk
from trading.risk import FOREVER, Halt, RiskConfig, RiskState

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NS_PER_S = 1_000_000_000
# Local names for the slots read per trade (a module attribute lookup each time adds up).
_S_NTRADES, _S_SKIP_BLOCKED, _S_ANSWER, _S_BAR = k.S_NTRADES, k.S_SKIP_BLOCKED, k.S_ANSWER, k.S_BAR
_F_BALANCE, _T_EXIT_BAR, _U_NET, _U_BALANCE = k.F_BALANCE, k.T_EXIT_BAR, k.U_NET, k.U_BALANCE


@dataclass(frozen=True)
class RawRun:
    """The kernel's output: trade table arrays plus what the risk rules did."""

    ti: np.ndarray
    tf: np.ndarray
    params: np.ndarray
    spread: np.ndarray
    halts: tuple[Halt, ...] = ()
    denied: dict[str, int] = field(default_factory=dict)
    skipped_no_atr: int = 0
    skipped_volume: int = 0
    skipped_margin: int = 0
    both_touched: int = 0
    resolved: int = 0


def simulate(prepared: PreparedBars, sig: np.ndarray, config: BacktestConfig,
             finer: FinerBars | None = None) -> RawRun:
    """Run the kernel over ``prepared`` bars with int8 signals ``sig`` (hot path)."""
    finer = finer or FinerBars.none()
    spread = _spread_array(prepared, config)
    atr = prepared.atr(config.atr_period) if config.uses_atr else _no_atr(len(prepared))
    p, ip = _params(config)
    ip[k.I_PAUSE] = 0 if config.risk is None else 1
    st = np.zeros(k.S_SIZE, dtype=np.int64)
    fs = np.zeros(k.F_SIZE, dtype=np.float64)
    fs[k.F_BALANCE] = config.initial_equity
    capacity = int(np.count_nonzero(sig)) + 1  # every trade consumes a distinct signal
    ti = np.empty((capacity, k.T_SIZE), dtype=np.int64)  # rows past the count stay unread
    tf = np.empty((capacity, k.U_SIZE), dtype=np.float64)
    args = (prepared.ohlc, spread, sig, atr, prepared.days, finer.ohlc, finer.ranges, p, ip, st,
            fs, ti, tf)
    session = None
    if config.risk is None:
        k.run(*args)
    else:
        session = _RiskSession(config.risk, config.symbol, config.initial_equity, prepared)
        session.drive(args)
    count = int(st[k.S_NTRADES])
    return RawRun(
        ti=ti[:count], tf=tf[:count], params=p, spread=spread,
        halts=tuple(session.halts) if session else (),
        denied=dict(session.denied) if session else {},
        skipped_no_atr=int(st[k.S_SKIP_NO_ATR]), skipped_volume=int(st[k.S_SKIP_VOLUME]),
        skipped_margin=int(st[k.S_SKIP_MARGIN]),
        both_touched=int(st[k.S_BOTH_TOUCHED]), resolved=int(st[k.S_RESOLVED]),
    )


def _no_atr(n: int) -> np.ndarray:
    return np.full(n, np.nan)  # never read: the kernel uses ATR only with sl_atr/tp_atr


def _spread_array(prepared: PreparedBars, config: BacktestConfig) -> np.ndarray:
    if config.spread_from_bars:
        if prepared.spread_points is None:
            raise DataError("spread_from_bars is set but the bars have no spread column",
                            column="spread")
        return prepared.spread_points * config.point
    return np.full(len(prepared), config.spread)


def _params(config: BacktestConfig) -> tuple[np.ndarray, np.ndarray]:
    def value(x: float | None) -> float:
        return math.nan if x is None else float(x)

    p = np.full(k.P_SIZE, np.nan)
    p[k.P_SLIPPAGE] = config.slippage
    p[k.P_SL_ATR], p[k.P_TP_ATR] = value(config.sl_atr), value(config.tp_atr)
    p[k.P_SL_DIST], p[k.P_TP_DIST] = value(config.sl_distance), value(config.tp_distance)
    p[k.P_LOTS] = config.lots
    p[k.P_RISK_PCT] = value(config.risk_per_trade_pct)
    p[k.P_VPU] = config.contract_size
    p[k.P_COMMISSION] = config.commission_per_lot
    p[k.P_SWAP_LONG], p[k.P_SWAP_SHORT] = config.swap_long_per_lot, config.swap_short_per_lot
    p[k.P_PRICE_SCALE] = 0.0 if config.digits is None else 10.0 ** config.digits
    p[k.P_VOL_STEP], p[k.P_VOL_MIN] = config.volume_step, config.volume_min
    p[k.P_VOL_MAX] = config.volume_max
    p[k.P_LEVERAGE] = value(config.leverage)
    p[k.P_STOP_OUT] = value(config.stop_out_level)
    ip = np.zeros(k.I_SIZE, dtype=np.int64)
    ip[k.I_MAX_BARS] = config.max_bars_held or 0
    ip[k.I_EXIT_OPPOSITE] = int(config.exit_on_opposite)
    return p, ip


def bar_time(times_ns: np.ndarray, bar: int) -> datetime:
    """The open time of ``bar`` as an aware UTC datetime (microsecond precision)."""
    seconds, rest = divmod(times_ns.item(bar), _NS_PER_S)
    moment = datetime.fromtimestamp(seconds, UTC)  # twice as fast as epoch + timedelta
    return moment + timedelta(microseconds=rest // 1000) if rest else moment


class _RiskSession:
    """The risk state of one backtest and the bookkeeping around the kernel's pauses."""

    def __init__(self, config: RiskConfig, symbol: str, equity: float,
                 prepared: PreparedBars) -> None:
        self.config, self.symbol, self.times = config, symbol, prepared.times_ns
        self.state = RiskState.start(equity)
        self.halts: list[Halt] = []
        self.denied: Counter[str] = Counter()
        self.booked = 0
        self.block_rule: str | None = None
        self.blocked_seen = 0

    def drive(self, args: tuple) -> None:
        st, fs, ti, tf = args[-4:]
        run = k.run
        while True:
            event = run(*args)
            closed = st.item(_S_NTRADES)
            if closed > self.booked:
                self._book_closes(ti, tf, closed, st)
            if st.item(_S_SKIP_BLOCKED) != self.blocked_seen:
                self._count_blocked(st)
            if event == k.EV_DONE:
                return
            st[_S_ANSWER] = self._answer(st.item(_S_BAR), fs.item(_F_BALANCE), st)

    def _book_closes(self, ti: np.ndarray, tf: np.ndarray, upto: int, st: np.ndarray) -> None:
        config, symbol, times = self.config, self.symbol, self.times
        for row in range(self.booked, upto):
            now = bar_time(times, ti.item(row, _T_EXIT_BAR))
            self.state, halts = risk.on_trade_closed(config, self.state, now, symbol,
                                                     tf.item(row, _U_NET),
                                                     tf.item(row, _U_BALANCE))
            for halt in halts:
                self.halts.append(halt)
                self._block(st, halt.until, halt.rule)
        self.booked = upto

    def _answer(self, bar: int, equity: float, st: np.ndarray) -> int:
        # check_entry reads a stale state correctly (past days count 0 trades, expired halts
        # do not block) and on_trade_opened refreshes it, so no separate refresh() here.
        config, symbol = self.config, self.symbol
        now = bar_time(self.times, bar)
        decision = risk.check_entry(config, self.state, now, symbol)
        if decision.allowed:
            self.state = risk.on_trade_opened(config, self.state, now, symbol, equity)
            return 1
        self.denied[decision.rule or "unknown"] += 1
        if decision.until is not None:
            self._block(st, decision.until, decision.rule)
        return 0

    def _block(self, st: np.ndarray, until: datetime, rule: str | None) -> None:
        """Let the kernel drop candidate entries before ``until`` without asking."""
        self._count_blocked(st)
        if until >= FOREVER:
            bar = len(self.times)
        else:
            ns = (until - _EPOCH) // _MICROSECOND * 1000
            bar = int(np.searchsorted(self.times, ns, side="left"))
        if bar > st[k.S_BLOCKED_UNTIL]:
            st[k.S_BLOCKED_UNTIL] = bar
            self.block_rule = rule

    def _count_blocked(self, st: np.ndarray) -> None:
        # Candidates the kernel dropped are denials of the rule that set the block.
        dropped = st.item(k.S_SKIP_BLOCKED) - self.blocked_seen
        if dropped:
            self.denied[self.block_rule or "unknown"] += dropped
            self.blocked_seen += dropped
