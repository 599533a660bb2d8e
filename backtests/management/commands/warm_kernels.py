"""``warm_kernels``: compile the numba backtest kernels into the on-disk cache, once per install.

The kernels compile on first use (about 8-15 s on a small machine) and numba caches the
machine code in ``settings.NUMBA_CACHE_DIR``. ``make install`` (and so the first ``make demo``)
runs this, so a newcomer's first backtest, and the first one after each deploy, loads the
cache instead of compiling. It runs a few tiny synthetic backtests through the public engine
API, which compiles exactly the type signatures real runs use (with and without the shared
risk rules and finer bars), whatever the engine's internals become.
"""

from __future__ import annotations

import time

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand

BARS = 300


class Command(BaseCommand):
    help = "Compile the numba backtest kernels into NUMBA_CACHE_DIR (run once after install)."

    def handle(self, *args, **options) -> None:
        from backtests.engine import BacktestConfig, run_backtest
        from marketdata.synthetic import random_walk_bars
        from trading.risk import RiskConfig

        started = time.perf_counter()
        bars = random_walk_bars(BARS, seed=1)
        finer = random_walk_bars(BARS * 4, seed=2, timeframe="M15")
        signals = np.resize(np.array([1, 0, 0, -1, 0], dtype=np.int8), BARS)
        configs = (
            BacktestConfig(sl_atr=1.5, tp_atr=3.0),
            BacktestConfig(sl_distance=0.5, tp_distance=1.0, risk_per_trade_pct=1.0,
                           risk=RiskConfig()),
        )
        for config in configs:
            run_backtest(bars, signals, config)
            run_backtest(bars, signals, config, finer_bars=finer)
        self.stdout.write(f"numba kernels ready in {settings.NUMBA_CACHE_DIR} "
                          f"({time.perf_counter() - started:.1f} s)")
