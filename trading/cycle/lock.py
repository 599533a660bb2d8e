"""The per-account cycle lock: never two cycles at once for one account (RELIABILITY 8).

Usage (the cycle, replay)::

    with account_lock(account.pk) as lock:
        if not lock.acquired:
            return "skipped"          # already logged: another run holds the lock
        ...
        lock.ensure_held()            # before anything irreversible (raises LockLost)

Why a PostgreSQL session-level advisory lock and not Redis ``SET NX PX``:

- *A killed holder releases it by itself, at once, with no expiry to tune.* The lock lives as
  long as the holder's database session. A SIGKILLed worker's socket is closed by its kernel
  and PostgreSQL ends the session (and drops the lock) immediately; a holder whose host
  vanishes is detected by the TCP keepalives set on the lock's session (about
  ``KEEPALIVE_BOUND_SECONDS``). A Redis lease has to guess an expiry: too short and a slow but
  healthy cycle loses its lock while it is placing an order (two cycles trade), too long and a
  killed holder blocks the next bars.
- *An outage halts safely instead of trading twice.* The cycle cannot run without PostgreSQL
  (the order outbox lives there), so using it for the lock adds no failure mode. If the lock's
  connection cannot be opened, :class:`LockUnavailable` is raised and the cycle does not run;
  if the connection dies mid-cycle the lock is gone, and :meth:`AccountLock.ensure_held` raises
  :class:`LockLost` so the cycle stops before its next irreversible step. With Redis, the
  default cache ignores exceptions (a dead Redis would read as "somebody else holds it") and a
  Redis outage would stop trading although the database is fine.
- The lock has its own dedicated connection, never Django's request/task connection: that one
  is closed and reopened by ``CONN_MAX_AGE``/health checks, which would silently drop the lock,
  and a session lock on it would outlive the cycle if a release were missed.

Not behind PgBouncer in transaction-pooling mode: session advisory locks need a real session
(point the workers at PostgreSQL or a session-pooled port).

Fallback for the embedded default (SQLite, one machine): an exclusive non-blocking ``flock``
on ``var/locks/<name>-<account>.lock`` (``msvcrt.locking`` on Windows). The kernel drops it
when the holding process dies, so it has the same "killed holder releases at once" property,
across processes on the host, without any expiry. (A ``cache.add`` lease would not work there:
the embedded cache is per-process memory.)

The lock is not the order path's only guard: ``order_place`` is idempotent per (account,
model, bar, purpose) in the database, so even a lock lost at the worst moment cannot place a
second order for the same bar. The lock keeps the *cycles* from overlapping (and logging,
recording HOLDs and managing positions twice).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.utils import load_backend

from nusatrade.errors import NusaTradeError

logger = logging.getLogger("nusatrade.trading.cycle")

# Server-side TCP keepalives on the lock's session: a holder whose machine disappears (no FIN
# ever sent) is detected after idle + interval * count seconds and its lock released.
KEEPALIVE_IDLE_SECONDS = 10
KEEPALIVE_INTERVAL_SECONDS = 5
KEEPALIVE_COUNT = 3
KEEPALIVE_BOUND_SECONDS = KEEPALIVE_IDLE_SECONDS + KEEPALIVE_INTERVAL_SECONDS * KEEPALIVE_COUNT
_LOCK_ALIAS = "cycle_lock"


class LockUnavailable(NusaTradeError):
    """The lock service itself failed (database unreachable): do not run the cycle."""


class LockLost(NusaTradeError):
    """The lock was held but its session is gone: stop before the next irreversible step."""


def lock_key(name: str, account_id: int) -> int:
    """The signed 64-bit advisory-lock key of (name, account): stable across processes and
    releases (a hash, so names need no registry; a collision would only serialise two
    accounts' cycles, never let two cycles of one account overlap)."""
    digest = hashlib.blake2b(f"nusatrade:{name}:{account_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _database_settings() -> dict:
    return connections[DEFAULT_DB_ALIAS].settings_dict


class _AdvisoryLock:
    """``pg_try_advisory_lock`` on a dedicated autocommit connection."""

    def __init__(self, key: int, label: str) -> None:
        self.key = key
        self.label = label
        self._wrapper = None

    def acquire(self) -> bool:
        database = _database_settings()
        wrapper = load_backend(database["ENGINE"]).DatabaseWrapper(dict(database), _LOCK_ALIAS)
        try:
            with wrapper.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('application_name', %s, false), "
                    "set_config('tcp_keepalives_idle', %s, false), "
                    "set_config('tcp_keepalives_interval', %s, false), "
                    "set_config('tcp_keepalives_count', %s, false)",
                    [f"nusatrade lock {self.label}"[:63], str(KEEPALIVE_IDLE_SECONDS),
                     str(KEEPALIVE_INTERVAL_SECONDS), str(KEEPALIVE_COUNT)])
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
                acquired = bool(cursor.fetchone()[0])
        except DatabaseError as exc:
            _close_quietly(wrapper)
            raise LockUnavailable(f"cycle lock {self.label}: database unreachable "
                                  f"({type(exc).__name__})") from exc
        if acquired:
            self._wrapper = wrapper
        else:
            _close_quietly(wrapper)
        return acquired

    def held(self) -> bool:
        if self._wrapper is None:
            return False
        try:
            with self._wrapper.cursor() as cursor:
                # Our own backend's granted advisory lock with this key (the 64-bit key is
                # split into classid/objid in pg_locks).
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() "
                    "AND ((classid::bigint << 32) | objid::bigint) = %s", [self.key])
                return cursor.fetchone()[0] > 0
        except DatabaseError:
            return False

    def release(self) -> None:
        wrapper, self._wrapper = self._wrapper, None
        if wrapper is None:
            return
        try:
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])
        except DatabaseError:
            pass  # the session is gone, and the lock with it
        finally:
            _close_quietly(wrapper)


