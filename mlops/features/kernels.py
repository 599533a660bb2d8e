"""Array helpers of the hot path: vectorised numpy and two small numba loops (pure).

Every helper is causal: the value at row t reads rows <= t only. The rolling statistics here
recompute each window from its own values instead of keeping running sums, so a value does not
depend on where the series starts (running sums of squares, as in TA-Lib's STDDEV, carry a
rounding error that depends on the start and suffers cancellation at price levels).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def safe_div(num: np.ndarray, den: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """``num / den`` with ``fill`` where ``den == 0`` (a flat market), NaN kept from inputs."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    flat = (den == 0) & ~np.isnan(num)
    if flat.any():
        out[flat] = fill
    return out


def shift(values: np.ndarray, lag: int) -> np.ndarray:
    """``values`` delayed by ``lag`` >= 1 rows (row t holds row t - lag), NaN at the start."""
    out = np.full(values.size, np.nan)
    if lag < values.size:
        out[lag:] = values[: values.size - lag]
    return out


def change(values: np.ndarray, lag: int) -> np.ndarray:
    """``values[t] - values[t - lag]``."""
    return values - shift(values, lag)


def sqrt0(values: np.ndarray) -> np.ndarray:
    """Square root of a mean of squares; clips the -1e-20 that running sums leave at zero."""
    return np.sqrt(np.maximum(values, 0.0))


def first_valid(values: np.ndarray) -> int:
    """Index of the first non-NaN value (``values.size`` when there is none)."""
    valid = np.flatnonzero(~np.isnan(values))
    return int(valid[0]) if valid.size else int(values.size)


@njit(cache=True, nogil=True)
def _rolling_std(values: np.ndarray, window: int, start: int) -> np.ndarray:  # pragma: no cover
    n = values.size
    out = np.full(n, np.nan)
    for i in range(start + window - 1, n):
        # Deviations from the window's first value: exact zeros for a flat window, and no
        # cancellation against the price level.
        ref = values[i - window + 1]
        total = 0.0
        for j in range(i - window + 1, i + 1):
            total += values[j] - ref
        mean = total / window
        squares = 0.0
        for j in range(i - window + 1, i + 1):
            dev = values[j] - ref - mean
            squares += dev * dev
        out[i] = np.sqrt(squares / window)
    return out


def rolling_std(values: np.ndarray, window: int) -> np.ndarray:
    """Population std of the last ``window`` values, two-pass per window (hot path).

    ``values`` may be NaN only in a leading block (an indicator's warm-up).
    """
    return _rolling_std(values, window, first_valid(values))


@njit(cache=True, nogil=True)
def _rolling_mean(values: np.ndarray, window: int, start: int) -> np.ndarray:  # pragma: no cover
    n = values.size
    out = np.full(n, np.nan)
    total = 0.0
    comp = 0.0  # Neumaier compensation: the running sum stays exact to ~1 ulp at any length
    for i in range(start, n):
        for value in (values[i], -values[i - window] if i - window >= start else 0.0):
            t = total + value
            if abs(total) >= abs(value):
                comp += (total - t) + value
            else:
                comp += (value - t) + total
            total = t
        if i >= start + window - 1:
            out[i] = (total + comp) / window
    return out


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values with a compensated running sum (hot path).

    Same values as TA-Lib's SMA, but the running sum's rounding does not accumulate with the
    length of the series, so a price SMA does not depend on where the history starts.
    ``values`` may be NaN only in a leading block.
    """
    return _rolling_mean(values, window, first_valid(values))


def linreg_slope(values: np.ndarray, window: int) -> np.ndarray:
    """Slope per bar of the least-squares line through the last ``window`` values.

    A fixed-weight filter (the weights sum to zero, so the price level cancels), evaluated per
    window: no running sums, hence no dependence on where the series starts.
    """
    x = np.arange(window, dtype=np.float64) - (window - 1) / 2.0
    out = np.full(values.size, np.nan)
    if values.size >= window:
        out[window - 1:] = np.correlate(values, x / np.dot(x, x), mode="valid")
    return out


@njit(cache=True, nogil=True)
def _rolling_rank(values: np.ndarray, window: int, start: int) -> np.ndarray:  # pragma: no cover
    n = values.size
    out = np.full(n, np.nan)
    for i in range(start + window - 1, n):
        current = values[i]
        count = 0
        for j in range(i - window + 1, i + 1):
            count += values[j] <= current
        out[i] = count / window
    return out


def rolling_rank(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing percentile of each value among the last ``window`` values, itself included.

    ``(# of window values <= current) / window``, in (0, 1]: 1 is the highest of the window.
    Only past values are ranked (never the whole series). Hot path: O(n * window) compares,
    vectorised by numba. ``values`` may be NaN only in a leading block.
    """
    return _rolling_rank(values, window, first_valid(values))
