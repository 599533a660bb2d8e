"""Validate a production configuration: our rules plus Django's ``check --deploy``.

``manage.py`` defers the start-up guard for this one command so it can list every problem.
Exit status is non-zero on any problem.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, SystemCheckError


class Command(BaseCommand):
    help = "Check production settings (secrets, DEBUG, hosts, services) and check --deploy."
    requires_system_checks: list[str] = []

    def handle(self, *args, **options) -> None:
        if not settings.IS_PRODUCTION:
            raise CommandError(
                f"NUSATRADE_ENV is {settings.NUSATRADE_ENV!r}; set NUSATRADE_ENV=production with "
                "the production environment to check it")
        # Our rules are registered system checks (nusatrade.E0xx), so check --deploy lists them
        # alongside Django's own deployment warnings.
        try:
            call_command("check", deploy=True, fail_level="WARNING", stdout=self.stdout,
                         stderr=self.stderr)
        except SystemCheckError as exc:
            self.stderr.write(str(exc))
            raise CommandError("production check failed: check --deploy reported problems") \
                from None
        if settings.PRODUCTION_PROBLEMS:
            raise CommandError(
                f"production check failed: {len(settings.PRODUCTION_PROBLEMS)} problem(s) above")
        self.stdout.write(self.style.SUCCESS("production configuration OK"))
