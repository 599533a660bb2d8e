"""Chronological train/test splits with purging and an embargo (pure: no Django imports).

Indices are positions of consecutive bars (sample ``i`` is bar ``i`` of a contiguous span), so
a distance in indices is a distance in bars. A sample's label reads ``horizon`` bars after it.

Purging: a training sample whose label window ``[i, i + horizon]`` reaches into the test
window would teach the model the test period's prices; it is removed. Embargo: a further
``embargo`` bars (at least the horizon) are removed before the test window, because features
and labels of neighbouring bars are correlated. Together: every training index ``i`` satisfies
``i + horizon + embargo < first test index``. Training data always precedes its test data: there
is no shuffling and no K-fold anywhere in NusaTrade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fold:
    """One train/test pair of sorted, disjoint index arrays; all of train precedes test."""

    index: int
    train: np.ndarray
    test: np.ndarray

    @property
    def gap(self) -> int:
        """Bars left out between the last training and the first test sample."""
        return int(self.test[0] - self.train[-1] - 1)


def resolve_embargo(horizon: int, embargo: int | None) -> int:
    """The embargo to use: the horizon by default; never less than it."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 bar, got {horizon}")
    if embargo is None:
        return horizon
    if embargo < horizon:
        raise ValueError(f"embargo ({embargo}) must be at least the label horizon ({horizon})")
    return embargo


def purged_train_end(test_start: int, horizon: int, embargo: int) -> int:
    """The exclusive end of the training samples before a test window starting at index
    ``test_start``: every training ``i`` satisfies ``i + horizon + embargo < test_start``, so
    the last label reads bar ``test_start - embargo - 1`` at the latest (also used by the
    retrain-every backtest's schedule, ``backtests.retraining``)."""
    return test_start - horizon - embargo


def _purged_train(train_start: int, test_start: int, horizon: int, embargo: int) -> np.ndarray:
    """Training indices in [train_start, test_start) minus the purge and embargo gap."""
    end = purged_train_end(test_start, horizon, embargo)
    return np.arange(train_start, max(train_start, end), dtype=np.int64)


def chronological_split(n: int, test_fraction: float = 0.2, horizon: int = 1,
                        embargo: int | None = None) -> Fold:
    """The first ``1 - test_fraction`` of the samples train, the rest test (purged)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    embargo = resolve_embargo(horizon, embargo)
    test_start = round(n * (1 - test_fraction))
    return _make_fold(0, 0, test_start, n, horizon, embargo)


def holdout_split(indices: np.ndarray, fraction: float, horizon: int,
                  embargo: int | None = None) -> Fold:
    """Split sorted ``indices`` into an earlier fit part and the last ``fraction`` (validation).

    Used inside a training window, so the validation part is still older than any test data.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    embargo = resolve_embargo(horizon, embargo)
    indices = np.asarray(indices, dtype=np.int64)
    n_val = max(1, round(len(indices) * fraction))
    val = indices[-n_val:]
    fit = indices[indices + horizon + embargo < val[0]]
    if len(fit) == 0:
        raise ValueError(f"{len(indices)} samples are too few for a purged holdout split")
    return Fold(0, fit, val)


def walk_forward(n: int, n_folds: int, horizon: int, embargo: int | None = None,
                 expanding: bool = True, min_train: int | None = None) -> list[Fold]:
    """``n_folds`` consecutive test windows after ``min_train`` samples, each trained before it.

    Expanding: every fold trains on all samples before its test window. Rolling: on the
    ``min_train`` samples before it. Default ``min_train``: one fold's share, ``n // (n_folds+1)``.
    """
    if n_folds < 1:
        raise ValueError(f"n_folds must be at least 1, got {n_folds}")
    embargo = resolve_embargo(horizon, embargo)
    min_train = n // (n_folds + 1) if min_train is None else min_train
    test_size = (n - min_train) // n_folds
    if min_train <= horizon + embargo or test_size < 1:
        raise ValueError(f"{n} samples are too few for {n_folds} folds after "
                         f"{min_train} training samples")
    folds = []
    for k in range(n_folds):
        test_start = min_train + k * test_size
        test_end = n if k == n_folds - 1 else test_start + test_size
        train_start = 0 if expanding else max(0, test_start - min_train)
        folds.append(_make_fold(k, train_start, test_start, test_end, horizon, embargo))
    return folds


def _make_fold(k: int, train_start: int, test_start: int, test_end: int, horizon: int,
               embargo: int) -> Fold:
    train = _purged_train(train_start, test_start, horizon, embargo)
    test = np.arange(test_start, test_end, dtype=np.int64)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"fold {k}: empty train or test window ({len(train)} / {len(test)})")
    return Fold(k, train, test)
