"""The retrain-every schedule (pure, no database): periods, sliding and expanding windows,
the purge + embargo gap before every traded segment, edges and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.retraining import (
    Period,
    RetrainPolicy,
    parse_period,
    retrain_schedule,
    segment_numbers,
)
from nusatrade.errors import DataError
from tests.test_architecture import test_pure_module_never_imports_django

UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def hourly(start: str = "2020-01-01", days: int = 600) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=24 * days, freq="h", tz=UTC)


def test_schedule_module_is_pure():
    test_pure_module_never_imports_django("backtests.retraining")


@pytest.mark.parametrize(("text", "count", "unit", "words"), [
    ("3M", 3, "M", "3 months"), ("6M", 6, "M", "6 months"), ("1Y", 1, "Y", "1 year"),
    ("2W", 2, "W", "2 weeks"), ("30D", 30, "D", "30 days"), (" 5Y ", 5, "Y", "5 years"),
])
def test_periods_parse(text, count, unit, words):
    period = parse_period(text)
    assert period == Period(count, unit)
    assert str(period) == f"{count}{unit}" and period.describe() == words


@pytest.mark.parametrize("text", ["", "3", "M", "0M", "3m", "-1M", "1.5M", "3 M", "3X",
                                  "M3", "3MM", "1001D", "03M"])
def test_bad_periods_are_refused_saying_what_is_accepted(text):
    with pytest.raises(DataError) as caught:
        parse_period(text)
    assert repr(text) in str(caught.value)
    assert "30D" in caught.value.reason or "at most" in caught.value.reason


def test_months_step_on_the_calendar_not_by_30_days():
    index = hourly("2020-01-01", 800)
    segments = retrain_schedule(index, ts("2021-01-31"), ts("2021-06-30 23:00"),
                                parse_period("1M"), "sliding", parse_period("6M"))
    # Jan 31 + 1 month = Feb 28 (pandas' month end clipping), + 2 months = Mar 31, ...
    assert [s.trade_start for s in segments][:3] == [ts("2021-01-31"), ts("2021-02-28"),
                                                     ts("2021-03-31")]


def test_sliding_window_trains_on_the_last_train_length_before_each_segment():
    index = hourly()
    segments = retrain_schedule(index, ts("2021-01-01"), ts("2021-05-14 23:00"),
                                parse_period("1M"), "sliding", parse_period("6M"), horizon=3)
    assert [s.trade_start for s in segments] == [ts(f"2021-0{m}-01") for m in range(1, 6)]
    assert [s.train_start for s in segments] == [ts("2020-07-01"), ts("2020-08-01"),
                                                 ts("2020-09-01"), ts("2020-10-01"),
                                                 ts("2020-11-01")]
    assert segments[-1].trade_end == ts("2021-05-14 23:00")  # the last one is partial
    for s in segments:
        # embargo defaults to the horizon: the last label (3 bars ahead) ends 3 bars before
        # the first traded bar.
        assert s.last_label == s.trade_start - pd.Timedelta(hours=7)
        assert s.train_end == s.last_label + pd.Timedelta(hours=3)
        assert s.train_end < s.trade_start
        assert s.trade_first - s.train_stop == 3


def test_sliding_window_accepts_a_timedelta_length():
    index = hourly()
    segments = retrain_schedule(index, ts("2021-01-01"), ts("2021-03-31 23:00"),
                                parse_period("1M"), "sliding", pd.Timedelta(days=10))
    assert segments[1].train_start == ts("2021-01-22")


def test_expanding_window_trains_from_the_origin_every_time():
    index = hourly(days=800)
    segments = retrain_schedule(index, ts("2021-01-01"), ts("2021-12-31 23:00"),
                                parse_period("3M"), "expanding", horizon=1,
                                origin=ts("2020-02-01"))
    assert len(segments) == 4
    assert {s.train_start for s in segments} == {ts("2020-02-01")}
    assert [s.train_bars for s in segments] == sorted(s.train_bars for s in segments)
    assert all(s.train_end == s.trade_start - pd.Timedelta(hours=2) for s in segments)


def test_segments_cover_the_period_exactly_once_in_order():
    index = hourly()
    start, end = ts("2021-01-10 05:00"), ts("2021-07-03 12:00")
    segments = retrain_schedule(index, start, end, parse_period("2W"), "sliding",
                                parse_period("30D"), horizon=24, embargo=30)
    traded = np.concatenate([np.arange(s.trade_first, s.trade_stop) for s in segments])
    expected = np.flatnonzero((index >= start) & (index <= end))
    assert np.array_equal(traded, expected)
    for s in segments:
        assert s.trade_first - s.train_stop == 30  # embargo bars neither trained nor traded
        # the splitter's rule: every training sample i satisfies i + horizon + embargo < first
        last_sample = index.get_loc(s.last_label)
        assert last_sample + 24 + 30 < s.trade_first
        assert index[last_sample + 24] == s.train_end


def test_a_calendar_period_without_bars_is_skipped():
    index = hourly()
    index = index[(index < ts("2021-02-01")) | (index >= ts("2021-03-01"))]  # February missing
    segments = retrain_schedule(index, ts("2021-01-01"), ts("2021-03-31 23:00"),
                                parse_period("1M"), "sliding", parse_period("3M"))
    assert [s.number for s in segments] == [1, 2]
    assert [s.trade_start for s in segments] == [ts("2021-01-01"), ts("2021-03-01")]


def test_nothing_to_train_on_before_the_first_segment_is_refused():
    index = hourly("2021-01-01", 100)
    with pytest.raises(DataError, match=r"segment 1 \(trading from 2021-01-01\): no bar to "
                                        r"train on") as caught:
        retrain_schedule(index, ts("2021-01-01"), ts("2021-03-01"), parse_period("1M"),
                         "sliding", parse_period("1M"))
    assert caught.value.column == "start"


def test_a_period_without_bars_is_refused():
    with pytest.raises(DataError, match="no bar from 2030-01-01"):
        retrain_schedule(hourly(), ts("2030-01-01"), ts("2030-06-01"), parse_period("1M"),
                         "sliding", parse_period("1M"))


@pytest.mark.parametrize(("kwargs", "column", "message"), [
    ({"window": "rolling"}, "window", "unknown window 'rolling'"),
    ({"window": "sliding", "train_length": None}, "train_length", "needs a training length"),
    ({"train_length": pd.Timedelta(0)}, "train_length", "must be positive"),
    ({"horizon": 0}, "horizon", "at least 1 bar"),
    ({"horizon": 5, "embargo": 2}, "horizon", "embargo (2) must be at least the label"),
])
def test_bad_schedule_arguments_are_refused_naming_them(kwargs, column, message):
    arguments = {"window": "sliding", "train_length": parse_period("3M"), **kwargs}
    with pytest.raises(DataError) as caught:
        retrain_schedule(hourly(), ts("2021-01-01"), ts("2021-06-01"), parse_period("1M"),
                         **arguments)
    assert caught.value.column == column and message in caught.value.reason


def test_a_naive_or_unsorted_index_is_refused():
    naive = pd.date_range("2020-01-01", periods=100, freq="h")
    with pytest.raises(DataError, match="timezone-aware"):
        retrain_schedule(naive, ts("2020-01-02"), ts("2020-01-03"), parse_period("1D"),
                         "expanding")
    shuffled = hourly("2020-01-01", 5)[::-1]
    with pytest.raises(DataError, match="strictly increasing"):
        retrain_schedule(shuffled, ts("2020-01-02"), ts("2020-01-03"), parse_period("1D"),
                         "expanding")


def test_policy_refuses_a_train_length_with_the_expanding_window():
    with pytest.raises(DataError, match="sliding window only") as caught:
        RetrainPolicy(parse_period("3M"), "expanding", parse_period("1Y"))
    assert caught.value.column == "window"
    policy = RetrainPolicy(parse_period("3M"), "sliding", parse_period("5Y"))
    assert RetrainPolicy.from_dict(policy.to_dict()) == policy


def test_segment_numbers_follow_the_first_traded_bars():
    index = hourly()
    segments = retrain_schedule(index, ts("2021-01-01"), ts("2021-03-31 23:00"),
                                parse_period("1M"), "sliding", parse_period("3M"))
    times = pd.DatetimeIndex([ts("2020-12-31"), ts("2021-01-01"), ts("2021-01-31 23:00"),
                              ts("2021-02-01"), ts("2021-03-31 23:00")])
    assert segment_numbers(times, segments).tolist() == [0, 1, 1, 2, 3]
