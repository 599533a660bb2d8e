"""The launch checklist as code: ``manage.py check_production`` runs every registered item.

Each item returns :class:`ChecklistResult` (pass/fail, what was found, how to fix it). Items
about the core settings live here; apps above register theirs from ``AppConfig.ready`` via
:func:`checklist_register` (imports point down: this module knows none of them).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings


@dataclass(frozen=True)
class ChecklistResult:
    item: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


Check = Callable[[], ChecklistResult]
_ITEMS: dict[str, Check] = {}


def checklist_register(name: str, check: Check) -> None:
    _ITEMS[name] = check


def checklist_run() -> list[ChecklistResult]:
    results = []
    for name, check in _ITEMS.items():
        try:
            results.append(check())
        except Exception as exc:  # an item that cannot even be evaluated fails, named
            results.append(ChecklistResult(name, False, f"could not be checked: "
                                           f"{type(exc).__name__}: {exc}",
                                           "fix the error above and run check_production again"))
    return results


def _problems(settings_names: set[str] | None, exclude: bool = False) -> list:
    found = []
    for problem in settings.PRODUCTION_PROBLEMS:
        hit = settings_names is None or problem.setting in settings_names
        if hit != exclude:
            found.append(problem)
    return found


def _from_problems(item: str, problems: list, ok_detail: str) -> ChecklistResult:
    if not problems:
        return ChecklistResult(item, True, ok_detail)
    return ChecklistResult(item, False,
                           "; ".join(f"({p.id}) {p.setting}: {p.rule}" for p in problems),
                           "; ".join(p.hint for p in problems if p.hint)
                           or "see docs/DEPLOYMENT.md")


SECRET_SETTINGS = {"SECRET_KEY", "JWT_SIGNING_KEY"}


def check_secrets() -> ChecklistResult:
    return _from_problems("secrets", _problems(SECRET_SETTINGS),
                          "SECRET_KEY and JWT_SIGNING_KEY are set, long, random and distinct")


def check_django_deploy() -> ChecklistResult:
    """Django's ``check --deploy`` plus our system checks (metrics protection, ...)."""
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    out = io.StringIO()
    try:
        call_command("check", deploy=True, fail_level="WARNING", stdout=out, stderr=out)
    except SystemCheckError as exc:
        lines = [line.strip() for line in str(exc).splitlines()
                 if line.strip().startswith(("?:", "nusatrade", "security", "("))]
        return ChecklistResult("check --deploy", False, " | ".join(lines)[:2000],
                               "fix each message (its HINT says how), see docs/DEPLOYMENT.md")
    others = _problems(SECRET_SETTINGS | CORS_SETTINGS, exclude=True)
    return _from_problems("check --deploy", others,
                          "manage.py check --deploy --fail-level WARNING is clean")


def check_tls() -> ChecklistResult:
    wanted = {
        "SECURE_SSL_REDIRECT": getattr(settings, "SECURE_SSL_REDIRECT", False) is True,
        "SECURE_HSTS_SECONDS>=31536000": getattr(settings, "SECURE_HSTS_SECONDS", 0) >= 31536000,
        "SESSION_COOKIE_SECURE": getattr(settings, "SESSION_COOKIE_SECURE", False) is True,
        "CSRF_COOKIE_SECURE": getattr(settings, "CSRF_COOKIE_SECURE", False) is True,
        "SECURE_PROXY_SSL_HEADER": bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None)),
        "CSRF_TRUSTED_ORIGINS are https": all(
            o.startswith("https://") for o in settings.CSRF_TRUSTED_ORIGINS),
    }
    missing = [name for name, ok in wanted.items() if not ok]
    if missing:
        return ChecklistResult("TLS settings", False, "not set: " + ", ".join(missing),
                               "run with NUSATRADE_ENV=production (it sets them) and keep "
                               "SECURE_SSL_REDIRECT/SECURE_HSTS_SECONDS at their defaults; "
                               "TLS terminates in nginx (deploy/nginx/nusatrade.conf)")
    return ChecklistResult("TLS settings", True,
                           "HTTPS redirect, HSTS 1 year, secure cookies, proxy header set")


