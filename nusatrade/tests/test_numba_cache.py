"""The numba kernels compile once, at install (``manage.py warm_kernels``), into a cache
directory we choose (``NUMBA_CACHE_DIR``), so a newcomer's first backtest does not compile."""

from __future__ import annotations

import json

import pytest

from tests.helpers import clean_env, run_manage, run_python

FIRST_BACKTEST = """
import json, django
django.setup()
import numpy as np
from numba.core.registry import CPUDispatcher
from backtests import metrics
from backtests.engine import BacktestConfig, kernel, run_backtest
from marketdata.synthetic import random_walk_bars
from trading.risk import RiskConfig

# A backtest unlike warm_kernels' own: other bars, length, signals and costs.
bars = random_walk_bars(1200, seed=7)
signals = np.random.default_rng(7).choice(np.array([-1, 0, 0, 1], dtype=np.int8), len(bars))
config = BacktestConfig(spread=0.3, slippage=0.1, sl_atr=1.5, tp_atr=3.0, risk=RiskConfig())
run_backtest(bars, signals, config)
dispatchers = [d for m in (kernel, metrics) for d in vars(m).values()
               if isinstance(d, CPUDispatcher)]
print(json.dumps({"misses": sum(sum(d.stats.cache_misses.values()) for d in dispatchers),
                  "hits": sum(sum(d.stats.cache_hits.values()) for d in dispatchers)}))
"""


@pytest.mark.slow
def test_warm_kernels_fills_the_configured_cache_so_the_first_backtest_compiles_nothing(
        tmp_path):
    cache = tmp_path / "numba-cache"
    env = clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings", NUSATRADE_VAR_DIR=str(tmp_path),
                    NUMBA_CACHE_DIR=str(cache))
    warmed = run_manage("warm_kernels", env=env, timeout=600)
    assert warmed.returncode == 0, warmed.stderr
    assert str(cache) in warmed.stdout
    assert list(cache.rglob("*.nbi")) and list(cache.rglob("*.nbc"))

    first = run_python(FIRST_BACKTEST, env, timeout=600)
    assert first.returncode == 0, first.stderr
    stats = json.loads(first.stdout.strip().splitlines()[-1])
    assert stats["hits"] > 0 and stats["misses"] == 0, stats
