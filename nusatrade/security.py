"""Production safety rules (pure: no Django imports).

One function, :func:`production_problems`, inspects the effective configuration and returns
every rule it breaks. The same list is used three ways:

* at start-up, by ``settings.py``, which refuses to load in production when the list is not
  empty (so web, worker, beat and every management command stop);
* as Django system checks (``nusatrade.E001``...) for ``manage.py check``;
* by ``manage.py check_production``, which prints them all and exits non-zero.

Messages name the setting and the rule, never the value: a secret must not reach a log.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

MIN_SECRET_LENGTH = 50
MIN_SECRET_BITS = 128.0
MIN_BITS_PER_CHAR = 3.0
# A random key does not compress; a repeated pattern ("Ab3$"*13) does, however many symbols.
MIN_COMPRESSION_RATIO = 0.75

GENERATE_HINT = (
    "generate one with: python -c \"import secrets; print(secrets.token_urlsafe(64))\""
)

# Values copied from examples, tutorials and our own development defaults. Compared
# case-insensitively as prefixes/substrings, so "changeme-123..." is caught too.
KNOWN_EXAMPLE_FRAGMENTS: tuple[str, ...] = (
    "django-insecure",
    "nusatrade-development-only",
    "nusatrade-example",
    "changeme",
    "change-me",
    "change_me",
    "your-secret-key",
    "your_secret_key",
    "secret-key-here",
    "replace-me",
    "insecure",
    "example",
    "password",
    "xxxxxxxx",
)

# Runs bypassed by the start-up guard so that ``manage.py check_production`` can report every
# problem instead of dying on the first. Set only from inside the process (manage.py), never
# from the environment, so an operator cannot switch the guard off by configuration.
_startup_guard_deferred = False


def defer_startup_guard() -> None:
    global _startup_guard_deferred
    _startup_guard_deferred = True


def startup_guard_deferred() -> bool:
    return _startup_guard_deferred


@dataclass(frozen=True)
class Problem:
    id: str
    setting: str
    rule: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.id} {self.setting}: {self.rule}"
        return f"{text} (hint: {self.hint})" if self.hint else text


def entropy_bits(value: str) -> tuple[float, float]:
    """Return (bits per character, total bits) by Shannon's formula over the characters."""
    if not value:
        return 0.0, 0.0
    counts = Counter(value)
    n = len(value)
    per_char = -sum(c / n * math.log2(c / n) for c in counts.values())
    return per_char, per_char * n


def _validate_secret(setting: str, value: str | None, min_length: int) -> list[Problem]:
    if not value:
        return [Problem("nusatrade.E001", setting, "is required in production and is not set",
                        GENERATE_HINT)]
    problems = []
    if len(value) < min_length:
        problems.append(Problem("nusatrade.E002", setting,
                                f"must be at least {min_length} characters long", GENERATE_HINT))
    lowered = value.lower()
    if any(fragment in lowered for fragment in KNOWN_EXAMPLE_FRAGMENTS):
        problems.append(Problem("nusatrade.E003", setting,
                                "is a known example or default value", GENERATE_HINT))
    per_char, total = entropy_bits(value)
    ratio = len(zlib.compress(value.encode(), 9)) / max(len(value.encode()), 1)
    if per_char < MIN_BITS_PER_CHAR or total < MIN_SECRET_BITS or ratio < MIN_COMPRESSION_RATIO:
        problems.append(Problem(
            "nusatrade.E004", setting,
            f"has too little entropy (needs at least {MIN_SECRET_BITS:.0f} bits, "
            f"{MIN_BITS_PER_CHAR:.0f} bits per character and no repeated pattern)",
            GENERATE_HINT))
    return problems


def _validate_distinct_keys(secret_key: str | None, jwt_key: str | None) -> list[Problem]:
    if secret_key and jwt_key and secret_key == jwt_key:
        return [Problem("nusatrade.E005", "JWT_SIGNING_KEY", "must differ from SECRET_KEY",
                        "use a separate random value so one leak does not expose both")]
    return []


def _validate_debug(debug: bool) -> list[Problem]:
    if debug:
        return [Problem("nusatrade.E006", "DEBUG", "must be off in production",
                        "unset DEBUG or set DEBUG=False")]
    return []


def _validate_hosts(setting: str, values: Iterable[str], *, required: bool) -> list[Problem]:
    values = list(values)
    if any(v.strip() == "*" or v.strip().rsplit("//", 1)[-1] == "*" for v in values):
        return [Problem("nusatrade.E007", setting, "must not contain '*' in production",
                        "list the exact hosts/origins")]
    if required and not values:
        return [Problem("nusatrade.E008", setting, "must list at least one host in production",
                        "e.g. ALLOWED_HOSTS=trade.example.com")]
    return []


def _validate_services(database_engine: str, redis_url: str | None) -> list[Problem]:
    problems = []
    if "sqlite" in database_engine:
        problems.append(Problem("nusatrade.E009", "DATABASE_URL",
                                "must point at PostgreSQL in production (SQLite is the demo "
                                "default only)", "DATABASE_URL=postgres://user@host:5432/db"))
    if not redis_url:
        problems.append(Problem("nusatrade.E010", "REDIS_URL",
                                "is required in production (rate limits, cache and Celery)",
                                "REDIS_URL=redis://host:6379/0"))
    return problems


def production_problems(
    *,
    secret_key: str | None,
    jwt_signing_key: str | None,
    debug: bool,
    allowed_hosts: Iterable[str],
    cors_allowed_origins: Iterable[str],
    cors_allow_all: bool,
    database_engine: str,
    redis_url: str | None,
) -> list[Problem]:
    """Every production rule the given configuration breaks (empty list: safe to start)."""
    problems = [
        *_validate_secret("SECRET_KEY", secret_key, MIN_SECRET_LENGTH),
        *_validate_secret("JWT_SIGNING_KEY", jwt_signing_key, MIN_SECRET_LENGTH),
        *_validate_distinct_keys(secret_key, jwt_signing_key),
        *_validate_debug(debug),
        *_validate_hosts("ALLOWED_HOSTS", allowed_hosts, required=True),
        *_validate_hosts("CORS_ALLOWED_ORIGINS", cors_allowed_origins, required=False),
        *_validate_services(database_engine, redis_url),
    ]
    if cors_allow_all:
        problems.append(Problem("nusatrade.E007", "CORS_ALLOW_ALL_ORIGINS",
                                "must be off in production", "list CORS_ALLOWED_ORIGINS instead"))
    return problems


def format_problems(problems: Iterable[Problem]) -> str:
    lines = [f"  - {p}" for p in problems]
    return "NusaTrade refuses to start in production:\n" + "\n".join(lines)
