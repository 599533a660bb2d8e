"""Importers (pure): every format and encoding users really have, and exact line numbers."""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from marketdata.importers import base, detect_format, parse_file, parse_source, source_from_bytes
from marketdata.importers.rejections import Reason
from marketdata.tests.helpers import MT5_HEADER, hourly_rows, mt5_row, mt5_text, write
from nusatrade.errors import DataError


def times(parsed) -> list[str]:
    return [f"{t:%Y-%m-%d %H:%M}" for t in pd.DatetimeIndex(parsed.frame["time"])]


def reasons(parsed) -> dict[int, str]:
    return dict(zip(parsed.rejections["line"], parsed.rejections["reason"], strict=True))


# --- MetaTrader 5 ---------------------------------------------------------------------------

def test_mt5_export_in_utf16le_with_bom_and_crlf_is_read(tmp_path):
    text = mt5_text([mt5_row("2017-04-19 09:00", 1284.49, 1285.10, 1283.90, 1284.77, 1234, 35),
                     mt5_row("2017-04-19 10:00", 1284.77, 1286.00, 1284.00, 1285.50, 987, 31)],
                    newline="\r\n")
    path = write(tmp_path, "XAUUSD_H1.csv", b"\xff\xfe" + text.encode("utf-16-le"))
    parsed = parse_file(path)
    assert parsed.format == "mt5"
    assert parsed.source.encoding == "utf-16-le (BOM)"
    assert times(parsed) == ["2017-04-19 09:00", "2017-04-19 10:00"]
    row = parsed.frame.iloc[0]
    assert (row["line"], row["open"], row["high"], row["low"], row["close"]) == (
        2, 1284.49, 1285.10, 1283.90, 1284.77)
    assert (row["volume"], row["real_volume"], row["spread"]) == (1234, 0, 35)
    assert parsed.rejections.empty


def test_mt5_export_in_utf8_with_bom_is_read(tmp_path):
    text = mt5_text([mt5_row("2017-04-19 09:00", 1.5, 2.0, 1.0, 1.75)])
    parsed = parse_file(write(tmp_path, "a.csv", b"\xef\xbb\xbf" + text.encode()))
    assert parsed.source.encoding == "utf-8 (BOM)" and times(parsed) == ["2017-04-19 09:00"]


def test_mt5_daily_export_without_time_column_is_read(tmp_path):
    text = ("<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
            "2017.04.19\t1284.49\t1290.00\t1280.00\t1288.00\t50000\t0\t30\n")
    parsed = parse_file(write(tmp_path, "d1.csv", text))
    assert times(parsed) == ["2017-04-19 00:00"] and parsed.frame["close"].tolist() == [1288.0]


def test_mt5_export_resaved_by_a_spreadsheet_with_commas_is_read(tmp_path):
    text = MT5_HEADER.replace("\t", ",") + "\n2017.04.19,09:00,1.5,2,1,1.75,10,0,3\n"
    parsed = parse_file(write(tmp_path, "a.csv", text))
    assert parsed.format == "mt5" and times(parsed) == ["2017-04-19 09:00"]


def test_mt5_tick_export_is_refused_with_advice(tmp_path):
    text = "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\n2017.04.19\t09:00:00.123\t1\t2\t0\t0\n"
    with pytest.raises(DataError, match="tick export"):
        parse_file(write(tmp_path, "ticks.csv", text))


# --- HistData.com ---------------------------------------------------------------------------

def test_histdata_ascii_file_is_read_with_est_assumption(tmp_path):
    text = "20170419 090000;1.071250;1.071320;1.071180;1.071300;0\r\n" \
           "20170419 090100;1.071300;1.071400;1.071200;1.071350;0\r\n"
    parsed = parse_file(write(tmp_path, "DAT_ASCII_EURUSD_M1_2017.csv", text))
    assert parsed.format == "histdata"
    assert parsed.default_tz == "UTC-5" and "EST without daylight saving" in parsed.tz_note
    assert times(parsed) == ["2017-04-19 09:00", "2017-04-19 09:01"]
    assert parsed.frame["close"].tolist() == [1.0713, 1.07135]
    assert parsed.frame["line"].tolist() == [1, 2]


