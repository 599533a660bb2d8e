"""The cycle and the automatic stops: after managing positions the cycle enforces the stops
(the entry then meets the engaged switch), and a cycle that fails is a critical error counted
by the "repeated critical errors" stop."""

from __future__ import annotations

from datetime import timedelta

import pytest

from trading.cycle.run import cycle_run
from trading.models import Order, OrderPurpose, Position, RiskPolicy, Signal, TradingError
from trading.services import manual_key, order_place, paper_broker_at, position_close
from trading.services.killswitches import engaged_for
from trading.tests import cyclekit

pytestmark = [pytest.mark.django_db, pytest.mark.services("postgres")]


@pytest.fixture
def setup(db, settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    from mlops.services import clear_estimator_cache

    clear_estimator_cache()
    cyclekit.store_bars()
    model = cyclekit.active_model()
    return cyclekit.paper_account(), model


def test_the_cycle_engages_a_stop_before_its_entry(setup):
    account, _model = setup
    day_before = cyclekit.AT - timedelta(days=1) + timedelta(minutes=30)
    for n in range(2):   # two losing trades (closed at once: the costs) the day before
        at = day_before + timedelta(hours=n)
        order = order_place(account.pk, idempotency_key=manual_key(account.pk, f"l{n}"),
                            symbol="XAUUSD", side="BUY", volume="0.01",
                            broker=paper_broker_at(account, at)).order
        position_close(Position.objects.get(opening_order=order).pk,
                       broker=paper_broker_at(account, at))
    assert engaged_for("account", account_id=account.pk) is None   # 2 < the default 5
    RiskPolicy.objects.filter(account=account).update(max_consecutive_losses=2)  # tightened
    outcome = cycle_run(account.pk, at=cyclekit.AT, feature_set=cyclekit.FEATURES)
    switch = engaged_for("account", account_id=account.pk)
    assert switch is not None and outcome.engaged_switches == [switch.pk]
    assert switch.rule == "consecutive_losses" and outcome.to_dict()["engaged_switches"]
    entries = Order.objects.filter(account=account, purpose=OrderPurpose.OPEN,
                                   signal__isnull=False)
    # The cycle asks the gate before it quotes: a refused entry leaves no order row, only
    # the refusal (with the stop's rule) on its signal; the broker is never called.
    assert not entries.exists()
    if outcome.decision in ("BUY", "SELL"):
        signal = Signal.objects.get(pk=outcome.signal_id)
        assert "consecutive_losses" in signal.reason and outcome.order_status == "refused"


class BrokenFeatureSet:
    """A feature set that fails inside the cycle (a bug in the trading path)."""

    @property
    def lookback_bars(self) -> int:
        raise RuntimeError("feature set misconfigured")


def test_repeated_cycle_failures_engage_the_errors_stop(setup, settings):
    settings.KILL_SWITCH_ERRORS_MAX = 2
    account, _model = setup
    with pytest.raises(RuntimeError, match="feature set misconfigured"):
        cycle_run(account.pk, at=cyclekit.AT, feature_set=BrokenFeatureSet())
    assert TradingError.objects.get().where == "cycle"
    assert engaged_for("account", account_id=account.pk) is None
    with pytest.raises(RuntimeError):   # an hour later: outside the 15-minute window
        cycle_run(account.pk, at=cyclekit.AT + timedelta(hours=1),
                  feature_set=BrokenFeatureSet())
    assert engaged_for("account", account_id=account.pk) is None
    with pytest.raises(RuntimeError):   # the retry of that bar, 5 minutes on
        cycle_run(account.pk, at=cyclekit.AT + timedelta(hours=1, minutes=5),
                  feature_set=BrokenFeatureSet())
    switch = engaged_for("account", account_id=account.pk)
    assert switch.rule == "critical_errors"
    assert "last in cycle: RuntimeError: feature set misconfigured" in switch.reason


def test_a_failing_dry_run_is_not_counted(setup):
    account, _model = setup
    with pytest.raises(RuntimeError):
        cycle_run(account.pk, at=cyclekit.AT, dry_run=True, feature_set=BrokenFeatureSet())
    assert not TradingError.objects.exists()
