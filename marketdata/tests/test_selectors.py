"""load_bars and bars_range: the bars convention, ranges, marking, on either database."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketdata import calendar
from marketdata.models import ImportRun, QuarantinedRow
from marketdata.selectors import bars_range, import_run_list, load_bars, quarantined_row_list
from marketdata.services import bars_upsert
from marketdata.tests.helpers import bars_frame
from nusatrade.errors import DataError

pytestmark = pytest.mark.django_db
FRAME = ("open", "high", "low", "close", "volume", "spread")


@pytest.fixture
def stored() -> pd.DataFrame:
    frame = bars_frame(calendar.expected_times("2024-03-04", "2024-03-09", "H1"))
    frame["spread"] = frame["spread"].where(frame.index.hour != 5)  # some unknown spreads
    bars_upsert("XAUUSD", "H1", frame)
    return frame


def test_load_bars_returns_the_bars_convention(stored):
    frame = load_bars("XAUUSD", "H1")
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "spread"]
    assert (frame.dtypes == "float64").all()
    assert frame.index.name == "time" and str(frame.index.tz) == "UTC"
    assert frame.index.is_monotonic_increasing and frame.index.equals(stored.index)
    pd.testing.assert_frame_equal(frame, stored[frame.columns], check_freq=False)
    assert frame.attrs == {"synthetic": False}


def test_start_and_end_are_both_inclusive_and_naive_means_utc(stored):
    frame = load_bars("XAUUSD", "H1", start="2024-03-05 10:00", end="2024-03-05 12:00")
    assert [f"{t:%d %H:%M}" for t in frame.index] == ["05 10:00", "05 11:00", "05 12:00"]
    aware = load_bars("XAUUSD", "H1", start=pd.Timestamp("2024-03-05 12:00", tz="Etc/GMT-2"),
                      end=pd.Timestamp("2024-03-05 10:00", tz="UTC"))
    assert [f"{t:%d %H:%M}" for t in aware.index] == ["05 10:00"]


def test_other_series_are_not_mixed_in(stored):
    bars_upsert("XAUUSD", "M15", bars_frame(calendar.expected_times("2024-03-04", "2024-03-05",
                                                                    "M15")))
    bars_upsert("EURUSD", "H1", bars_frame(stored.index[:3], price=1.1e3))
    assert len(load_bars("XAUUSD", "H1")) == len(stored)
    assert len(load_bars("eurusd", "h1")) == 3


def test_an_empty_series_is_an_empty_frame_with_the_columns():
    frame = load_bars("EURUSD", "D1")
    assert frame.empty and list(frame.columns) == ["open", "high", "low", "close", "volume",
                                                   "spread"]
    assert str(frame.index.tz) == "UTC" and frame.attrs["synthetic"] is False
    assert bars_range("EURUSD", "D1") == (None, None, 0)


def test_any_synthetic_bar_marks_the_frame(stored):
    later = bars_frame(calendar.expected_times("2024-03-11", "2024-03-12", "H1"))
    bars_upsert("XAUUSD", "H1", later, synthetic=True)
    assert load_bars("XAUUSD", "H1").attrs["synthetic"] is True
    assert load_bars("XAUUSD", "H1", end="2024-03-09").attrs["synthetic"] is False


def test_unknown_symbols_and_timeframes_are_errors():
    with pytest.raises(DataError, match="unknown symbol 'XAGUSD'"):
        load_bars("XAGUSD", "H1")
    with pytest.raises(ValueError, match="unknown timeframe"):
        load_bars("XAUUSD", "W1")
    with pytest.raises(DataError):
        bars_range("XAGUSD", "H1")


def test_bars_range_gives_first_last_and_count(stored):
    first, last, count = bars_range("XAUUSD", "H1")
    assert (first, last, count) == (stored.index[0], stored.index[-1], len(stored))


def test_loaded_prices_are_the_stored_decimals(stored):
    bars_upsert("EURUSD", "H1", pd.DataFrame(
        {"open": [1.085431], "high": [1.0855], "low": [1.0853], "close": [1.08549],
         "volume": [3.0]}, index=pd.DatetimeIndex(["2024-03-04 09:00"], tz="UTC", name="time")))
    assert load_bars("EURUSD", "H1")["open"].tolist() == [1.085431]


def test_import_runs_and_their_quarantine_are_listed_in_order():
    run = ImportRun.objects.create(path="/x/a.csv", name="a.csv", instrument_id=1,
                                   timeframe="H1")
    for line in (9, 3):
        QuarantinedRow.objects.create(import_run=run, line=line, reason="out of order")
    assert import_run_list() == [run]
    assert [r.line for r in quarantined_row_list(run)] == [3, 9]


@pytest.mark.services("postgres")
def test_postgres_copy_path_works_under_the_debug_cursor(stored):
    # DEBUG=True wraps cursors in CursorDebugWrapper, whose copy() takes no parameters.
    with CaptureQueriesContext(connection):
        frame = load_bars("XAUUSD", "H1", start="2024-03-05")
    assert frame.index[0] == pd.Timestamp("2024-03-05", tz="UTC")
    assert np.isnan(frame.loc["2024-03-05 05:00", "spread"])


@pytest.mark.services("postgres")
def test_postgres_windows_cover_a_long_range_exactly(stored, monkeypatch):
    monkeypatch.setattr("marketdata.selectors.WINDOW_BARS", 7)
    pd.testing.assert_frame_equal(load_bars("XAUUSD", "H1"), stored[list(FRAME)],
                                  check_freq=False)
    part = load_bars("XAUUSD", "H1", start=stored.index[3], end=stored.index[40])
    assert part.index.equals(stored.index[3:41])


@pytest.mark.services("postgres")
def test_postgres_numerics_decode_exactly_as_the_server_casts_them():
    rng = np.random.default_rng(11)
    prices = np.array([round(x, int(d)) for x, d in zip(rng.uniform(0.001, 99_999.0, 500),
                                                          rng.integers(1, 7, 500), strict=True)])
    index = pd.date_range("2024-03-04", periods=500, freq="1min", tz="UTC", name="time")
    bars_upsert("EURUSD", "M1", pd.DataFrame({"open": prices, "high": prices, "low": prices,
                                              "close": prices, "volume": 1.0}, index=index))
    with connection.cursor() as cursor:
        cursor.execute("SELECT open::float8 FROM marketdata_bar WHERE timeframe = 'M1' "
                       "ORDER BY time")
        server = [row[0] for row in cursor.fetchall()]
    assert load_bars("EURUSD", "M1")["open"].tolist() == server