def test_histdata_zip_with_its_status_report_is_read(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("DAT_ASCII_EURUSD_M1_2017.csv", "20170419 090000;1.1;1.2;1.0;1.15;0\n")
        archive.writestr("DAT_ASCII_EURUSD_M1_2017.txt", "HistData.com status report")
    parsed = parse_file(write(tmp_path, "HISTDATA.zip", buffer.getvalue()))
    assert parsed.format == "histdata" and parsed.source.compression == "zip"
    assert parsed.rows_read == 1


# --- generic CSV ----------------------------------------------------------------------------

def test_generic_header_in_any_case_and_order_is_read(tmp_path):
    text = "VOLUME,close,Low,HIGH,Open,Time\n12,1.75,1.0,2.0,1.5,2017-04-19 09:00:00\n"
    parsed = parse_file(write(tmp_path, "g.csv", text))
    row = parsed.frame.iloc[0]
    assert parsed.format == "generic"
    assert (row["open"], row["high"], row["low"], row["close"], row["volume"]) == (
        1.5, 2.0, 1.0, 1.75, 12)


def test_generic_times_with_offsets_are_converted_to_utc(tmp_path):
    text = ("timestamp,open,high,low,close,volume\n"
            "2017-04-19T11:00:00+02:00,1.5,2,1,1.75,1\n2017-04-19T09:00:00Z,1.5,2,1,1.75,1\n")
    parsed = parse_file(write(tmp_path, "g.csv", text))
    assert parsed.time_is_utc and "own UTC offset" in parsed.tz_note
    assert times(parsed) == ["2017-04-19 09:00", "2017-04-19 09:00"]


def test_generic_separate_date_and_time_columns_are_combined(tmp_path):
    text = "Date;Time;Open;High;Low;Close;Volume\n2017.04.19;09:00;1.5;2;1;1.75;3\n"
    parsed = parse_file(write(tmp_path, "g.csv", text))
    assert times(parsed) == ["2017-04-19 09:00"]


def test_generic_day_first_dukascopy_times_are_detected(tmp_path):
    text = ("Gmt time,Open,High,Low,Close,Volume\n"
            "19.04.2017 09:00:00.000,1.5,2,1,1.75,10.5\n20.04.2017 09:00:00.000,1.5,2,1,1.75,3\n")
    parsed = parse_file(write(tmp_path, "g.csv", text))
    assert times(parsed) == ["2017-04-19 09:00", "2017-04-20 09:00"]
    assert "time format detected: %d.%m.%Y %H:%M:%S.%f" in parsed.notes


def test_generic_slash_dates_pick_the_reading_that_parses_every_row(tmp_path):
    # 13/04 only parses day-first, so the whole column is read day-first.
    text = ("time,open,high,low,close\n"
            "01/04/2017 09:00,1.5,2,1,1.75\n13/04/2017 09:00,1.5,2,1,1.75\n")
    parsed = parse_file(write(tmp_path, "g.csv", text))
    assert times(parsed) == ["2017-04-01 09:00", "2017-04-13 09:00"]
    assert "the file has no volume column: tick volume stored as 0" in parsed.notes
    assert parsed.frame["volume"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("stamp", ["1492592400", "1492592400000"])
def test_generic_unix_epoch_seconds_and_milliseconds_are_read(tmp_path, stamp):
    text = f"time,open,high,low,close,volume\n{stamp},1.5,2,1,1.75,1\n"
    assert times(parse_file(write(tmp_path, "g.csv", text))) == ["2017-04-19 09:00"]


def test_generic_semicolons_with_decimal_commas_are_read(tmp_path):
    text = "time;open;high;low;close;volume\n2017-04-19 09:00;1,5;2,25;1,0;1,75;3\n"
    parsed = parse_file(write(tmp_path, "g.csv", text))
    assert parsed.frame["high"].tolist() == [2.25]
    assert "decimal commas read as decimal points" in parsed.notes


def test_generic_tick_volume_and_vol_columns_map_like_mt5(tmp_path):
    text = "time,open,high,low,close,tick_volume,vol\n2017-04-19 09:00,1.5,2,1,1.75,40,7\n"
    row = parse_file(write(tmp_path, "g.csv", text)).frame.iloc[0]
    assert (row["volume"], row["real_volume"]) == (40, 7)


def test_generic_header_without_close_is_unreadable(tmp_path):
    with pytest.raises(DataError, match="names no close column"):
        parse_file(write(tmp_path, "g.csv", "time,open,high,low\n2017-04-19,1,2,0\n"),
                   fmt="generic")


# --- containers, encodings and line ends ------------------------------------------------------

def test_gzip_file_is_read(tmp_path):
    path = write(tmp_path, "a.csv.gz", mt5_text(hourly_rows("2024-03-04", 3)), compress=True)
    parsed = parse_file(path)
    assert parsed.source.compression == "gzip" and parsed.rows_read == 3


def test_utf16_without_bom_is_recognised(tmp_path):
    path = write(tmp_path, "a.csv", mt5_text(hourly_rows("2024-03-04", 2)), encoding="utf-16-le")
    parsed = parse_file(path)
    assert parsed.source.encoding == "utf-16-le" and parsed.rows_read == 2


def test_mixed_line_endings_keep_editor_line_numbers(tmp_path):
    rows = hourly_rows("2024-03-04", 4)
    # CRLF after the header, a bare CR, then LF: an editor shows lines 1..5.
    text = MT5_HEADER + "\r\n" + rows[0] + "\r" + rows[1] + "\n" + "garbage\r\n" + rows[3]
    parsed = parse_file(write(tmp_path, "a.csv", text))
    assert parsed.frame["line"].tolist() == [2, 3, 5]
    assert reasons(parsed) == {4: Reason.UNPARSABLE}


def test_blank_lines_are_skipped_and_not_counted_as_rows(tmp_path):
    rows = hourly_rows("2024-03-04", 2)
    text = f"\n{MT5_HEADER}\n\n{rows[0]}\n   \n{rows[1]}\n\n"
    parsed = parse_file(write(tmp_path, "a.csv", text))
    assert parsed.rows_read == 2 and parsed.blank_lines == 3
    assert parsed.frame["line"].tolist() == [4, 6]


@pytest.mark.parametrize("name, data, message", [
    ("empty.csv", b"", "the file is empty"),
    ("spaces.csv", b" \r\n\t\n", "the file is empty"),
    ("bom-only.csv", b"\xff\xfe", "the file is empty"),
    ("header.csv", (MT5_HEADER + "\r\n").encode(), "no data rows"),
    ("bad.gz", b"\x1f\x8b\x08\x00garbage", "not a valid gzip file"),
    ("bad.zip", b"PK\x03\x04garbage", "not a valid zip file"),
    ("odd.csv", b"\xff\xfe<\x00D\x00A", "truncated UTF-16"),
    ("notes.txt", b"Dear customer,\nhere is your data.\n", "unknown format"),
    ("latin1.csv", ("Zeit;Eröffnung;Höchst\n" * 5).encode("latin-1"), "not a text file"),
])
def test_unreadable_files_raise_a_one_line_reason(tmp_path, name, data, message):
    with pytest.raises(DataError, match=message) as caught:
        parse_file(write(tmp_path, name, data))
    assert "\n" not in str(caught.value) and name in str(caught.value)


def test_binary_file_is_not_text():
    rng = np.random.default_rng(7)
    with pytest.raises(DataError, match="not a text file"):
        source_from_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), "x.bin")


