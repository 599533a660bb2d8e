"""Chronological splits: purged, embargoed, never shuffled."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mlops.splits import chronological_split, holdout_split, walk_forward


def assert_chronological(train: np.ndarray, test: np.ndarray, horizon: int, embargo: int,
                         ) -> None:
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)  # sorted: no shuffle
    assert len(np.intersect1d(train, test)) == 0  # disjoint
    # purge + embargo: no training label window reaches within `embargo` bars of the test
    assert train.max() + horizon + embargo < test.min()


def test_chronological_split_is_80_20_with_a_purged_gap() -> None:
    fold = chronological_split(1000, 0.2, horizon=3, embargo=5)
    assert fold.test[0] == 800 and fold.test[-1] == 999
    assert fold.train[0] == 0 and fold.train[-1] == 800 - 3 - 5 - 1
    assert fold.gap == 8


@settings(max_examples=200, deadline=None)
@given(n=st.integers(200, 5000), n_folds=st.integers(1, 6), horizon=st.integers(1, 30),
       extra=st.integers(0, 20), expanding=st.booleans())
def test_walk_forward_never_trains_within_horizon_plus_embargo_of_a_test_window(
        n: int, n_folds: int, horizon: int, extra: int, expanding: bool) -> None:
    embargo = horizon + extra
    assume(n // (n_folds + 1) > horizon + embargo)  # otherwise refused (tested below)
    folds = walk_forward(n, n_folds, horizon, embargo, expanding=expanding)
    assert len(folds) == n_folds
    for fold in folds:
        assert_chronological(fold.train, fold.test, horizon, embargo)
    tests = np.concatenate([f.test for f in folds])
    assert np.all(np.diff(tests) > 0)  # test windows are consecutive and do not overlap
    assert tests[-1] == n - 1


def test_expanding_windows_grow_and_rolling_windows_keep_their_size() -> None:
    expanding = walk_forward(1000, 3, horizon=2, embargo=2, expanding=True)
    rolling = walk_forward(1000, 3, horizon=2, embargo=2, expanding=False)
    assert [f.train[0] for f in expanding] == [0, 0, 0]
    assert len(expanding[0].train) < len(expanding[1].train) < len(expanding[2].train)
    assert {len(f.train) for f in rolling} == {250 - 4}


def test_embargo_shorter_than_the_horizon_is_refused() -> None:
    with pytest.raises(ValueError, match="at least the label horizon"):
        walk_forward(1000, 3, horizon=10, embargo=5)


def test_default_embargo_is_the_horizon() -> None:
    fold = chronological_split(100, 0.2, horizon=4)
    assert fold.gap == 8


def test_holdout_split_keeps_the_newest_part_for_validation() -> None:
    indices = np.arange(100, 600)
    fold = holdout_split(indices, 0.2, horizon=5, embargo=5)
    assert fold.test[0] == 500 and fold.test[-1] == 599
    assert_chronological(fold.train, fold.test, 5, 5)
    assert fold.train[0] == 100


def test_too_little_data_for_the_folds_is_refused() -> None:
    with pytest.raises(ValueError, match="too few"):
        walk_forward(10, 5, horizon=2)
