"""Why a row was not stored: the one list of reasons, and the frame that carries them (pure).

A rejection is (line, reason, detail): ``reason`` is one of ``Reason`` (what the report counts),
``detail`` says exactly what was wrong with that row.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np
import pandas as pd


class Reason(StrEnum):
    """Rejection reasons, in the order the checks run (a row gets the first that applies)."""

    UNPARSABLE = "unparsable row"
    NOT_FINITE = "missing, NaN or infinite value"
    OUT_OF_RANGE = "value out of range"
    NON_POSITIVE = "non-positive price"
    HIGH_BELOW = "high below max(open, close)"
    LOW_ABOVE = "low above min(open, close)"
    NEGATIVE = "negative volume or spread"
    MISALIGNED = "time not aligned to timeframe"
    LOCAL_TIME = "local time skipped or repeated by a DST change"
    DUPLICATE_CONFLICT = "duplicate timestamp with different values"
    OUT_OF_ORDER = "out of order"
    STORED_CONFLICT = "conflicts with stored bar"


def rejections_frame(lines: Sequence[int] | np.ndarray, reason: Reason | str | Sequence[str],
                     detail: str | Sequence[str]) -> pd.DataFrame:
    """A rejections frame: one row per line, with one reason/detail for all or one per line."""
    lines = np.asarray(lines, dtype=np.int64)
    n = len(lines)

    def column(value: str | Sequence[str]) -> np.ndarray:
        if isinstance(value, str):
            return np.full(n, str(value), dtype=object)
        out = np.empty(n, dtype=object)
        out[:] = [str(v) for v in value]
        return out

    return pd.DataFrame({"line": lines, "reason": column(reason), "detail": column(detail)})


def empty_rejections() -> pd.DataFrame:
    return rejections_frame([], "", "")


def count_by_reason(rejections: pd.DataFrame) -> dict[str, int]:
    """{reason: count}, in ``Reason`` order, for the report."""
    counts = rejections["reason"].value_counts()
    order = {reason.value: i for i, reason in enumerate(Reason)}
    return {str(k): int(v) for k, v in sorted(counts.items(),
                                              key=lambda kv: (order.get(kv[0], 99), kv[0]))}
