"""Delivery channels: email (the Django email backend) and a Slack-compatible webhook.

Each channel is tried a bounded number of times with exponential backoff and never raises: it
returns a :class:`ChannelResult`. The webhook uses ``http.client`` with a *connect* timeout for
the TCP (and TLS) handshake and a separate *read* timeout on every socket operation after it,
and reads at most a few KB of the answer, so an endpoint that accepts and never answers costs
at most ``attempts x (connect + read)`` plus the backoff (RELIABILITY: a hung peer must not
hang the caller). Redirects are not followed. Results and logs never contain the webhook URL
(Slack-style URLs embed their secret token) nor the SMTP password.
"""

from __future__ import annotations

import http.client
import json
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

SENT = "sent"
FAILED = "failed"
NOT_CONFIGURED = "not_configured"
_MAX_BACKOFF_SECONDS = 30.0
_MAX_ANSWER_BYTES = 4096


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    status: str
    attempts: int = 0
    detail: str = ""

    def as_dict(self) -> dict:
        return {"channel": self.channel, "status": self.status, "attempts": self.attempts,
                "detail": self.detail}


class DeliveryError(Exception):
    """One failed attempt; ``retryable`` says whether another attempt may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def with_retries(channel: str, send_once: Callable[[], str], *, attempts: int,
                 backoff_seconds: float, redact: Callable[[str], str],
                 sleep: Callable[[float], None] = time.sleep) -> ChannelResult:
    """Call ``send_once`` (returning a short success detail) up to ``attempts`` times, sleeping
    ``backoff * 2**n`` between tries; stop early on a non-retryable failure."""
    detail = ""
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return ChannelResult(channel, SENT, attempt, send_once())
        except DeliveryError as exc:
            detail, retryable = str(exc), exc.retryable
        except Exception as exc:  # network, SMTP, TLS: anything may fail; nothing may escape
            detail, retryable = f"{type(exc).__name__}: {exc}", True
        if not retryable or attempt >= attempts:
            return ChannelResult(channel, FAILED, attempt, redact(detail))
        sleep(min(_MAX_BACKOFF_SECONDS, backoff_seconds * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")  # pragma: no cover


def webhook_post(url: str, payload: dict, *, connect_timeout: float,
                 read_timeout: float) -> str:
    """POST ``payload`` as JSON once; the HTTP status on 2xx, DeliveryError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("ALERT_WEBHOOK_URL must be an http(s) URL", retryable=False)
    connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                        else http.client.HTTPConnection)
    conn = connection_class(parts.hostname, parts.port, timeout=connect_timeout)
    try:
        conn.connect()
        conn.sock.settimeout(read_timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=json.dumps(payload).encode(),
                     headers={"Content-Type": "application/json",
                              "User-Agent": "NusaTrade-alerts"})
        response = conn.getresponse()
        response.read(_MAX_ANSWER_BYTES)
        status = response.status
    except TimeoutError as exc:
        raise DeliveryError(f"timed out ({exc or 'no answer'})", retryable=True) from None
    finally:
        conn.close()
    if 200 <= status < 300:
        return f"HTTP {status}"
    # 429 and 5xx are the endpoint's temporary trouble; any other answer will not change.
    raise DeliveryError(f"HTTP {status}", retryable=status == 429 or status >= 500)


def email_send(subject: str, text: str, recipients: list[str], from_email: str) -> str:
    """Send one plain-text email through the configured Django backend."""
    from django.core.mail import EmailMessage

    try:
        sent = EmailMessage(subject, text, from_email=from_email, to=recipients).send()
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused) as exc:
        # Wrong credentials or addresses: the next attempt would fail the same way.
        raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=False) from None
    if not sent:
        raise DeliveryError("the email backend sent nothing", retryable=True)
    return f"{len(recipients)} recipient(s)"
