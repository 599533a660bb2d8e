"""What an alert is: a kind, a title, a plain-text body and structured fields, made safe to send.

Everything an alert carries is redacted before it leaves the process (known secret values from
the settings, credentials inside URLs, fields whose names say "password"/"token"/...), and
bounded in size, so a message built from an exception or a broker answer can neither leak a
secret into a Slack channel nor blow past a webhook's size limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

MAX_TITLE = 200
MAX_BODY = 4000
MAX_FIELDS = 30
MAX_FIELD_NAME = 60
MAX_FIELD_VALUE = 500
REDACTED = "[redacted]"

# Field names that carry credentials: their values are never sent.
_SECRET_FIELD = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|signing[_-]?key|dsn|"
    r"authori[sz]ation|cookie|credential", re.IGNORECASE)
# scheme://user:password@host -> scheme://[redacted]@host
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)
# Secrets shorter than this are not searched for (they would match ordinary words).
_MIN_SECRET_LENGTH = 8


class AlertKind(StrEnum):
    KILL_SWITCH_ENGAGED = "kill_switch_engaged"
    KILL_SWITCH_RELEASED = "kill_switch_released"
    DAILY_LOSS_STOP = "daily_loss_stop"
    RECONCILIATION_MISMATCH = "reconciliation_mismatch"
    ORDER_REJECTED_REPEATEDLY = "order_rejected_repeatedly"
    BROKER_DISCONNECTED = "broker_disconnected"
    STALE_DATA = "stale_data"
    TASK_FAILED = "task_failed"
    BACKUP_FAILED = "backup_failed"
    RETRAINING_REQUESTED = "retraining_requested"
    TEST = "test"


def parse_kind(kind: str | AlertKind) -> AlertKind:
    """The AlertKind named ``kind``, or ValueError listing the valid kinds."""
    try:
        return AlertKind(kind)
    except ValueError:
        valid = ", ".join(k.value for k in AlertKind)
        raise ValueError(f"unknown alert kind {kind!r}; use one of {valid}") from None


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every known secret value and every URL's user-info replaced."""
    for secret in secrets:
        if len(secret) >= _MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _safe_fields(fields: Mapping[str, Any] | None,
                 secrets: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    items = list((fields or {}).items())
    safe = []
    for name, value in items[:MAX_FIELDS]:
        label = _clip(str(name), MAX_FIELD_NAME)
        shown = REDACTED if _SECRET_FIELD.search(label) else redact(_plain(value), secrets)
        safe.append((label, _clip(shown, MAX_FIELD_VALUE)))
    if len(items) > MAX_FIELDS:
        safe.append(("more_fields", f"{len(items) - MAX_FIELDS} not shown"))
    return tuple(safe)


@dataclass(frozen=True)
class Alert:
    kind: str
    title: str
    body: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    # What the rate limit counts separately within a kind (an account id, a task name...).
    key: str = ""
    environment: str = ""
    created_at: str = ""
    suppressed_before: int = 0

    def subject(self) -> str:
        """One line (mail headers refuse newlines): ``[NusaTrade env] kind: title``."""
        env = f" {self.environment}" if self.environment else ""
        return " ".join(f"[NusaTrade{env}] {self.kind}: {self.title}".split())

    def text(self) -> str:
        lines = [self.subject()]
        if self.body:
            lines += ["", self.body]
        if self.fields:
            lines += [""] + [f"{name}: {value}" for name, value in self.fields]
        if self.suppressed_before:
            lines += ["", f"({self.suppressed_before} similar alert(s) of this kind and key were "
                          "suppressed by the rate limit since the last one sent)"]
        if self.created_at:
            lines.append(f"at {self.created_at}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe (the Celery task's argument)."""
        values = asdict(self)
        values["fields"] = [list(pair) for pair in self.fields]
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Alert:
        data = dict(values)
        data["fields"] = tuple((str(k), str(v)) for k, v in data.get("fields", ()))
        return cls(**data)


def alert_build(kind: str | AlertKind, title: str, body: str = "", *,
                fields: Mapping[str, Any] | None = None, key: str = "",
                environment: str = "", created_at: str = "",
                secrets: tuple[str, ...] = ()) -> Alert:
    """A redacted, size-bounded Alert (ValueError for an unknown kind or an empty title)."""
    parsed = parse_kind(kind)
    if not str(title).strip():
        raise ValueError("an alert needs a title")
    return Alert(kind=parsed.value,
                 title=_clip(redact(str(title), secrets), MAX_TITLE),
                 body=_clip(redact(str(body), secrets), MAX_BODY),
                 fields=_safe_fields(fields, secrets),
                 key=_clip(str(key), MAX_FIELD_NAME), environment=environment,
                 created_at=created_at)
