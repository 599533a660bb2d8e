"""``check_lookahead --model ID``: does anything the model uses depend on later bars?"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlops import selectors, services
from mlops.lookahead import DEFAULT_PER_KIND
from mlops.management.progress import CountProgress
from nusatrade.errors import NusaTradeError


class Command(BaseCommand):
    help = ("Recompute features, probability and decision with history cut at every traded "
            "bar of the window, at each kind of calendar boundary and at random bars, and "
            "compare with the full-history run. Exits 1 on any difference.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", type=int, required=True, dest="model_id")
        parser.add_argument("--points", type=int, default=50, help="random bars to check")
        parser.add_argument("--window", type=int, default=1000,
                            help="also check every trading bar among the last N bars")
        parser.add_argument("--boundary-points", type=int, default=DEFAULT_PER_KIND,
                            help="bars per boundary kind (first/last bar of a week, trading "
                                 "day and H4 bin; each side of a holiday)")
        parser.add_argument("--lookback", type=int, default=None,
                            help="cut history to N bars too, as the live cycle does")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **opts: Any) -> None:
        progress = CountProgress(self.stdout, "cut-off runs")
        try:
            model = selectors.model_get(opts["model_id"])
            report = services.model_check_lookahead(
                model, points=opts["points"], window=opts["window"], seed=opts["seed"],
                lookback=opts["lookback"], per_kind=opts["boundary_points"],
                progress=progress.count)
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.close()
        self.stdout.write("")
        self.stdout.write(report.render())
        if not report.clean:
            raise CommandError("look-ahead found: see the report above", returncode=1)
