"""PaperBroker: the stored series continued deterministically, closed bars only."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from marketdata import calendar
from marketdata.synthetic import generate_range
from nusatrade.errors import BrokerError
from trading.brokers.base import InstrumentSpec
from trading.brokers.mt5sim import XAUUSD_SPEC
from trading.brokers.paper import PaperBroker

SPECS = {"XAUUSD": XAUUSD_SPEC}
STORED = generate_range("2024-02-01", "2024-03-01", "H1", seed=3, start_price=2000.0)


def at(stamp: str):
    moment = pd.Timestamp(stamp, tz="UTC").to_pydatetime()
    return lambda: moment


class Store:
    """An in-memory bar store: the history loader plus what a fetch would upsert."""

    def __init__(self, frame: pd.DataFrame | None = None) -> None:
        self.frame = frame if frame is not None else STORED.iloc[:0]

    def history(self, symbol: str, timeframe: str, until: pd.Timestamp,
                count: int) -> pd.DataFrame:
        return self.frame[self.frame.index <= until].tail(count + 5)

    def upsert(self, bars: pd.DataFrame) -> None:
        new = bars[~bars.index.isin(self.frame.index)]
        overlap = bars[bars.index.isin(self.frame.index)]
        pd.testing.assert_frame_equal(overlap, self.frame.loc[overlap.index],
                                      check_index_type=False)  # never a conflict
        self.frame = pd.concat([self.frame, new]).sort_index()


def broker(store: Store | None, when: str, **options) -> PaperBroker:
    return PaperBroker(SPECS, history=store.history if store else None, clock=at(when),
                       **options)


def test_the_forming_bar_is_never_returned():
    bars = broker(Store(STORED), "2024-03-05 10:30").latest_closed_bars("XAUUSD", "H1", 5)
    assert bars.index[-1] == pd.Timestamp("2024-03-05 09:00", tz="UTC")
    at_open = broker(Store(STORED), "2024-03-05 10:00").latest_closed_bars("XAUUSD", "H1", 5)
    assert at_open.index[-1] == pd.Timestamp("2024-03-05 09:00", tz="UTC")


def test_the_feed_continues_the_stored_series_on_the_calendar():
    bars = broker(Store(STORED), "2024-03-05 10:30").latest_closed_bars("XAUUSD", "H1", 200)
    old, new = bars[bars.index <= STORED.index[-1]], bars[bars.index > STORED.index[-1]]
    pd.testing.assert_frame_equal(old, STORED.tail(len(old)), check_index_type=False)
    assert new["open"].iloc[0] == STORED["close"].iloc[-1]
    expected = calendar.expected_times(STORED.index[-1] + pd.Timedelta(hours=1),
                                       "2024-03-05 10:00", "H1",
                                       calendar.default_holidays(2023, 2025))
    assert new.index.equals(expected)
    assert (new["high"] >= new[["open", "close"]].max(axis=1)).all()


def test_stored_bars_up_to_the_last_closed_one_are_served_as_stored():
    store = Store(STORED)
    bars = broker(store, "2024-02-20 15:10").latest_closed_bars("XAUUSD", "H1", 10)
    pd.testing.assert_frame_equal(bars, STORED.loc[:"2024-02-20 14:00"].tail(10),
                                  check_index_type=False)


def test_a_later_clock_repeats_every_bar_already_served():
    first = broker(Store(STORED), "2024-03-05 10:30").latest_closed_bars("XAUUSD", "H1", 100)
    later = broker(Store(STORED), "2024-03-12 16:45").latest_closed_bars("XAUUSD", "H1", 300)
    overlap = first.index.intersection(later.index)
    assert len(overlap) > 50
    pd.testing.assert_frame_equal(first.loc[overlap], later.loc[overlap])


def test_storing_and_fetching_again_hour_by_hour_never_conflicts():
    store = Store(STORED)
    clocks = pd.date_range("2024-03-04 09:20", periods=40, freq="37min", tz="UTC")
    for clock in clocks:
        store.upsert(broker(store, str(clock)).latest_closed_bars("XAUUSD", "H1", 24))
    assert store.frame.index[-1] == calendar.last_closed_bar(clocks[-1], "H1")
    assert not store.frame.index.has_duplicates


def test_without_history_the_series_starts_at_the_typical_price_deterministically():
    a = broker(None, "2024-05-07 13:05").latest_closed_bars("XAUUSD", "H1", 48)
    b = broker(None, "2024-05-07 13:05").latest_closed_bars("XAUUSD", "H1", 48)
    assert len(a) == 48 and a.index[-1] == pd.Timestamp("2024-05-07 12:00", tz="UTC")
    pd.testing.assert_frame_equal(a, b)
    assert 1000 < a["close"].iloc[-1] < 4000


def test_over_the_weekend_the_last_bar_is_fridays():
    bars = broker(Store(STORED), "2024-03-09 12:00").latest_closed_bars("XAUUSD", "H1", 3)
    assert bars.index[-1] == pd.Timestamp("2024-03-08 21:00", tz="UTC")


@pytest.mark.parametrize("timeframe", ["M15", "H4", "D1"])
def test_other_timeframes_are_closed_and_aligned(timeframe):
    bars = broker(None, "2024-05-07 13:05").latest_closed_bars("XAUUSD", timeframe, 20)
    delta = pd.Timedelta(minutes={"M15": 15, "H4": 240, "D1": 1440}[timeframe])
    assert len(bars) == 20
    assert (bars.index + delta <= pd.Timestamp("2024-05-07 13:05", tz="UTC")).all()
    assert ((bars.index - bars.index.floor(delta)) == pd.Timedelta(0)).all()


def test_symbol_info_and_unknown_symbols():
    paper = broker(None, "2024-05-07 13:05")
    assert paper.symbol_info("XAUUSD") == XAUUSD_SPEC
    assert isinstance(paper.symbol_info("XAUUSD"), InstrumentSpec)
    with pytest.raises(BrokerError, match="unknown symbol"):
        paper.latest_closed_bars("NOPE", "H1", 5)


def test_the_paper_feed_is_marked_synthetic():
    assert PaperBroker.synthetic is True and PaperBroker.name == "paper"


def test_default_clock_is_the_wall_clock():
    bars = PaperBroker(SPECS).latest_closed_bars("XAUUSD", "H1", 2)
    assert (bars.index + pd.Timedelta(hours=1) <= datetime.now(UTC)).all()
