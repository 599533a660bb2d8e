"""Order validation at the edge (RELIABILITY 12, 13): pure, no database."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.helpers import ROOT, clean_env
from trading.brokers.base import OrderSide, Tick
from trading.tests.fakes import XAUUSD
from trading.validation import (
    OrderInvalid,
    OrderRequest,
    check_order_against_market,
    parse_order_request,
)

TICK = Tick("XAUUSD", datetime(2026, 1, 5, tzinfo=UTC), Decimal("2350.00"), Decimal("2350.30"))


@pytest.mark.parametrize(("volume", "message"), [
    (0, "greater than zero"), ("-0.01", "greater than zero"), ("NaN", "finite"),
    (float("nan"), "finite"), ("inf", "finite"), ("abc", "not a number"),
    (None, "required"), ("", "required"), (True, "must be a number"),
])
def test_bad_volume_is_refused_by_name(volume, message):
    with pytest.raises(OrderInvalid) as caught:
        parse_order_request("XAUUSD", "BUY", volume)
    assert list(caught.value.errors) == ["volume"]
    assert message in caught.value.errors["volume"]


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(OrderInvalid) as caught:
        parse_order_request("", "HOLD", "x", sl="nan", tp=-1)
    assert set(caught.value.errors) == {"symbol", "side", "volume", "sl", "tp"}
    assert "symbol: is required" in str(caught.value)


def test_good_request_is_typed():
    request = parse_order_request(" xauusd ", "buy", "0.01", sl="2340.00", tp=2360.5)
    assert request == OrderRequest("XAUUSD", OrderSide.BUY, Decimal("0.01"),
                                   Decimal("2340.00"), Decimal("2360.5"))


@pytest.mark.parametrize(("volume", "message"), [
    ("1e9", "above the maximum"), ("0.015", "not on the volume step"),
    ("0.001", "below the minimum"), ("101", "above the maximum"),
])
def test_volume_against_the_brokers_spec(volume, message):
    request = parse_order_request("XAUUSD", "BUY", volume)
    with pytest.raises(OrderInvalid, match=message):
        check_order_against_market(request, XAUUSD, TICK)


@pytest.mark.parametrize(("side", "sl", "tp", "field", "message"), [
    ("BUY", "2351", None, "sl", "wrong side"),          # a long's SL above the bid
    ("BUY", None, "2349", "tp", "wrong side"),          # a long's TP below the bid
    ("SELL", "2350.10", None, "sl", "wrong side"),      # a short's SL below the ask
    ("SELL", None, "2351", "tp", "wrong side"),         # a short's TP above the ask
    ("BUY", "2349.80", None, "sl", "inside the stops level"),   # 20 points < 50
    ("SELL", None, "2350.00", "tp", "inside the stops level"),  # 30 points below the ask
    ("BUY", "2340.001", None, "sl", "more than 2 decimals"),
])
def test_stops_on_the_wrong_side_or_too_close_are_refused(side, sl, tp, field, message):
    request = parse_order_request("XAUUSD", side, "0.01", sl=sl, tp=tp)
    with pytest.raises(OrderInvalid) as caught:
        check_order_against_market(request, XAUUSD, TICK)
    assert message in caught.value.errors[field]


def test_stops_far_enough_on_the_right_side_pass():
    for side, sl, tp in (("BUY", "2349.50", "2350.50"), ("SELL", "2350.80", "2349.80")):
        request = parse_order_request("XAUUSD", side, "0.02", sl=sl, tp=tp)
        check_order_against_market(request, XAUUSD, TICK)   # no error


def test_validation_module_is_pure():
    code = ("import sys, trading.validation; "
            "sys.exit(1 if any(m.split('.')[0] == 'django' for m in sys.modules) else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
