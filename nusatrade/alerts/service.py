"""``alert_send`` (queue or send an alert) and ``alert_deliver`` (send it now).

Never raises into the caller: a trading path that raises an alert must not be stopped by the
alert failing. Every outcome is an :class:`AlertResult` and a log line on ``nusatrade.alerts``
(a failed channel at ERROR, so Sentry sees it when configured).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, transaction
from django.utils import timezone

from nusatrade.alerts import channels
from nusatrade.alerts.message import Alert, AlertKind, alert_build, redact
from nusatrade.alerts.ratelimit import rate_gate

logger = logging.getLogger("nusatrade.alerts")

SENT = "sent"                      # every configured channel delivered
PARTIAL = "partial"                # some channels delivered, some failed
FAILED = "failed"                  # nothing delivered (or the alert could not be queued)
NOT_CONFIGURED = "not_configured"  # neither ALERT_EMAILS nor ALERT_WEBHOOK_URL is set
SUPPRESSED = "suppressed"          # held back by the rate limit (counted for the next one)
QUEUED = "queued"                  # handed to the maintenance queue
DEFERRED = "deferred"              # will be queued when the current transaction commits
INVALID = "invalid"                # unknown kind or empty title: a programming error


@dataclass(frozen=True)
class AlertResult:
    kind: str
    status: str
    channels: tuple[channels.ChannelResult, ...] = ()
    suppressed_before: int = 0
    detail: str = ""

    @property
    def delivered(self) -> bool:
        return self.status in (SENT, PARTIAL)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": self.status,
                "channels": [c.as_dict() for c in self.channels],
                "suppressed_before": self.suppressed_before, "detail": self.detail}


def known_secrets() -> tuple[str, ...]:
    """Configured secret values that must never appear in an alert."""
    database = settings.DATABASES.get("default", {})
    values = (settings.SECRET_KEY, getattr(settings, "JWT_SIGNING_KEY", ""),
              settings.ALERT_WEBHOOK_URL, getattr(settings, "EMAIL_HOST_PASSWORD", ""),
              getattr(settings, "SENTRY_DSN", ""), database.get("PASSWORD", ""),
              getattr(settings, "BACKUP_S3_SECRET_ACCESS_KEY", ""))
    return tuple(str(v) for v in values if v)


def _build(kind, title, body, fields, key) -> Alert:
    return alert_build(kind, title, body, fields=fields, key=str(key),
                       environment=settings.NUSATRADE_ENV,
                       created_at=timezone.now().isoformat(timespec="seconds"),
                       secrets=known_secrets())


def _gate(alert: Alert, rate_limit: bool) -> Alert | None:
    """The alert to send (with its suppressed count), or None when the rate limit holds it."""
    if not rate_limit:
        return alert
    gate = rate_gate(alert.kind, alert.key, settings.ALERT_RATE_LIMIT_SECONDS, caches["default"])
    if not gate.allowed:
        logger.info("alert %s (key %r) suppressed by the rate limit: %s", alert.kind,
                    alert.key, alert.title)
        return None
    return replace(alert, suppressed_before=gate.suppressed_before)


def alert_send(kind: str | AlertKind, title: str, body: str = "", *,
               fields: Mapping[str, Any] | None = None, key: str | int = "",
               sync: bool = False, rate_limit: bool = True) -> AlertResult:
    """Raise an alert of ``kind``: rate-limited per (kind, ``key``), redacted, then delivered
    by the maintenance-queue task once the current transaction commits (``sync=True``:
    delivered now, in this process, as management commands want). Never raises."""
    try:
        alert = _build(kind, title, body, fields, key)
    except ValueError as exc:
        logger.error("alert not sent: %s", exc)
        return AlertResult(str(kind), INVALID, detail=str(exc))
    try:
        if sync:
            gated = _gate(alert, rate_limit)
            return alert_deliver(gated) if gated else AlertResult(alert.kind, SUPPRESSED)
        return _queue_on_commit(alert, rate_limit)
    except Exception as exc:  # the trading path must never see an alert's failure
        logger.exception("alert %s could not be sent: %s", alert.kind, type(exc).__name__)
        return AlertResult(alert.kind, FAILED, detail=type(exc).__name__)


def _queue_on_commit(alert: Alert, rate_limit: bool) -> AlertResult:
    outcome: list[AlertResult] = []

    def gate_and_queue() -> None:
        # Gate at commit time: an alert whose transaction rolls back neither goes out nor
        # uses up the window of a real one.
        try:
            gated = _gate(alert, rate_limit)
            if gated is None:
                outcome.append(AlertResult(alert.kind, SUPPRESSED))
                return
            from nusatrade.tasks import send_alert

            send_alert.apply_async(args=[gated.as_dict()])
            outcome.append(AlertResult(alert.kind, QUEUED,
                                       suppressed_before=gated.suppressed_before))
        except Exception as exc:
            logger.error("alert %s could not be queued (%s): %s", alert.kind,
                         type(exc).__name__, alert.title)
            outcome.append(AlertResult(alert.kind, FAILED, detail=type(exc).__name__))

    try:
        transaction.on_commit(gate_and_queue, robust=True)
    except DatabaseError:
        gate_and_queue()  # the database is unreachable: there is no transaction to wait for
    # Outside a transaction on_commit ran the callback already.
    return outcome[0] if outcome else AlertResult(alert.kind, DEFERRED)


def _channel_plan(alert: Alert) -> list[tuple[str, Any]]:
    plan = []
    if settings.ALERT_EMAILS:
        recipients = list(settings.ALERT_EMAILS)
        plan.append(("email", lambda: channels.email_send(
            alert.subject(), alert.text(), recipients, settings.DEFAULT_FROM_EMAIL)))
    if settings.ALERT_WEBHOOK_URL:
        url = settings.ALERT_WEBHOOK_URL
        plan.append(("webhook", lambda: channels.webhook_post(
            url, {"text": alert.text()},
            connect_timeout=settings.ALERT_WEBHOOK_CONNECT_TIMEOUT,
            read_timeout=settings.ALERT_WEBHOOK_READ_TIMEOUT)))
    return plan


def alert_deliver(alert: Alert) -> AlertResult:
    """Send ``alert`` now to every configured channel, each with bounded retries. Never
    raises; the alert is logged (WARNING) whatever happens, so it is never lost silently."""
    secrets = known_secrets()
    alert = replace(alert, title=redact(alert.title, secrets), body=redact(alert.body, secrets))
    logger.warning("ALERT %s (key %r): %s", alert.kind, alert.key, alert.title)
    plan = _channel_plan(alert)
    if not plan:
        logger.warning("alert %s: no channel configured (ALERT_EMAILS, ALERT_WEBHOOK_URL)",
                       alert.kind)
        return AlertResult(alert.kind, NOT_CONFIGURED, suppressed_before=alert.suppressed_before,
                           detail="set ALERT_EMAILS and/or ALERT_WEBHOOK_URL")
    results = tuple(
        channels.with_retries(name, send, attempts=settings.ALERT_ATTEMPTS,
                              backoff_seconds=settings.ALERT_RETRY_BACKOFF_SECONDS,
                              redact=lambda text: redact(text, secrets))
        for name, send in plan)
    for result in results:
        if result.status != channels.SENT:
            logger.error("alert %s: %s failed after %d attempt(s): %s", alert.kind,
                         result.channel, result.attempts, result.detail)
    sent = sum(r.status == channels.SENT for r in results)
    status = SENT if sent == len(results) else PARTIAL if sent else FAILED
    return AlertResult(alert.kind, status, results, alert.suppressed_before)
