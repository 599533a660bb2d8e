"""Import a bar file: ``manage.py import_bars PATH --symbol XAUUSD --timeframe H1``.

Prints the quality report table and the line ``read N = accepted A + rejected R + exact
duplicates D``. A file that cannot be read at all exits 1 with a one-line reason; a file whose
every row was rejected exits 2 after the report (its quarantine is stored).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from marketdata.importers import FORMAT_CHOICES
from marketdata.services import bars_import, import_run_report
from marketdata.timeframes import TIMEFRAMES
from nusatrade.errors import DataError

# Below this many lines a progress bar is noise.
PROGRESS_MIN_LINES = 200_000
# Exit status when the file was read but every row was rejected (1: the file is unreadable).
NOTHING_ACCEPTED_EXIT = 2


class Command(BaseCommand):
    help = "Import bars from an MT5 export, a HistData.com file or a CSV with a header."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The file (.csv/.txt, optionally .gz or a .zip)")
        parser.add_argument("--symbol", required=True, help="Instrument symbol, e.g. XAUUSD")
        parser.add_argument("--timeframe", required=True, type=str.upper,
                            choices=list(TIMEFRAMES), help="Timeframe of the bars in the file")
        parser.add_argument("--format", dest="fmt", default="auto", choices=FORMAT_CHOICES,
                            help="File format (default: detect from the content)")
        parser.add_argument("--tz", default=None,
                            help="Time zone of the file's timestamps: UTC, UTC+2, NY+7 or an "
                                 "IANA name (default: MT5 UTC, HistData EST without DST)")
        parser.add_argument("--synthetic", action="store_true",
                            help="store the bars marked synthetic (a generated file, e.g. the "
                                 "demo's controls); refused if the series holds real bars")

    def handle(self, *args: object, **options: object) -> None:
        path = str(options["path"])
        try:
            run = bars_import(path, str(options["symbol"]), str(options["timeframe"]),
                              fmt=str(options["fmt"]), tz=options["tz"],  # type: ignore[arg-type]
                              progress=self._progress_factory(),
                              synthetic=bool(options["synthetic"]))
        except DataError as exc:
            where = f"{path}, line {exc.line}" if exc.line else path
            raise CommandError(f"{where}: {_one_line(exc.reason)}") from None
        except ValueError as exc:
            raise CommandError(f"{path}: {_one_line(str(exc))}") from None
        self.stdout.write(import_run_report(run))
        if run.accepted == 0:
            # The report above and the quarantine (stored) say why; a script must not take
            # "nothing imported" for success.
            raise CommandError(
                f"{path}: no row accepted ({run.rejected} rejected, see import run #{run.pk} "
                "and its quarantined rows)", returncode=NOTHING_ACCEPTED_EXIT)

    def _progress_factory(self) -> Callable[[str, int], tqdm]:
        """tqdm bars on stderr, only when it is a terminal and the file is large."""
        interactive = sys.stderr.isatty()

        def factory(description: str, total: int) -> tqdm:
            return tqdm(total=total, desc=description, unit=" rows", unit_scale=True,
                        leave=False, file=sys.stderr,
                        disable=not interactive or total < PROGRESS_MIN_LINES)

        return factory


def _one_line(text: str) -> str:
    return " ".join(text.split())