def _close_quietly(wrapper) -> None:
    with contextlib.suppress(Exception):
        wrapper.close()


class _FileLock:
    """An exclusive non-blocking OS file lock: released by the kernel when the holder dies."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self._fd: int | None = None

    def acquire(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise LockUnavailable(f"cycle lock {self.label}: cannot open {self.path} "
                                  f"({exc.strerror})") from exc
        try:
            _os_lock(fd)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                _os_unlock(fd)
            os.close(fd)


if os.name == "nt":  # pragma: no cover - the embedded default on Windows
    import msvcrt

    def _os_lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _os_unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _os_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _os_unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class AccountLock:
    """One attempt at the lock of (``name``, ``account_id``); see the module docstring."""

    def __init__(self, account_id: int, name: str = "cycle") -> None:
        self.account_id = account_id
        self.name = name
        self.label = f"{name}:{account_id}"
        self.acquired = False
        if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
            self.backend = "postgres-advisory"
            self._impl = _AdvisoryLock(lock_key(name, account_id), self.label)
        else:
            self.backend = "file"
            path = Path(settings.VAR_DIR) / "locks" / f"{name}-{account_id}.lock"
            self._impl = _FileLock(path, self.label)

    def acquire(self) -> bool:
        """Try once, never wait: True when this run now holds the lock."""
        self.acquired = self._impl.acquire()
        return self.acquired

    def ensure_held(self) -> None:
        """Raise LockLost unless the lock is still ours (its session may have died)."""
        if not (self.acquired and self._impl.held()):
            raise LockLost(f"{self.label}: the lock is no longer held; stopping this run")

    def release(self) -> None:
        if self.acquired:
            self.acquired = False
            self._impl.release()


@contextlib.contextmanager
def account_lock(account_id: int, name: str = "cycle") -> Iterator[AccountLock]:
    """Hold the (``name``, account) lock for the block if free; if not, log "skipped" and
    yield a lock whose ``acquired`` is False. Raises LockUnavailable when the lock service is
    down (the caller must not run without it)."""
    lock = AccountLock(account_id, name)
    if not lock.acquire():
        logger.info("%s for account %s skipped: another run holds its lock (%s)",
                    name, account_id, lock.backend)
    try:
        yield lock
    finally:
        lock.release()
