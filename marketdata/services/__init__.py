"""Market-data writes: ``bars_upsert`` (every writer of bars) and ``bars_import`` (user files).

``import_run_report`` renders an import's quality report (command output and admin).
"""

from __future__ import annotations

from marketdata.services.imports import ProgressFactory, bars_import
from marketdata.services.report import import_run_report, import_run_summary
from marketdata.services.upsert import UpsertResult, bars_upsert, instrument_get

__all__ = ["ProgressFactory", "UpsertResult", "bars_import", "bars_upsert",
           "import_run_report", "import_run_summary", "instrument_get"]
