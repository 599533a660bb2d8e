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

import itertools
import math
import secrets
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

MIN_SECRET_LENGTH = 50
MIN_SECRET_BITS = 128.0
MIN_BITS_PER_CHAR = 3.0
# A random key does not compress; a repeated pattern ("Ab3$"*13) does, however many symbols.
MIN_COMPRESSION_RATIO = 0.75

# Orderings a person types or counts along: a character that follows its predecessor in one of
# them (either direction) or repeats it adds almost nothing an attacker must guess. Digits run
# into letters so "...789abc..." is one run; keyboard rows (plain and shifted) catch "qwertyuiop".
PREDICTABLE_SEQUENCES: tuple[str, ...] = (
    "0123456789abcdefghijklmnopqrstuvwxyz",
    "`1234567890-=",
    "~!@#$%^&*()_+",
    "qwertyuiop[]\\",
    "asdfghjkl;'",
    "zxcvbnm,./",
    "qwertzuiop",  # QWERTZ
    "azertyuiop",  # AZERTY
)
# Bits credited to a predictable character: which ordering and which direction, not which symbol.
PREDICTABLE_CHAR_BITS = 1.0

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


def throwaway_secret() -> str:
    """A random stand-in for an unset key while check_production lists the problems."""
    return secrets.token_urlsafe(64)


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


def _predictable_pairs() -> frozenset[tuple[str, str]]:
    pairs = set()
    for sequence in PREDICTABLE_SEQUENCES:
        for a, b in itertools.pairwise(sequence):
            pairs.update({(a, b), (b, a)})
    return frozenset(pairs)


_PREDICTABLE_PAIRS = _predictable_pairs()


def predictable_chars(value: str) -> int:
    """How many characters repeat or continue a sequential/keyboard run from the one before.

    Case is ignored ("aBcD" is a run). A random 64-character url-safe key has about three such
    characters by chance; "0123...XYZabc...xyz" or "qwertyuiop..." has almost nothing else.
    """
    lowered = value.lower()
    return sum(1 for a, b in itertools.pairwise(lowered)
               if a == b or (a, b) in _PREDICTABLE_PAIRS)


def effective_bits(value: str) -> float:
    """Shannon bits of the characters an attacker cannot predict from the previous one.

    Shannon's formula only counts symbol frequencies, so a 62-character alphabet walk scores as
    high as a random key; discounting run characters makes such keys fail the bits rule.
    """
    per_char, _ = entropy_bits(value)
    runs = predictable_chars(value)
    return per_char * (len(value) - runs) + PREDICTABLE_CHAR_BITS * runs


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
    per_char, _ = entropy_bits(value)
    ratio = len(zlib.compress(value.encode(), 9)) / max(len(value.encode()), 1)
    if (per_char < MIN_BITS_PER_CHAR or effective_bits(value) < MIN_SECRET_BITS
            or ratio < MIN_COMPRESSION_RATIO):
        problems.append(Problem(
            "nusatrade.E004", setting,
            f"has too little entropy (needs at least {MIN_SECRET_BITS:.0f} bits, "
            f"{MIN_BITS_PER_CHAR:.0f} bits per character, no repeated pattern and no "
            "sequential or keyboard run)",
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


POSTGRESQL_ENGINES = ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2")


def _validate_services(database_engine: str, redis_url: str | None) -> list[Problem]:
    problems = []
    # Only PostgreSQL is tested for the race-safe order paths (row locks, partial unique
    # indexes, COPY): SQLite, MySQL and the rest are refused alike.
    if database_engine not in POSTGRESQL_ENGINES:
        problems.append(Problem("nusatrade.E009", "DATABASE_URL",
                                "must point at PostgreSQL in production (SQLite is the demo "
                                "default only; no other database is supported)",
                                "DATABASE_URL=postgres://user@host:5432/db"))
    if not redis_url:
        problems.append(Problem("nusatrade.E010", "REDIS_URL",
                                "is required in production (rate limits, cache and Celery)",
                                "REDIS_URL=redis://host:6379/0"))
    return problems


def _validate_protections(*, ratelimit_enable: bool, ratelimit_fail_open: bool,
                          celery_eager: bool) -> list[Problem]:
    """Switches that exist for development and tests; each one disables a production defence."""
    problems = []
    if not ratelimit_enable:
        problems.append(Problem("nusatrade.E011", "RATELIMIT_ENABLE",
                                "must be on in production (login and trading rate limits)",
                                "unset RATELIMIT_ENABLE or set RATELIMIT_ENABLE=True"))
    if ratelimit_fail_open:
        problems.append(Problem("nusatrade.E012", "RATELIMIT_FAIL_OPEN",
                                "must be off in production (a Redis outage would lift every "
                                "limit)", "unset RATELIMIT_FAIL_OPEN or set it to False"))
    if celery_eager:
        problems.append(Problem("nusatrade.E013", "CELERY_TASK_ALWAYS_EAGER",
                                "must be off in production (tasks would run inside web "
                                "requests, without retries or time limits)",
                                "unset CELERY_TASK_ALWAYS_EAGER and run a Celery worker"))
    return problems


LOCAL_DATABASE_HOSTS = ("", "localhost", "127.0.0.1", "::1", "[::1]")


def is_local_database_host(host: str | None) -> bool:
    """True for loopback, a Unix socket directory or no host (SQLite, libpq's default)."""
    host = (host or "").strip().lower()
    return host in LOCAL_DATABASE_HOSTS or host.startswith(("/", "127."))


def development_problems(*, database_engine: str, database_host: str | None,
                         allow_remote_database: bool) -> list[Problem]:
    """Rules for the development mode (the default when NUSATRADE_ENV is unset).

    Development runs with DEBUG on and the published development keys, so pointing it at a
    database on another machine (a forgotten ``NUSATRADE_ENV=production`` on a server) would
    serve that database with tracebacks and forgeable sessions and tokens.
    """
    if allow_remote_database or "sqlite" in database_engine:
        return []
    if is_local_database_host(database_host):
        return []
    return [Problem("nusatrade.E014", "DATABASE_URL",
                    "development mode (DEBUG, published keys) refuses a database that is not "
                    "on this machine",
                    "set NUSATRADE_ENV=production with production settings, use a local "
                    "database, or set DEV_ALLOW_REMOTE_DATABASE=True for a development "
                    "database on another host")]


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
    ratelimit_enable: bool,
    ratelimit_fail_open: bool,
    celery_eager: bool,
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
        *_validate_protections(ratelimit_enable=ratelimit_enable,
                               ratelimit_fail_open=ratelimit_fail_open,
                               celery_eager=celery_eager),
    ]
    if cors_allow_all:
        problems.append(Problem("nusatrade.E007", "CORS_ALLOW_ALL_ORIGINS",
                                "must be off in production", "list CORS_ALLOWED_ORIGINS instead"))
    return problems


def format_problems(problems: Iterable[Problem], mode: str = "production") -> str:
    lines = [f"  - {p}" for p in problems]
    return f"NusaTrade refuses to start in {mode}:\n" + "\n".join(lines)
