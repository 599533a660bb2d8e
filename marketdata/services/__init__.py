"""Market-data writes: ``bars_upsert`` (every writer of bars) and ``bars_import`` (user files).

``import_run_report`` renders an import's quality report (command output and admin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nusatrade.lazy import lazy_exports

if TYPE_CHECKING:
    from marketdata.services.imports import (
        ProgressFactory,
        bars_import,
    )
    from marketdata.services.report import (
        import_run_report,
        import_run_summary,
    )
    from marketdata.services.upsert import (
        UpsertResult,
        bars_upsert,
        instrument_get,
    )

# Each name is imported from its submodule on first use (PEP 562): the admin and the API
# import this package at start-up, and the submodules pull in pandas, numba, scikit-learn.
# ``django.setup()`` and ``manage.py check`` must not pay for them (tests/test_startup.py).
_EXPORTS: dict[str, str] = {
    "ProgressFactory": "marketdata.services.imports",
    "bars_import": "marketdata.services.imports",
    "import_run_report": "marketdata.services.report",
    "import_run_summary": "marketdata.services.report",
    "UpsertResult": "marketdata.services.upsert",
    "bars_upsert": "marketdata.services.upsert",
    "instrument_get": "marketdata.services.upsert",
}
__all__ = [  # static, for linters and type checkers
    "ProgressFactory",
    "UpsertResult",
    "bars_import",
    "bars_upsert",
    "import_run_report",
    "import_run_summary",
    "instrument_get",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