def test_zip_with_several_data_files_asks_for_one(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    with pytest.raises(DataError, match="holds 2 candidate files"):
        parse_file(write(tmp_path, "two.zip", buffer.getvalue()))


def test_a_few_undecodable_bytes_reject_only_their_lines(tmp_path):
    rows = hourly_rows("2024-03-04", 3)
    data = (mt5_text(rows[:1]) + rows[1] + "\xff\n").encode("latin-1") + rows[2].encode() + b"\n"
    parsed = parse_file(write(tmp_path, "a.csv", data))
    assert parsed.frame["line"].tolist() == [2, 4]
    assert reasons(parsed) == {3: Reason.UNPARSABLE}
    assert "invalid characters" in parsed.rejections["detail"].iloc[0]


def test_nul_byte_in_a_row_rejects_that_row(tmp_path):
    rows = hourly_rows("2024-03-04", 3)
    text = mt5_text([rows[0], rows[1][:5] + "\x00" + rows[1][5:], rows[2]])
    parsed = parse_file(write(tmp_path, "a.csv", text))
    assert reasons(parsed) == {3: Reason.UNPARSABLE} and parsed.rows_read == 3


# --- row-level parse failures -------------------------------------------------------------------

def test_rows_with_the_wrong_number_of_fields_are_rejected_with_their_line(tmp_path):
    rows = hourly_rows("2024-03-04", 4)
    text = mt5_text([rows[0], rows[1] + "\textra", rows[2].rsplit("\t", 3)[0], rows[3]])
    parsed = parse_file(write(tmp_path, "a.csv", text))
    assert parsed.frame["line"].tolist() == [2, 5]
    assert reasons(parsed) == {3: Reason.UNPARSABLE, 4: Reason.UNPARSABLE}
    details = parsed.rejections["detail"].tolist()
    assert details == ["expected 9 fields separated by '\\t', found 10",
                       "expected 9 fields separated by '\\t', found 6"]


def test_a_word_where_a_number_belongs_names_the_column(tmp_path):
    rows = hourly_rows("2024-03-04", 3)
    parts = rows[1].split("\t")
    parts[3] = "n/a-ish"
    parsed = parse_file(write(tmp_path, "a.csv", mt5_text([rows[0], "\t".join(parts), rows[2]])))
    assert reasons(parsed) == {3: Reason.UNPARSABLE}
    assert parsed.rejections["detail"].iloc[0] == "column high: 'n/a-ish' is not a number"
    assert parsed.frame["line"].tolist() == [2, 4]


def test_unparsable_and_missing_times_are_rejected(tmp_path):
    rows = hourly_rows("2024-03-04", 2)
    bad_date = "2024.13.45\t09:00:00" + rows[0][19:]
    text = mt5_text([rows[0], bad_date, rows[1]])
    parsed = parse_file(write(tmp_path, "a.csv", text))
    assert reasons(parsed) == {3: Reason.UNPARSABLE}
    assert "2024.13.45 09:00:00" in parsed.rejections["detail"].iloc[0]


def test_line_numbers_survive_chunked_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "CHUNK_BYTES", 200)
    rows = hourly_rows("2024-03-04", 40)
    rows[7] = "broken"
    rows[25] = rows[25] + "\tx"
    parsed = parse_file(write(tmp_path, "a.csv", mt5_text(rows)))
    assert reasons(parsed) == {9: Reason.UNPARSABLE, 27: Reason.UNPARSABLE}
    assert parsed.frame["line"].tolist() == [n for n in range(2, 42) if n not in (9, 27)]
    expected = pd.date_range("2024-03-04", periods=40, freq="1h").delete([25, 7])
    assert (pd.DatetimeIndex(parsed.frame["time"]) == expected).all()


