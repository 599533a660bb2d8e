"""``manage.py backup [--upload] [--keep-daily N --keep-weekly M] [--json]``

Dump the database (``pg_dump -Fc`` / sqlite3 backup API) and the model files with a manifest,
verify by a real restore into a scratch database, optionally upload to S3, apply retention.
Exits non-zero (after a BACKUP_FAILED alert) when any step fails.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from nusatrade.errors import NusaTradeError


class Command(BaseCommand):
    help = ("Back up the database and the model files, verify the backup by restoring it into a "
            "scratch database, optionally upload it to S3 and prune old backups.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--upload", action="store_true",
                            help="also upload to S3 (BACKUP_S3_* settings), SHA-256 verified")
        parser.add_argument("--keep-daily", type=int, default=None, metavar="N",
                            help="keep the newest backup of each of the last N days "
                                 "(default BACKUP_KEEP_DAILY)")
        parser.add_argument("--keep-weekly", type=int, default=None, metavar="M",
                            help="and of each of the last M ISO weeks "
                                 "(default BACKUP_KEEP_WEEKLY)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options) -> None:
        from operations.services import backup_create

        try:
            outcome = backup_create(upload=options["upload"], keep_daily=options["keep_daily"],
                                    keep_weekly=options["keep_weekly"])
        except (NusaTradeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        summary = outcome.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        where = summary["local_path"] + (f" and s3://{summary['s3_bucket']}/{summary['s3_key']}"
                                         if summary["s3_key"] else "")
        self.stdout.write(self.style.SUCCESS(
            f"backup {summary['name']} verified: {summary['tables']} tables, {summary['rows']} "
            f"rows, {summary['files']} files, {summary['total_bytes']} bytes in {where}; pruned "
            f"{len(summary['pruned_local'])} local, {len(summary['pruned_s3'])} on S3"))
