"""``kill_switch engage|release|status``: the kill switches from a shell (the admin has the same
actions). Every engage and release goes through ``trading.services.killswitches`` (audited,
alerted)::

    kill_switch engage (--global | --account ID | --model ID) --reason TEXT
                       [--close-positions] [--by NAME] [--json]
    kill_switch release (--id N | --global | --account ID | --model ID) --reason TEXT
                        [--by NAME] [--json]
    kill_switch status [--engaged] [--json]

The actor recorded is ``--by NAME`` as given, else ``cli:<OS user>``.

Exit status: 0 done (engaging an already engaged target is 0 too: it keeps its first switch
and says so); 1 refused (unknown account or model, nothing engaged to release, a missing
reason); 2 bad usage; 3 engaged, but some positions could not be closed.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from nusatrade.errors import NusaTradeError
from trading.models import KillSwitch, KillSwitchScope
from trading.selectors import kill_switch_list
from trading.services.killswitches import engaged_for, kill_switch_engage, kill_switch_release

CLOSE_FAILED = 3


def switch_row(switch: KillSwitch) -> dict[str, Any]:
    """One switch as the command (and its ``--json``) shows it."""
    def when(value):
        return value.isoformat() if value else None

    return {"id": switch.pk, "scope": switch.scope, "account": switch.account_id,
            "model": switch.model_id, "target": _target_label(switch),
            "state": "engaged" if switch.engaged else "released", "rule": switch.rule or None,
            "reason": switch.reason, "engaged_by": switch.engaged_by,
            "engaged_at": when(switch.engaged_at), "released_by": switch.released_by or None,
            "released_at": when(switch.released_at),
            "release_reason": switch.release_reason or None,
            "release_at": when(switch.release_at)}


def _target_label(switch: KillSwitch) -> str:
    if switch.scope == KillSwitchScope.ACCOUNT:
        return f"account {switch.account_id} ({switch.account.name})"
    if switch.scope == KillSwitchScope.MODEL:
        return f"model {switch.model_id} ({switch.model})"
    return "every account"


def _add_target(parser: CommandParser, *, with_id: bool) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    if with_id:
        target.add_argument("--id", type=int, help="the switch's id (kill_switch status)")
    target.add_argument("--global", dest="global_", action="store_true",
                        help="every account")
    target.add_argument("--account", type=int, metavar="ID", help="one trading account")
    target.add_argument("--model", type=int, metavar="ID", help="one ML model")
    parser.add_argument("--reason", required=True, help="why (kept in the audit log)")
    parser.add_argument("--by", default=None, metavar="NAME",
                        help="who does it (default: cli:<OS user>)")
    parser.add_argument("--json", action="store_true", help="print JSON")


class Command(BaseCommand):
    help = "Engage, release or list kill switches (global, per account, per model)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        engage = actions.add_parser("engage", help="stop new orders of a scope")
        _add_target(engage, with_id=False)
        engage.add_argument("--close-positions", action="store_true",
                            help="also close the scope's open positions at market")
        release = actions.add_parser("release", help="let a scope trade again")
        _add_target(release, with_id=True)
        status = actions.add_parser("status", help="list every switch")
        status.add_argument("--engaged", action="store_true", help="only engaged switches")
        status.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **options) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except NusaTradeError as error:
            raise CommandError(str(error)) from None

    def _status(self, options: dict[str, Any]) -> None:
        rows = [switch_row(s) for s in kill_switch_list(engaged=True if options["engaged"]
                                                        else None)]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("no kill switches")
        for row in rows:
            self.stdout.write(_status_line(row))

    def _engage(self, options: dict[str, Any]) -> None:
        scope, account, model = _scope(options)
        result = kill_switch_engage(scope, reason=options["reason"], actor=_actor(options),
                                    account_id=account, model_id=model,
                                    close_positions=options["close_positions"])
        row = {**switch_row(result.switch), "created": result.created,
               "closed_positions": result.closed_positions,
               "close_errors": {str(k): v for k, v in result.close_errors.items()}}
        if options["json"]:
            self.stdout.write(json.dumps(row, indent=2))
        else:
            verb = "engaged" if result.created else "already engaged (kept)"
            self.stdout.write(f"kill switch {row['id']} {verb}: {row['target']}: "
                              f"{row['reason']}")
            if options["close_positions"]:
                self.stdout.write(f"closed positions: {result.closed_positions or 'none'}")
            for position, error in result.close_errors.items():
                self.stderr.write(f"position {position} NOT closed: {error}")
        if result.close_errors:
            raise CommandError(f"{len(result.close_errors)} position(s) could not be closed",
                               returncode=CLOSE_FAILED)

    def _release(self, options: dict[str, Any]) -> None:
        switch_id = options["id"]
        if switch_id is None:
            scope, account, model = _scope(options)
            switch = engaged_for(scope, account_id=account, model_id=model)
            if switch is None:
                label = {"global": "global", "account": f"account {account}",
                         "model": f"model {model}"}[scope]
                raise CommandError(f"nothing engaged to release: no engaged {label} "
                                   "kill switch (see kill_switch status)")
            switch_id = switch.pk
        switch = kill_switch_release(switch_id, actor=_actor(options), reason=options["reason"])
        row = switch_row(switch)
        if options["json"]:
            self.stdout.write(json.dumps(row, indent=2))
        else:
            self.stdout.write(f"kill switch {row['id']} released: {row['target']}: "
                              f"{row['release_reason']}")


def _scope(options: dict[str, Any]) -> tuple[str, int | None, int | None]:
    if options["global_"]:
        return KillSwitchScope.GLOBAL, None, None
    if options["account"] is not None:
        return KillSwitchScope.ACCOUNT, options["account"], None
    return KillSwitchScope.MODEL, None, options["model"]


def _actor(options: dict[str, Any]) -> str:
    if options["by"] is not None:
        if not options["by"].strip():
            raise CommandError("--by needs a name")
        return options["by"].strip()
    return f"cli:{getpass.getuser()}"


def _status_line(row: dict[str, Any]) -> str:
    line = (f"#{row['id']} {row['state']:8} {row['target']}  rule={row['rule'] or 'manual'}  "
            f"engaged by {row['engaged_by']} at {row['engaged_at']}: {row['reason']}")
    if row["release_at"] and row["state"] == "engaged":
        line += f"  (releases itself at {row['release_at']})"
    if row["state"] == "released":
        line += (f"  | released by {row['released_by']} at {row['released_at']}: "
                 f"{row['release_reason']}")
    return line
