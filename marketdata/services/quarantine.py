"""Writing rejected rows to the quarantine table, and describing stored-bar conflicts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from marketdata.importers.rejections import Reason, rejections_frame
from marketdata.models import ImportRun, QuarantinedRow

RAW_LIMIT = 500
DETAIL_LIMIT = 255
BATCH = 5_000
COMPARED = ("open", "high", "low", "close", "volume", "real_volume", "spread")


def conflict_rejections(conflicts: pd.DataFrame) -> pd.DataFrame:
    """Rejections (line, reason, detail) for rows that differ from the bar already stored."""
    lines = (conflicts["line"].to_numpy(dtype=np.int64) if "line" in conflicts.columns
             else np.zeros(len(conflicts), dtype=np.int64))
    return rejections_frame(lines, Reason.STORED_CONFLICT, conflict_details(conflicts))


def conflict_details(conflicts: pd.DataFrame) -> list[str]:
    """"stored close 1284.77, here 1284.80; ..." for each conflicting row (few rows)."""
    details = []
    for time, row in zip(conflicts.index, conflicts.itertuples(index=False), strict=True):
        values = row._asdict()
        diffs = [f"{name} stored {_show(values['stored_' + name])}, here {_show(values[name])}"
                 for name in COMPARED if not _same(values[name], values["stored_" + name])]
        details.append(f"{time:%Y-%m-%d %H:%M} UTC: " + "; ".join(diffs))
    return details


def conflict_raw(conflicts: pd.DataFrame) -> list[str]:
    """The incoming values as text, for rows that came from no file line."""
    return [f"{time:%Y-%m-%d %H:%M:%S}," + ",".join(_show(getattr(row, n)) for n in COMPARED)
            for time, row in zip(conflicts.index, conflicts.itertuples(index=False),
                                 strict=True)]


def quarantine_rows(run: ImportRun, rejections: pd.DataFrame) -> int:
    """Store ``rejections`` (line, reason, detail, raw) under ``run``; returns how many."""
    lines = rejections["line"].to_numpy()
    objects = (
        QuarantinedRow(import_run=run, line=int(line) if line > 0 else None, reason=str(reason),
                       detail=str(detail)[:DETAIL_LIMIT], raw=str(raw)[:RAW_LIMIT])
        for line, reason, detail, raw in zip(lines, rejections["reason"], rejections["detail"],
                                             rejections["raw"], strict=True)
    )
    created = 0
    batch: list[QuarantinedRow] = []
    for obj in objects:
        batch.append(obj)
        if len(batch) == BATCH:
            created += len(QuarantinedRow.objects.bulk_create(batch))
            batch = []
    if batch:
        created += len(QuarantinedRow.objects.bulk_create(batch))
    return created


def _same(a: float, b: float) -> bool:
    return (a == b) or (pd.isna(a) and pd.isna(b))


def _show(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.6f}".rstrip("0").rstrip(".")
