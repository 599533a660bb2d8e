"""manage.py import_bars: the report, exit codes, and malformed files that never crash it."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketdata import calendar
from marketdata.management.commands import import_bars
from marketdata.models import Bar, ImportRun, QuarantinedRow
from marketdata.tests.helpers import MT5_HEADER, bars_frame, frame_to_mt5, mt5_row, write
from nusatrade.errors import DataError

pytestmark = pytest.mark.django_db
SUMMARY = re.compile(r"^read (\d+) = accepted (\d+) \+ rejected (\d+) \+ exact duplicates (\d+)$",
                     re.MULTILINE)


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("import_bars", *args, stdout=out)
    return out.getvalue()


def a_week_file(tmp_path, name: str = "xau.csv", extra: list[str] | None = None):
    frame = bars_frame(calendar.expected_times("2024-03-04", "2024-03-09", "H1"))
    lines = frame_to_mt5(frame).splitlines() + (extra or [])
    return write(tmp_path, name, "\n".join(lines) + "\n"), frame


def test_report_table_and_summary_line_are_printed(tmp_path):
    path, frame = a_week_file(tmp_path, extra=[
        mt5_row("2024-03-08 21:00", 2000, 1990, 1980, 2000),    # high below open/close
        "2024.03.08\tnot-a-time\t1\t2\t0.5\t1.5\t1\t0\t1"])
    output = run_command(str(path), "--symbol", "XAUUSD", "--timeframe", "H1", "--tz", "UTC")
    assert output.startswith("Import of xau.csv -> XAUUSD H1 (format mt5, ")
    assert "| Rows read" in output and "|   high below max(open, close)" in output
    assert "|   unparsable row" in output and "| Gaps in trading hours" in output
    assert "Time zone: MT5 exports are written in the broker's server time; read as UTC" in output
    read, accepted, rejected, duplicates = map(int, SUMMARY.search(output).groups())
    assert (read, accepted, rejected, duplicates) == (len(frame) + 2, len(frame), 2, 0)
    assert output.rstrip().endswith(f"exact duplicates {duplicates}")


def test_lowercase_timeframe_and_forced_format_are_accepted(tmp_path):
    path, frame = a_week_file(tmp_path)
    output = run_command(str(path), "--symbol", "xauusd", "--timeframe", "h1", "--format", "mt5")
    assert f"read {len(frame)} = accepted {len(frame)}" in output


@pytest.mark.parametrize("data, message", [
    (b"", "the file is empty"),
    (b"\x00\x01\x02\x03" * 400, "not a text file"),
    (b"hello world\n", "unknown format"),
    ((MT5_HEADER + "\n").encode(), "no data rows"),
])
def test_unreadable_file_is_a_one_line_command_error_and_changes_no_bars(tmp_path, data,
                                                                          message):
    good, _ = a_week_file(tmp_path)
    run_command(str(good), "--symbol", "XAUUSD", "--timeframe", "H1")
    before = (Bar.objects.count(), QuarantinedRow.objects.count())
    bad = write(tmp_path, "bad.csv", data)
    with pytest.raises(CommandError) as caught:
        run_command(str(bad), "--symbol", "XAUUSD", "--timeframe", "H1")
    text = str(caught.value)
    assert "\n" not in text and text.startswith(str(bad)) and message in text
    assert (Bar.objects.count(), QuarantinedRow.objects.count()) == before


def test_command_line_exits_non_zero_without_a_traceback(tmp_path, capsys):
    bad = write(tmp_path, "empty.csv", b"")
    with pytest.raises(SystemExit) as caught:
        import_bars.Command().run_from_argv(
            ["manage.py", "import_bars", str(bad), "--symbol", "XAUUSD", "--timeframe", "H1"])
    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert err.strip() == f"CommandError: {bad}: the file is empty"


@pytest.mark.parametrize("args, message", [
    (["--symbol", "NOPE", "--timeframe", "H1"], "unknown symbol 'NOPE'"),
    (["--symbol", "XAUUSD", "--timeframe", "H1", "--tz", "Mars/Base"], "unknown time zone"),
])
def test_bad_arguments_are_command_errors(tmp_path, args, message):
    path, _ = a_week_file(tmp_path)
    with pytest.raises(CommandError, match=message):
        run_command(str(path), *args)
    assert not ImportRun.objects.exists()


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read the file"):
        run_command(str(tmp_path / "nope.csv"), "--symbol", "XAUUSD", "--timeframe", "H1")


def test_progress_bars_only_on_a_terminal_for_large_files(monkeypatch):
    command = import_bars.Command()
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    assert command._progress_factory()("reading", 10**6).disable
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    factory = command._progress_factory()
    big, small = factory("reading", 10**6), factory("reading", 10)
    assert not big.disable and small.disable
    big.close()
    small.close()


# --- malformed files never crash the importer ----------------------------------------------------

GOOD_ROWS = [mt5_row(f"2024-03-04 {h:02d}:00", 2000 + h, 2001 + h, 1999 + h, 2000.5 + h)
             for h in range(10)]
pieces = st.one_of(
    st.sampled_from(GOOD_ROWS),
    st.sampled_from(["", "\t", "\t\t\t\t\t\t\t\t", "nan\tnan", MT5_HEADER, "1e999\t-0", '"',
                     "2024.03.04\t09:00:00\tinf\t1\t1\t1\t1\t1\t1", "\ufeff", "\x00", "\r"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
    st.builds(lambda row, cut: row[:cut], st.sampled_from(GOOD_ROWS), st.integers(0, 40)),
    st.builds(lambda row, text: row.replace("\t", text, 1), st.sampled_from(GOOD_ROWS),
              st.sampled_from(["", "\t\t", ",", ";", "x"])),
)
files = st.tuples(
    st.booleans(),                                              # with the MT5 header?
    st.lists(pieces, max_size=25),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.sampled_from(["utf-8", "utf-16", "utf-16-le", "latin-1"]),
    st.booleans(),                                              # gzip?
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(files)
def test_malformed_files_report_or_fail_cleanly_never_crash(tmp_path_factory, spec):
    header, lines, newline, encoding, compress = spec
    text = newline.join(([MT5_HEADER] if header else []) + lines) + newline
    path = write(tmp_path_factory.mktemp("fuzz"), "f.csv",
                 text.encode(encoding, errors="replace"), compress=compress)
    before = (Bar.objects.count(), QuarantinedRow.objects.count())
    try:
        output = run_command(str(path), "--symbol", "XAUUSD", "--timeframe", "H1")
    except CommandError as exc:
        assert "\n" not in str(exc)
        if exc.returncode == import_bars.NOTHING_ACCEPTED_EXIT:  # read, all rows quarantined
            run = ImportRun.objects.latest("id")
            assert run.accepted == 0 and run.quarantined_rows.count() == run.rejected > 0
            assert Bar.objects.count() == before[0]
            return
        assert (Bar.objects.count(), QuarantinedRow.objects.count()) == before
        return
    read, accepted, rejected, duplicates = map(int, SUMMARY.search(output).groups())
    assert read == accepted + rejected + duplicates
    run = ImportRun.objects.latest("id")
    assert run.quarantined_rows.count() == rejected
    assert Bar.objects.count() == before[0] + run.inserted


def test_import_of_a_broken_file_never_raises_anything_but_data_error(tmp_path):
    from marketdata.services import bars_import

    rows = [MT5_HEADER, "\t" * 8, "x\t" * 8 + "x", "2024.03.04\t09:00"]
    run = bars_import(write(tmp_path, "x.csv", "\n".join(rows) + "\n"), "XAUUSD", "H1")
    # A line of bare separators holds no data: skipped like a blank line, and said so.
    assert (run.rows_read, run.rejected, run.accepted) == (2, 2, 0)
    assert "1 blank line(s) skipped (not counted as rows)" in run.notes
    with pytest.raises(DataError):
        bars_import(write(tmp_path, "y.csv", "\x00" * 100), "XAUUSD", "H1")


# --- exit status and single reporting (issue 8) ---------------------------------------------

def test_a_file_with_every_row_rejected_exits_2_after_the_report_and_keeps_the_quarantine(
        tmp_path, capsys, monkeypatch):
    # run_from_argv closes every DB connection when it ends; the test reads the DB after it.
    from django.core.management import base

    monkeypatch.setattr(base.connections, "close_all", lambda: None)
    bad = write(tmp_path, "allbad.csv", "\n".join([
        MT5_HEADER,
        "2024.03.08\tnot-a-time\t1\t2\t0.5\t1.5\t1\t0\t1",
        mt5_row("2024-03-08 21:00", 2000, 1990, 1980, 2000)]) + "\n")
    with pytest.raises(SystemExit) as caught:
        import_bars.Command().run_from_argv(
            ["manage.py", "import_bars", str(bad), "--symbol", "XAUUSD", "--timeframe", "H1"])
    assert caught.value.code == import_bars.NOTHING_ACCEPTED_EXIT == 2
    out, err = capsys.readouterr()
    assert "read 2 = accepted 0 + rejected 2 + exact duplicates 0" in out  # the report first
    run = ImportRun.objects.get()
    assert err.strip() == (f"CommandError: {bad}: no row accepted (2 rejected, see import run "
                           f"#{run.pk} and its quarantined rows)")
    assert run.quarantined_rows.count() == 2 and not Bar.objects.exists()


def test_a_file_with_some_rows_accepted_still_exits_0(tmp_path):
    path, frame = a_week_file(tmp_path, extra=[mt5_row("2024-03-08 21:00", 2000, 1990, 1980,
                                                       2000)])
    output = run_command(str(path), "--symbol", "XAUUSD", "--timeframe", "H1")
    assert f"accepted {len(frame)} + rejected 1" in output


def test_an_unreadable_file_is_reported_once(tmp_path, capsys, caplog):
    bad = write(tmp_path, "empty.csv", b"")
    with pytest.raises(SystemExit):
        import_bars.Command().run_from_argv(
            ["manage.py", "import_bars", str(bad), "--symbol", "XAUUSD", "--timeframe", "H1"])
    # stderr and every log record together: the reason appears exactly once.
    seen = capsys.readouterr().err + "\n".join(r.getMessage() for r in caplog.records)
    assert seen.count("the file is empty") == 1
