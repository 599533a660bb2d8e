"""Writes of the monitoring app (heavy modules imported on first use: nusatrade.lazy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nusatrade.lazy import lazy_exports

if TYPE_CHECKING:
    from monitoring.services.drift import drift_compute
    from monitoring.services.performance import (
        backtest_expectation,
        performance_track,
        scope_track,
    )
    from monitoring.services.retraining import retraining_request_decide

__getattr__ = lazy_exports(__name__, {
    "drift_compute": "monitoring.services.drift",
    "backtest_expectation": "monitoring.services.performance",
    "performance_track": "monitoring.services.performance",
    "scope_track": "monitoring.services.performance",
    "retraining_request_decide": "monitoring.services.retraining",
})
__all__ = ["backtest_expectation", "drift_compute", "performance_track",
           "retraining_request_decide", "scope_track"]
