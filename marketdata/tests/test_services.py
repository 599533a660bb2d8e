"""bars_upsert and bars_import against the database (SQLite by default, PostgreSQL when set)."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from django.db import connection, connections

from marketdata import calendar
from marketdata.models import Bar, ImportRun, QuarantinedRow
from marketdata.selectors import load_bars
from marketdata.services import bars_import, bars_upsert, upsert
from marketdata.tests.helpers import bars_frame, frame_to_mt5, write
from nusatrade.errors import DataError

pytestmark = pytest.mark.django_db


def week(start: str = "2024-03-04", end: str = "2024-03-09") -> pd.DatetimeIndex:
    """Every H1 bar a complete feed has between ``start`` and ``end`` (UTC)."""
    return calendar.expected_times(start, end, "H1")


# --- bars_upsert ------------------------------------------------------------------------------

def test_upsert_inserts_then_leaves_identical_bars_alone():
    frame = bars_frame(week())
    first = bars_upsert("EURUSD", "H1", frame)
    second = bars_upsert("EURUSD", "H1", frame)
    assert (first.inserted, first.unchanged, len(first.conflicts)) == (len(frame), 0, 0)
    assert (second.inserted, second.unchanged, len(second.conflicts)) == (0, len(frame), 0)
    assert Bar.objects.filter(timeframe="H1").count() == len(frame)


def test_upsert_merges_an_overlapping_frame():
    times = week()
    bars_upsert("EURUSD", "H1", bars_frame(times)[:60])
    result = bars_upsert("EURUSD", "H1", bars_frame(times)[40:])
    assert (result.inserted, result.unchanged) == (len(times) - 60, 20)
    stored = load_bars("EURUSD", "H1")
    pd.testing.assert_frame_equal(stored[["open", "high", "low", "close"]],
                                  bars_frame(times)[["open", "high", "low", "close"]],
                                  check_freq=False, check_index_type=False)


def test_upsert_never_overwrites_a_stored_bar_with_other_values():
    frame = bars_frame(week()[:10])
    bars_upsert("XAUUSD", "H1", frame)
    changed = frame.copy()
    changed.loc[changed.index[3], "close"] = changed["close"].iloc[3] + 0.5
    changed.loc[changed.index[3], "high"] = changed["high"].iloc[3] + 1
    changed.loc[changed.index[5], "volume"] = 1.0
    result = bars_upsert("XAUUSD", "H1", changed)
    assert (result.inserted, result.unchanged) == (0, 8)
    assert list(result.conflicts.index) == [frame.index[3], frame.index[5]]
    assert result.conflicts["stored_close"].iloc[0] == frame["close"].iloc[3]
    assert result.conflicts["close"].iloc[0] == frame["close"].iloc[3] + 0.5
    assert load_bars("XAUUSD", "H1")["close"].iloc[3] == frame["close"].iloc[3]


def test_upsert_quarantines_conflicts_under_the_run_it_is_given():
    frame = bars_frame(week()[:4])
    bars_upsert("XAUUSD", "H1", frame)
    run = ImportRun.objects.create(path="feed", name="feed", instrument_id=1, timeframe="H1")
    bars_upsert("XAUUSD", "H1", frame.assign(spread=30.0), import_run=run)
    rows = list(run.quarantined_rows.all())
    assert [r.reason for r in rows] == ["conflicts with stored bar"] * 4
    assert rows[0].line is None and "spread stored 25, here 30" in rows[0].detail


def test_upsert_stores_unknown_spread_as_null_and_marks_synthetic_bars():
    frame = bars_frame(week()[:3]).assign(spread=[25.0, np.nan, 31.0])
    bars_upsert("EURUSD", "H1", frame, synthetic=True)
    assert list(Bar.objects.order_by("time").values_list("spread", "synthetic")) == [
        (25, True), (None, True), (31, True)]
    loaded = load_bars("EURUSD", "H1")
    assert loaded.attrs["synthetic"] is True and np.isnan(loaded["spread"].iloc[1])


def test_upsert_refuses_a_bad_frame_and_stores_nothing():
    frame = bars_frame(week()[:3])
    frame.loc[frame.index[1], "low"] = frame["high"].iloc[1] + 1
    with pytest.raises(DataError, match="low above min"):
        bars_upsert("EURUSD", "H1", frame)
    assert not Bar.objects.exists()


def test_upsert_of_an_unknown_symbol_names_the_known_ones():
    with pytest.raises(DataError, match="unknown symbol 'BTCUSD' \\(known: EURUSD, XAUUSD"):
        bars_upsert("BTCUSD", "H1", bars_frame(week()[:1]))


def test_upsert_of_an_empty_frame_does_nothing():
    result = bars_upsert("EURUSD", "H1", bars_frame(week()[:0]))
    assert (result.inserted, result.unchanged, len(result.conflicts)) == (0, 0, 0)


# --- PostgreSQL paths ---------------------------------------------------------------------------

@pytest.mark.services("postgres")
def test_postgres_copy_path_falls_back_when_a_bar_appears_unannounced(monkeypatch):
    frame = bars_frame(week()[:20])
    bars_upsert("EURUSD", "H1", frame[5:6])
    # Pretend the range looked empty (a writer bypassing the lock): the direct COPY then hits
    # the primary key and the merge path must still give exact counts.
    monkeypatch.setattr(upsert, "_OVERLAP_SQL", "SELECT %s::int8 IS NULL AND %s::text IS NULL "
                        "AND %s::timestamptz IS NULL AND %s::timestamptz IS NULL")
    result = bars_upsert("EURUSD", "H1", frame)
    assert (result.inserted, result.unchanged, len(result.conflicts)) == (19, 1, 0)
    assert Bar.objects.count() == 20


@pytest.mark.services("postgres")
# Committed rows: the threads use their own connections.
@pytest.mark.django_db(transaction=True)
def test_postgres_concurrent_upserts_of_one_series_count_exactly():
    frame = bars_frame(week())
    results = []

    def store() -> None:
        try:
            results.append(bars_upsert("EURUSD", "H1", frame))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=store) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted((r.inserted, r.unchanged) for r in results) == [(0, len(frame)),
                                                                  (len(frame), 0)]
    assert Bar.objects.count() == len(frame)


# --- bars_import ------------------------------------------------------------------------------

def test_import_stores_bars_and_reports_every_row(tmp_path):
    frame = bars_frame(week())
    text = frame_to_mt5(frame).splitlines()
    text[5] = text[5].replace("\t25", "\t-25")             # negative spread (line 6)
    text.insert(10, text[9])                               # exact duplicate of line 10
    path = write(tmp_path, "eurusd.csv", "\n".join(text) + "\n")
    run = bars_import(path, "EURUSD", "H1")
    assert (run.rows_read, run.accepted, run.rejected, run.duplicates) == (
        len(frame) + 1, len(frame) - 1, 1, 1)
    assert run.inserted == len(frame) - 1 and run.rejected_by_reason == {
        "negative volume or spread": 1}
    row = QuarantinedRow.objects.get(import_run=run)
    assert (row.line, row.reason) == (6, "negative volume or spread")
    assert row.raw == text[5] and row.detail == "spread -25"
    assert run.first_bar == frame.index[0] and run.last_bar == frame.index[-1]
    assert run.min_price == pytest.approx(frame["low"].drop(frame.index[4]).min())
    assert run.status == ImportRun.Status.SUCCEEDED and run.duration is not None


def test_reimporting_the_same_file_changes_nothing(tmp_path):
    path = write(tmp_path, "a.csv", frame_to_mt5(bars_frame(week())))
    first = bars_import(path, "EURUSD", "H1")
    before = list(Bar.objects.order_by("time").values_list("time", "close", "tick_volume"))
    second = bars_import(path, "EURUSD", "H1")
    assert (second.inserted, second.unchanged, second.rejected) == (0, first.inserted, 0)
    assert list(Bar.objects.order_by("time").values_list("time", "close",
                                                         "tick_volume")) == before


def test_overlapping_files_merge(tmp_path):
    frame = bars_frame(week("2024-03-04", "2024-03-16"))
    a, b = frame[:150], frame[100:]
    bars_import(write(tmp_path, "a.csv", frame_to_mt5(a)), "EURUSD", "H1")
    run = bars_import(write(tmp_path, "b.csv", frame_to_mt5(b)), "EURUSD", "H1")
    assert (run.inserted, run.unchanged) == (len(b) - 50, 50)
    assert Bar.objects.count() == len(frame)


def test_a_row_that_contradicts_a_stored_bar_is_quarantined_not_stored(tmp_path):
    frame = bars_frame(week()[:10])
    bars_import(write(tmp_path, "a.csv", frame_to_mt5(frame)), "EURUSD", "H1")
    changed = frame.copy()
    changed.loc[changed.index[2], "volume"] = 7.0
    run = bars_import(write(tmp_path, "b.csv", frame_to_mt5(changed)), "EURUSD", "H1")
    assert (run.accepted, run.unchanged, run.rejected) == (9, 9, 1)
    row = run.quarantined_rows.get()
    assert (row.line, row.reason) == (4, "conflicts with stored bar")
    assert "tick_volume" not in row.detail and "volume stored" in row.detail
    assert Bar.objects.get(time=frame.index[2]).tick_volume == int(frame["volume"].iloc[2])


def test_broker_time_is_converted_with_tz(tmp_path):
    frame = bars_frame(week()[:5])
    path = write(tmp_path, "a.csv", frame_to_mt5(frame, shift=pd.Timedelta(hours=2)))
    run = bars_import(path, "EURUSD", "H1", tz="UTC+2")
    assert "read as UTC+2" in run.tz_assumption
    assert list(load_bars("EURUSD", "H1").index) == list(frame.index)


def test_mt5_without_tz_states_the_utc_assumption(tmp_path):
    run = bars_import(write(tmp_path, "a.csv", frame_to_mt5(bars_frame(week()[:2]))),
                      "EURUSD", "H1")
    assert "broker's server time" in run.tz_assumption and "ASSUMED" in run.tz_assumption


def test_histdata_defaults_to_est_without_daylight_saving(tmp_path):
    text = "20240704 090000;1.1;1.2;1.0;1.15;0\n20240704 090100;1.15;1.2;1.1;1.12;0\n"
    run = bars_import(write(tmp_path, "h.csv", text), "EURUSD", "M1")
    assert run.tz == "UTC-5" and "EST without daylight saving" in run.tz_assumption
    assert load_bars("EURUSD", "M1").index[0] == pd.Timestamp("2024-07-04 14:00", tz="UTC")


def test_gaps_count_missing_trading_hours_but_not_weekends(tmp_path):
    times = week("2024-03-04", "2024-03-16")  # two weeks, one weekend inside
    missing = [pd.Timestamp("2024-03-12 10:00", tz="UTC"),
               pd.Timestamp("2024-03-12 11:00", tz="UTC")]
    frame = bars_frame(times.drop(missing))
    run = bars_import(write(tmp_path, "a.csv", frame_to_mt5(frame)), "EURUSD", "H1")
    assert (run.gap_count, run.missing_bars) == (1, 2)
    assert run.gaps == [{"start": "2024-03-12T10:00:00+00:00", "end": "2024-03-12T12:00:00+00:00",
                         "missing_bars": 2, "hours": 2.0}]


def test_configured_holidays_are_not_gaps(tmp_path, settings):
    times = week("2024-03-04", "2024-03-09")
    # The trading day of Wed 2024-03-06 runs Tue 22:00 -> Wed 22:00 UTC.
    day = (times >= "2024-03-05 22:00") & (times < "2024-03-06 22:00")
    path = write(tmp_path, "a.csv", frame_to_mt5(bars_frame(times[~day])))
    assert bars_import(path, "EURUSD", "H1").gap_count == 1
    settings.MARKET_HOLIDAYS = ["2024-03-06"]
    Bar.objects.all().delete()
    assert bars_import(path, "EURUSD", "H1").gap_count == 0


def test_daily_bars_of_a_broker_off_utc_are_gap_checked_on_its_clock(tmp_path):
    frame = bars_frame(calendar.expected_times("2024-03-04", "2024-03-16", "D1"))
    path = write(tmp_path, "d1.csv", frame_to_mt5(frame))
    run = bars_import(path, "EURUSD", "D1", tz="NY+7")
    assert run.rejected == 0 and run.gap_count == 0
    assert load_bars("EURUSD", "D1").index[0] == pd.Timestamp("2024-03-03 22:00", tz="UTC")
    assert "gaps measured on the file's own clock" in " ".join(run.notes)


def test_an_unreadable_file_leaves_the_database_unchanged(tmp_path, caplog):
    bars_import(write(tmp_path, "a.csv", frame_to_mt5(bars_frame(week()[:5]))), "EURUSD", "H1")
    before = (Bar.objects.count(), QuarantinedRow.objects.count(), ImportRun.objects.count())
    with pytest.raises(DataError, match="the file is empty") as caught:
        bars_import(write(tmp_path, "empty.csv", b""), "EURUSD", "H1")
    assert (Bar.objects.count(), QuarantinedRow.objects.count(),
            ImportRun.objects.count()) == before
    assert "empty.csv" in str(caught.value)
    # Raised, not also logged: the caller reports it once (import_bars printed it twice).
    assert "the file is empty" not in caplog.text


def test_a_failure_while_storing_rolls_the_whole_import_back(tmp_path, monkeypatch):
    text = frame_to_mt5(bars_frame(week()[:5])) + "garbage\n"

    def broken(run, rejections):
        raise DataError("disk full")

    monkeypatch.setattr("marketdata.services.imports.quarantine_rows", broken)
    with pytest.raises(DataError, match="disk full"):
        bars_import(write(tmp_path, "a.csv", text), "EURUSD", "H1")
    assert not Bar.objects.exists() and not QuarantinedRow.objects.exists()
    assert not ImportRun.objects.exists()


def test_bad_arguments_record_nothing(tmp_path):
    path = write(tmp_path, "a.csv", frame_to_mt5(bars_frame(week()[:2])))
    with pytest.raises(ValueError, match="unknown time zone"):
        bars_import(path, "EURUSD", "H1", tz="Mars/Base")
    with pytest.raises(ValueError, match="unknown timeframe"):
        bars_import(path, "EURUSD", "H2")
    with pytest.raises(DataError, match="unknown symbol"):
        bars_import(path, "DOGEUSD", "H1")
    assert not ImportRun.objects.exists()


def test_progress_is_reported_per_stage(tmp_path):
    frame = bars_frame(week())
    seen: dict[str, list] = {}

    class Recorder:
        def __init__(self, description: str, total: int) -> None:
            self.log = seen.setdefault(description, [total])

        def update(self, n: int) -> None:
            self.log.append(n)

        def close(self) -> None:
            self.log.append("closed")

    bars_import(write(tmp_path, "a.csv", frame_to_mt5(frame)), "EURUSD", "H1",
                progress=Recorder)
    assert seen["reading"][0] == len(frame) + 1 and sum(seen["reading"][1:-1]) == len(frame)
    assert seen["storing"][0] == len(frame) and sum(seen["storing"][1:-1]) == len(frame)
    assert seen["reading"][-1] == seen["storing"][-1] == "closed"


def test_vendor_paths_agree_on_what_is_stored(tmp_path):
    frame = bars_frame(week(), price=1085.43, seed=3)
    prices = ["open", "high", "low", "close"]
    frame[prices] = (frame[prices] / 1000).round(5)
    bars_upsert("EURUSD", "H1", frame)
    stored = Bar.objects.order_by("time").first()
    assert str(stored.open) == f"{frame['open'].iloc[0]:.6f}"
    assert connection.vendor in ("sqlite", "postgresql")