# --- detection ----------------------------------------------------------------------------------

@pytest.mark.parametrize("first_line, expected", [
    (MT5_HEADER, "mt5"),
    ("20170419 090000;1.1;1.2;1.0;1.15;0", "histdata"),
    ("Time,Open,High,Low,Close,Volume", "generic"),
    ("datetime\topen\thigh\tlow\tclose", "generic"),
])
def test_format_is_detected_by_content(first_line, expected):
    assert detect_format(source_from_bytes(f"{first_line}\n".encode(), "x")) == expected


def test_forcing_the_wrong_format_is_unreadable():
    source = source_from_bytes(mt5_text(hourly_rows("2024-03-04", 1)).encode(), "x.csv")
    with pytest.raises(DataError, match=r"not a HistData\.com ASCII file"):
        parse_source(source, "histdata")


def test_parsed_rows_and_rejections_account_for_every_data_line(tmp_path):
    rows = hourly_rows("2024-03-04", 6)
    rows[2] = "nonsense;;"
    rows[4] = rows[4].replace("\t", "\t\t", 1)
    parsed = parse_file(write(tmp_path, "a.csv", mt5_text(rows), compress=True))
    lines = sorted([*parsed.frame["line"], *parsed.rejections["line"]])
    assert lines == list(range(2, 8)) and parsed.rows_read == 6


def test_gzip_of_utf16_crlf_export_is_read():
    text = mt5_text(hourly_rows("2024-03-04", 2), newline="\r\n")
    source = source_from_bytes(gzip.compress(b"\xff\xfe" + text.encode("utf-16-le")), "x.gz")
    assert parse_source(source).rows_read == 2
