"""The pure parts of backups: retention, file checks, row-count comparison (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from operations.dumps import count_differences, files_describe, files_problems, retention_keep

WED = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


def days_ago(*days: float) -> list[datetime]:
    return [WED - timedelta(days=d) for d in days]


@pytest.mark.parametrize("stamps, daily, weekly, kept", [
    # One a night for three weeks, 2 daily + 2 weekly: Wed, Tue; and the newest of last ISO
    # week, its Sunday (3 days ago).
    (days_ago(*range(21)), 2, 2, days_ago(0, 1, 3)),
    # Two the same day: only the newer counts for that day.
    (days_ago(0, 0.05, 1), 2, 0, days_ago(0, 1)),
    # Gaps: "the last N days that have a backup", not N calendar days.
    (days_ago(0, 10, 20, 30), 2, 0, days_ago(0, 10)),
    # Weekly reaches back further than daily.
    (days_ago(0, 1, 2, 8, 15, 22), 1, 3, days_ago(0, 8, 15)),
    # Nothing yet: nothing to keep.
    ([], 7, 4, []),
])
def test_retention_keeps_the_newest_of_each_day_and_week(stamps, daily, weekly, kept):
    assert retention_keep(stamps, daily, weekly) == set(kept)


def test_the_newest_backup_is_always_kept():
    stamps = days_ago(*range(10))
    assert max(stamps) in retention_keep(stamps, 1, 0)


@pytest.mark.parametrize("daily, weekly", [(0, 4), (-1, 0), (7, -1)])
def test_retention_refuses_nonsense_counts(daily, weekly):
    with pytest.raises(ValueError, match="keep-daily must be >= 1"):
        retention_keep(days_ago(0), daily, weekly)


def test_files_problems_names_the_missing_truncated_and_corrupted_files(tmp_path):
    for name in ("a.dump", "b.skops", "c.json"):
        (tmp_path / name).write_bytes(name.encode() * 100)
    described = files_describe(tmp_path, ["a.dump", "b.skops", "c.json"])
    assert files_problems(tmp_path, described) == []
    (tmp_path / "a.dump").write_bytes(b"a.dump" * 50)                 # truncated
    data = bytearray((tmp_path / "b.skops").read_bytes())
    data[10] ^= 1
    (tmp_path / "b.skops").write_bytes(bytes(data))                   # same size, flipped bit
    (tmp_path / "c.json").unlink()                                    # lost
    problems = files_problems(tmp_path, {**described, "../escape": {"sha256": "x", "size": 1}})
    assert problems[0] == "../escape: path escapes the backup directory"
    assert problems[1].startswith("a.dump: 300 bytes, the manifest says 600 (truncated")
    assert problems[2].startswith("b.skops: SHA-256") and "(corrupted)" in problems[2]
    assert problems[3] == "c.json: missing"


def test_count_differences_reports_each_table_both_ways():
    assert count_differences({"a": 1, "b": 2}, {"a": 1, "b": 2}) == []
    assert count_differences({"a": 1, "b": 2}, {"a": 0, "c": 5}) == [
        "a: manifest 1, restored 0", "b: manifest 2, restored absent",
        "c: manifest absent, restored 5"]
