"""The trading cycle (``trading.cycle.run.cycle_run``) on a paper account and stored bars."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mlops.models import FeatureSnapshot, Prediction
from trading.cycle.run import cycle_run
from trading.models import Order, Signal
from trading.tests import cyclekit


@pytest.fixture
def setup(db, settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    from mlops.services import clear_estimator_cache

    clear_estimator_cache()
    cyclekit.store_bars()
    model = cyclekit.active_model()
    return cyclekit.paper_account(), model


def test_a_cycle_records_one_signal_for_the_closed_bar(setup):
    account, model = setup
    outcome = cycle_run(account.pk, at=cyclekit.AT, feature_set=cyclekit.FEATURES)
    signal = Signal.objects.get(account=account)
    assert outcome.bar_time == cyclekit.AT - timedelta(hours=1) == signal.bar_time
    assert (outcome.model_id, outcome.signal_id, outcome.decision) == (
        model.pk, signal.pk, signal.decision)
    print(outcome.to_dict())


def test_a_repeated_or_late_run_for_a_processed_bar_does_nothing(setup):
    account, _model = setup
    first = cycle_run(account.pk, at=cyclekit.AT, feature_set=cyclekit.FEATURES)
    counts = (Signal.objects.count(), Order.objects.count(), Prediction.objects.count())
    again = cycle_run(account.pk, at=cyclekit.AT + timedelta(minutes=20),
                      feature_set=cyclekit.FEATURES)
    assert again.status == "already_processed"
    assert (again.signal_id, again.order_id) == (first.signal_id, first.order_id)
    assert (Signal.objects.count(), Order.objects.count(),
            Prediction.objects.count()) == counts


def test_a_dry_run_decides_and_records_nothing(setup):
    account, _model = setup
    outcome = cycle_run(account.pk, at=cyclekit.AT, dry_run=True,
                        feature_set=cyclekit.FEATURES)
    assert outcome.status == "dry_run" and outcome.decision in ("BUY", "SELL", "HOLD")
    assert outcome.probabilities and outcome.bar_time == cyclekit.AT - timedelta(hours=1)
    assert (Signal.objects.count(), Order.objects.count(), Prediction.objects.count(),
            FeatureSnapshot.objects.count()) == (0, 0, 0, 0)
    real = cycle_run(account.pk, at=cyclekit.AT, feature_set=cyclekit.FEATURES)
    assert real.decision == outcome.decision   # the dry run decided what the cycle does


def test_outside_market_hours_the_cycle_does_nothing(setup):
    account, _model = setup
    saturday = cyclekit.AT + timedelta(days=3)          # Saturday 10:00 UTC
    outcome = cycle_run(account.pk, at=saturday, feature_set=cyclekit.FEATURES)
    assert outcome.status == "market_closed"
    assert Signal.objects.count() == 0


def test_stale_data_records_a_hold_with_the_reason_and_trades_nothing(setup):
    account, model = setup
    after_the_data = cyclekit.AT.replace(month=5, day=8)   # stored bars end on May 1
    outcome = cycle_run(account.pk, at=after_the_data, feature_set=cyclekit.FEATURES)
    signal = Signal.objects.get(account=account)
    assert (outcome.status, signal.decision, signal.model_id) == ("hold_stale_data", "HOLD",
                                                                   model.pk)
    assert signal.reason.startswith("stale_data") and Order.objects.count() == 0


def test_a_second_cycle_on_a_locked_account_is_skipped(setup):
    from trading.cycle.lock import account_lock

    account, _model = setup
    with account_lock(account.pk) as held:
        assert held.acquired
        outcome = cycle_run(account.pk, at=cyclekit.AT, feature_set=cyclekit.FEATURES)
    assert outcome.status == "skipped_locked" and Signal.objects.count() == 0


def test_a_past_clock_is_refused_for_a_live_account(setup):
    from nusatrade.errors import DataError
    from trading.services import account_create

    account = account_create("trader", name="live", broker="mt5")
    with pytest.raises(DataError, match="not a paper account"):
        cycle_run(account.pk, at=cyclekit.AT)
    with pytest.raises(DataError, match="timezone-aware"):
        cycle_run(setup[0].pk, at=cyclekit.AT.replace(tzinfo=None))
