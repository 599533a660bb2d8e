"""``create_account USERNAME --name NAME --broker paper --balance 10000 [--currency USD]
[--leverage 100] [--login N --server NAME --password-env-var VAR]`` (the last three for an
MT5 account): prints the new account's id."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Broker
from nusatrade.errors import DataError
from trading.services import account_create


def money(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Create a trading account (with the default risk policy) and print its id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True)
        parser.add_argument("--broker", choices=Broker.values, default=Broker.PAPER)
        parser.add_argument("--balance", type=money, default=Decimal("10000"),
                            help="starting balance (paper) / reference balance (default 10000)")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--leverage", type=int, default=100)
        parser.add_argument("--login", default="", help="mt5: the account number")
        parser.add_argument("--server", default="",
                            help="mt5: the broker's server, as in the terminal's login dialog")
        parser.add_argument("--password-env-var", default="",
                            help="mt5: the NAME of the environment variable holding the "
                                 "password (never the password itself)")

    def handle(self, *args, **options) -> None:
        try:
            account = account_create(options["username"], name=options["name"],
                                     broker=options["broker"], balance=options["balance"],
                                     currency=options["currency"],
                                     leverage=options["leverage"],
                                     login=options["login"], server=options["server"],
                                     password_env_var=options["password_env_var"])
        except DataError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(str(account.pk))