CORS_SETTINGS = {"CORS_ALLOWED_ORIGINS", "CORS_ALLOW_ALL_ORIGINS"}


def check_cors() -> ChecklistResult:
    problems = _problems(CORS_SETTINGS)
    insecure = [o for o in settings.CORS_ALLOWED_ORIGINS if not o.startswith("https://")]
    if problems or insecure or settings.CORS_ALLOW_ALL_ORIGINS:
        detail = "; ".join([f"{p.setting}: {p.rule}" for p in problems]
                           + ([f"{len(insecure)} origin(s) without https://"] if insecure else [])
                           + (["CORS_ALLOW_ALL_ORIGINS is on"]
                              if settings.CORS_ALLOW_ALL_ORIGINS else []))
        return ChecklistResult("CORS", False, detail,
                               "CORS_ALLOWED_ORIGINS=https://app.example.com (exact https "
                               "origins, comma-separated; never *)")
    return ChecklistResult("CORS", True,
                           f"{len(settings.CORS_ALLOWED_ORIGINS)} exact https origin(s)")


def check_sentry() -> ChecklistResult:
    if settings.SENTRY_DSN:
        return ChecklistResult("Sentry", True, "SENTRY_DSN is set (web and workers report)")
    return ChecklistResult("Sentry", False, "SENTRY_DSN is empty: errors reach nobody",
                           "set SENTRY_DSN in the environment file (deploy/nusatrade.env)")


def check_alerts_configured() -> ChecklistResult:
    channels = [name for name, on in (("email", bool(settings.ALERT_EMAILS)),
                                      ("webhook", bool(settings.ALERT_WEBHOOK_URL))) if on]
    if channels:
        return ChecklistResult("alerts configured", True, "channels: " + ", ".join(channels))
    return ChecklistResult("alerts configured", False,
                           "neither ALERT_EMAILS nor ALERT_WEBHOOK_URL is set",
                           "set ALERT_EMAILS (and EMAIL_URL) and/or ALERT_WEBHOOK_URL")


def check_test_alert_delivered() -> ChecklistResult:
    from django.utils import timezone

    from nusatrade.models import AlertTestRecord

    max_age = timedelta(days=settings.LAUNCH_TEST_ALERT_MAX_AGE_DAYS)
    fix = "run: python manage.py send_test_alert (and check it arrived)"
    last = AlertTestRecord.objects.filter(status="sent").first()
    if last is None:
        return ChecklistResult("test alert delivered", False, "no test alert was ever delivered",
                               fix)
    age = timezone.now() - last.sent_at
    if age > max_age:
        return ChecklistResult("test alert delivered", False,
                               f"last delivered {age.days} day(s) ago (limit "
                               f"{max_age.days})", fix)
    return ChecklistResult("test alert delivered", True,
                           f"delivered to every channel at {last.sent_at:%Y-%m-%d %H:%M} UTC")


def check_beat_schedules() -> ChecklistResult:
    from django_celery_beat.models import PeriodicTask

    from nusatrade.celery import app

    app.loader.import_default_modules()
    enabled = set(PeriodicTask.objects.filter(enabled=True).values_list("task", flat=True))
    required = list(settings.LAUNCH_REQUIRED_SCHEDULES)
    missing = [t for t in required if t not in enabled]
    unknown = sorted(t for t in enabled if t not in app.tasks)
    if missing or unknown:
        detail = "; ".join(([f"no enabled schedule for {', '.join(missing)}"] if missing else [])
                           + ([f"scheduled but no such task: {', '.join(unknown)}"]
                              if unknown else []))
        return ChecklistResult("beat schedules", False, detail,
                               "python manage.py migrate (the data migrations create the "
                               "schedules); enable them in the admin (Periodic tasks)")
    return ChecklistResult("beat schedules", True,
                           f"{len(enabled)} enabled, every required one present")


for _name, _check in (("secrets", check_secrets), ("TLS settings", check_tls),
                      ("CORS", check_cors), ("check --deploy", check_django_deploy),
                      ("Sentry", check_sentry), ("alerts configured", check_alerts_configured),
                      ("test alert delivered", check_test_alert_delivered),
                      ("beat schedules", check_beat_schedules)):
    checklist_register(_name, _check)
