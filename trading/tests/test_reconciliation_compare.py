"""The pure comparison (no database, no broker): each difference, safe or not, by a table of
hand-made positions."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.helpers import ROOT, clean_env
from trading.brokers.base import BrokerDeal, BrokerPosition, DealEntry, DealReason, OrderSide
from trading.brokers.mt5sim import XAUUSD_SPEC
from trading.reconciliation import compare

D = Decimal
T = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
MAGIC = 7_402_611
OURS = compare.Ours(id=1, ticket=500, symbol="XAUUSD", side="BUY", volume=D("0.10"),
                    entry_price=D("2350.00"), sl=D("2340.00"), tp=D("2370.00"))


def theirs(**changes) -> BrokerPosition:
    fields = {"ticket": 500, "symbol": "XAUUSD", "side": OrderSide.BUY, "volume": D("0.10"),
              "price_open": D("2350.00"), "sl": D("2340.00"), "tp": D("2370.00"),
              "price_current": D("2352.50"), "profit": D("25.00"), "swap": D("0"),
              "magic": MAGIC, "client_id": "NTabc", "time": T}
    return BrokerPosition(**{**fields, **changes})


def found(**changes) -> list[tuple[str, str, bool]]:
    return [(f.kind, f.severity, f.safe)
            for f in compare.compare_open(OURS, theirs(**changes), XAUUSD_SPEC, D("0.10"))]


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, []),                                                          # in agreement
    ({"side": OrderSide.SELL, "profit": D("-25.00")}, [("side", "critical", False)]),
    ({"symbol": "EURUSD"}, [("side", "critical", False)]),
    ({"volume": D("0.05"), "profit": D("12.50")}, [("volume", "critical", False)]),
    ({"price_open": D("2350.10"), "profit": D("24.00")}, [("price", "warning", True)]),
    ({"sl": D("2345.00")}, [("sl_tp", "warning", True)]),             # moved: recorded
    ({"tp": None}, [("sl_tp", "warning", True)]),                     # TP removed: recorded
    ({"sl": None}, [("sl_tp", "critical", False)]),                   # SL removed: unprotected
    ({"profit": D("25.05")}, []),                                     # within the tolerance
    ({"profit": D("50.00")}, [("pnl", "critical", False)]),           # our money math differs
])
def test_an_open_position_against_the_brokers(changes, expected):
    assert found(**changes) == expected


def test_safe_findings_carry_the_brokers_values_to_record():
    [price] = compare.compare_open(OURS, theirs(price_open=D("2350.10"), profit=D("24.00")),
                                   XAUUSD_SPEC, D("0.10"))
    assert price.updates == {"entry_price": D("2350.10")} and price.fix
    [stops] = compare.compare_open(OURS, theirs(sl=D("2345.00"), tp=None), XAUUSD_SPEC,
                                   D("0.10"))
    assert stops.updates == {"sl": D("2345.00"), "tp": None}
    assert stops.expected["sl"] == "2340" and stops.found["sl"] == "2345"


def test_without_our_contract_facts_the_pnl_is_not_judged():
    assert compare.compare_open(OURS, theirs(profit=D("99")), None, D("0.10")) == []


@pytest.mark.parametrize(("magic", "client_id", "in_flight", "kind"), [
    (0, "by hand", {}, "foreign"),
    (12345, "NTother", {}, "foreign"),                    # another deployment's magic
    (MAGIC, "NTabc", {}, "adopted"),
    (MAGIC, "", {}, "adopted"),                           # ours by magic, comment cut
    (MAGIC, "NTabc", {"NTabc": 9}, "order_in_flight"),    # its sender is recording it
])
def test_a_broker_position_we_have_no_row_for(magic, client_id, in_flight, kind):
    finding = compare.unknown_position(theirs(magic=magic, client_id=client_id), MAGIC,
                                       in_flight)
    assert finding.kind == kind and finding.safe and finding.ticket == 500
    assert finding.fix is (kind == "adopted")


def deal(entry: DealEntry, profit: str, commission: str = "0", swap: str = "0") -> BrokerDeal:
    return BrokerDeal(ticket=1 if entry is DealEntry.IN else 2, order_ticket=3,
                      position_ticket=500, symbol="XAUUSD", side=OrderSide.BUY, entry=entry,
                      volume=D("0.10"), price=D("2350"), profit=D(profit),
                      commission=D(commission), swap=D(swap), fee=D("0"), magic=MAGIC,
                      client_id="NTabc", reason=DealReason.EXPERT, time=T)


DEALS = [deal(DealEntry.IN, "0", "-0.70"), deal(DealEntry.OUT, "25.00", "-0.70", "-1.10")]


@pytest.mark.parametrize(("gross", "net", "expected"), [
    ("25.00", "22.50", None),                     # 25.00 - 1.40 commission - 1.10 swap
    ("25.00", "25.00", ("costs", True)),          # costs never imported: safe to take them
    ("30.00", "27.50", ("pnl", False)),           # the gross differs: our math or prices
])
def test_a_closed_positions_money_against_its_deals(gross, net, expected):
    money = compare.ClosedMoney(1, 500, D(gross), D(net), T)
    finding = compare.compare_closed(money, DEALS, D("0.10"))
    assert (None if finding is None else (finding.kind, finding.safe)) == expected


def test_the_comparison_imports_no_django():
    code = ("import sys, trading.reconciliation.compare; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'django'); "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
