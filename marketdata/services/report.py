"""The quality report of an import, as the text table ``import_bars`` prints and admin shows."""

from __future__ import annotations

from datetime import datetime

from marketdata.models import ImportRun

GAPS_SHOWN = 10


def import_run_summary(run: ImportRun) -> str:
    """The accounting line: every row read is accepted, rejected or an exact duplicate."""
    return (f"read {run.rows_read} = accepted {run.accepted} + rejected {run.rejected} "
            f"+ exact duplicates {run.duplicates}")


def import_run_report(run: ImportRun) -> str:
    """The whole report: header, table, longest gaps, notes, and the accounting line."""
    symbol = run.instrument.symbol
    if run.status == ImportRun.Status.FAILED:
        return f"Import of {run.name} as {symbol} {run.timeframe} failed: {run.error}"
    seconds = run.duration.total_seconds() if run.duration else 0.0
    lines = [f"Import of {run.name} -> {symbol} {run.timeframe} "
             f"(format {run.format}, {seconds:.1f} s)",
             f"Time zone: {run.tz_assumption}", *_table(_rows(run))]
    if run.gaps:
        shown = run.gaps[:GAPS_SHOWN]
        lines.append(f"Longest gaps ({len(shown)} of {run.gap_count}):")
        lines += [f"  {_when(g['start'])} -> {_when(g['end'])}  {g['missing_bars']} missing "
                  f"bar(s), {g['hours']:g} h" for g in shown]
    if run.notes:
        lines.append("Notes:")
        lines += [f"  - {note}" for note in run.notes]
    lines.append(import_run_summary(run))
    return "\n".join(lines)


def _rows(run: ImportRun) -> list[tuple[str, str]]:
    rows = [("Rows read", _n(run.rows_read)), ("Accepted", _n(run.accepted)),
            ("  inserted (new bars)", _n(run.inserted)),
            ("  unchanged (already stored)", _n(run.unchanged)),
            ("Exact duplicates (stored once)", _n(run.duplicates)),
            ("Rejected (quarantined)", _n(run.rejected))]
    rows += [(f"  {reason}", _n(count)) for reason, count in run.rejected_by_reason.items()]
    rows += [("Gaps in trading hours", _n(run.gap_count)),
             ("  bars missing in gaps", _n(run.missing_bars)),
             ("First bar", _when(run.first_bar)), ("Last bar", _when(run.last_bar)),
             ("Price range (low - high)", _price_range(run))]
    return rows


def _table(rows: list[tuple[str, str]]) -> list[str]:
    left = max(len(label) for label, _ in rows)
    right = max(len(value) for _, value in rows)
    rule = f"+-{'-' * left}-+-{'-' * right}-+"
    return [rule, *(f"| {label:<{left}} | {value:>{right}} |" for label, value in rows), rule]


def _n(value: int) -> str:
    return f"{value:,}"


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{stamp:%Y-%m-%d %H:%M} UTC"


def _price_range(run: ImportRun) -> str:
    if run.min_price is None or run.max_price is None:
        return "-"
    return f"{run.min_price.normalize():f} - {run.max_price.normalize():f}"
