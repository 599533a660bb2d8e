"""``reconcile [--account ID] [--json]``: compare the database's orders and positions with the
broker's and apply the safe fixes (the Celery task ``trading.reconcile``, run by hand). Exits
non-zero when a mismatch could not be fixed (the account's kill switch is then engaged) or a
run failed (broker unreachable)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import TradingAccount
from trading.models import ReconciliationStatus
from trading.reconciliation.service import reconcile_account, reconcile_all

BAD = (ReconciliationStatus.MISMATCH, ReconciliationStatus.FAILED)


class Command(BaseCommand):
    help = "Reconcile the database with the broker: fix what is safe, stop what is not."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, default=None,
                            help="one account (default: every account not closed)")
        parser.add_argument("--json", action="store_true", help="print the runs as JSON")

    def handle(self, *args, **options) -> None:
        account = options["account"]
        if account is not None and not TradingAccount.objects.filter(pk=account).exists():
            raise CommandError(f"no trading account {account}")
        runs = ([reconcile_account(account, triggered_by="command")] if account is not None
                else reconcile_all(triggered_by="command"))
        if options["json"]:
            self.stdout.write(json.dumps([_as_dict(run) for run in runs], indent=2))
        else:
            for run in runs:
                self._line(run)
        bad = [run for run in runs if run.status in BAD]
        if bad:
            raise CommandError(f"{len(bad)} of {len(runs)} run(s) ended "
                               f"{', '.join(sorted({r.status for r in bad}))}: "
                               + "; ".join(f"account {r.account_id}: "
                                           f"{r.error or f'{r.unsafe} unsafe mismatch(es)'}"
                                           for r in bad))

    def _line(self, run) -> None:
        self.stdout.write(f"account {run.account_id}: run {run.pk} {run.status}: "
                          f"{run.findings} finding(s), {run.fixed} fixed, {run.reported} "
                          f"reported, {run.unsafe} unsafe" + (f" ({run.error})" if run.error
                                                             else ""))
        for item in run.items.all():
            self.stdout.write(f"  [{item.action}] {item.kind}: {item.message}")


def _as_dict(run) -> dict:
    return {"run": run.pk, "account": run.account_id, "status": run.status,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "findings": run.findings, "fixed": run.fixed, "reported": run.reported,
            "unsafe": run.unsafe, "kill_switch": run.kill_switch_id, "error": run.error,
            "items": [{"kind": i.kind, "severity": i.severity, "action": i.action,
                       "position": i.position_id, "order": i.order_id,
                       "broker_ticket": i.broker_ticket, "expected": i.expected,
                       "found": i.found, "message": i.message} for i in run.items.all()]}
