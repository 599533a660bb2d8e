"""``place_order --account ID --symbol XAUUSD --side BUY --volume 0.01 [--sl PRICE]
[--tp PRICE] --reason TEXT [--client-order-id KEY]``: a manual order through ``order_place``.

A repeated ``--client-order-id`` on the same account is the same order (printed again, never
placed twice), as a retried request must be. Exit status 1 when the order was refused or
rejected.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from nusatrade.errors import NusaTradeError
from trading.models import OrderStatus
from trading.services import manual_key, order_place


class Command(BaseCommand):
    help = "Place a manual market order through the order service (same checks as the cycle)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, required=True)
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--side", required=True, help="BUY or SELL")
        # Kept as text: the service validates it (finite, on the step, within min/max).
        parser.add_argument("--volume", required=True, help="lots, e.g. 0.01")
        parser.add_argument("--sl", default=None, help="stop-loss price")
        parser.add_argument("--tp", default=None, help="take-profit price")
        parser.add_argument("--reason", required=True, help="why (kept with the order)")
        parser.add_argument("--client-order-id", default=None,
                            help="idempotency key: the same id on the same account is the "
                                 "same order")

    def handle(self, *args, **options) -> None:
        try:
            key = manual_key(options["account"], options["client_order_id"])
            result = order_place(options["account"], idempotency_key=key,
                                 symbol=options["symbol"], side=options["side"],
                                 volume=options["volume"], sl=options["sl"], tp=options["tp"],
                                 reason=options["reason"])
        except (NusaTradeError, ValueError) as error:
            raise CommandError(str(error)) from None
        if result.order.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
            raise CommandError(result.message)
        self.stdout.write(result.message)
