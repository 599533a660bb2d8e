"""The per-account cycle lock (RELIABILITY 8): one run at a time, killed holders release it.

The contention and kill tests use real separate processes (``trading.tests.lock_holder``) on
real PostgreSQL, and on the file-lock fallback of the embedded default.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.helpers import ROOT, clean_env
from trading.cycle import lock as lock_module
from trading.cycle.lock import (
    KEEPALIVE_BOUND_SECONDS,
    AccountLock,
    LockLost,
    LockUnavailable,
    _FileLock,
    account_lock,
    lock_key,
)

ACCOUNT = 4242


class Holder:
    """A lock_holder subprocess: ``state`` is "acquired" or "skipped" once it has tried."""

    def __init__(self, env: dict[str, str], account_id: int = ACCOUNT) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trading.tests.lock_holder", str(account_id)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.state = ""
        self.backend = ""

    def result(self) -> str:
        """Block until the holder has tried the lock; its answer."""
        line = self.proc.stdout.readline().split()
        if not line:
            raise AssertionError(f"lock holder died: {self.proc.stderr.read()}")
        self.state, self.backend = line
        return self.state

    def let_go(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=60)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)


def _postgres_env() -> dict[str, str]:
    db = connection.settings_dict  # the test database pytest-django created
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return clean_env(DATABASE_URL=url, NUSATRADE_ENV="test")


def _file_env(var_dir: Path) -> dict[str, str]:
    return clean_env(NUSATRADE_ENV="test", NUSATRADE_VAR_DIR=str(var_dir))


def _acquire_within(make_lock, seconds: float) -> AccountLock | _FileLock | None:
    """Poll once per 0.1 s until the lock is ours or ``seconds`` pass (a bounded wait for the
    server to notice a dead session; not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while True:
        lock = make_lock()
        if lock.acquire():
            return lock
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def test_lock_key_is_a_stable_signed_64_bit_number_per_name_and_account():
    assert lock_key("cycle", 1) == lock_key("cycle", 1)
    assert len({lock_key("cycle", 1), lock_key("cycle", 2), lock_key("replay", 1)}) == 3
    keys = [lock_key("cycle", n) for n in range(200)]
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert min(keys) < 0 < max(keys)


# --- PostgreSQL advisory lock -----------------------------------------------------------------


@pytest.mark.services("postgres")
@pytest.mark.django_db
def test_two_processes_contend_one_runs_the_other_is_skipped():
    env = _postgres_env()
    first, second = Holder(env), Holder(env)
    try:
        assert sorted([first.result(), second.result()]) == ["acquired", "skipped"]
        assert first.backend == second.backend == "postgres-advisory"
    finally:
        assert first.let_go() == 0 and second.let_go() == 0


@pytest.mark.services("postgres")
@pytest.mark.django_db
def test_a_run_while_another_process_holds_the_lock_logs_skipped(caplog):
    holder = Holder(_postgres_env())
    assert holder.result() == "acquired"
    with caplog.at_level(logging.INFO, logger="nusatrade.trading.cycle"), \
            account_lock(ACCOUNT) as lock:
        assert lock.backend == "postgres-advisory"
        assert lock.acquired is False
        with pytest.raises(LockLost):
            lock.ensure_held()
    assert f"cycle for account {ACCOUNT} skipped" in caplog.text
    assert holder.let_go() == 0
    with account_lock(ACCOUNT) as lock:  # released by the holder's normal exit
        assert lock.acquired


@pytest.mark.services("postgres")
@pytest.mark.django_db
def test_a_sigkilled_holder_releases_the_lock_to_the_next_run():
    holder = Holder(_postgres_env())
    assert holder.result() == "acquired"
    assert AccountLock(ACCOUNT).acquire() is False
    holder.kill()
    lock = _acquire_within(lambda: AccountLock(ACCOUNT), KEEPALIVE_BOUND_SECONDS)
    assert lock is not None, "the dead holder's lock was never released"
    lock.ensure_held()
    lock.release()


@pytest.mark.services("postgres")
@pytest.mark.django_db
def test_the_lock_is_per_account_and_per_name():
    holder = Holder(_postgres_env())
    assert holder.result() == "acquired"
    try:
        with account_lock(ACCOUNT + 1) as other_account, \
                account_lock(ACCOUNT, name="replay") as other_name:
            assert other_account.acquired and other_name.acquired
    finally:
        assert holder.let_go() == 0


@pytest.mark.services("postgres")
@pytest.mark.django_db
@pytest.mark.parametrize("sign", [-1, 1])
def test_ensure_held_raises_once_the_lock_session_is_gone(sign):
    account = next(n for n in range(1, 1000) if lock_key("cycle", n) * sign > 0)
    with account_lock(account) as lock:
        lock.ensure_held()  # held: the pg_locks lookup finds our key (either sign)
        with connection.cursor() as cursor:
            # Advisory keys are per database: only this test database's holder (another
            # run's lock on the same key in another database must not be killed).
            cursor.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND "
                           "database = (SELECT oid FROM pg_database "
                           "WHERE datname = current_database()) AND "
                           "((classid::bigint << 32) | objid::bigint) = %s",
                           [lock_key("cycle", account)])
            (pid,) = cursor.fetchone()
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(LockLost, match=f"cycle:{account}"):
            lock.ensure_held()
    with account_lock(account) as again:
        assert again.acquired


@pytest.mark.services("postgres")
@pytest.mark.django_db
def test_database_unreachable_refuses_to_run(monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = {**connection.settings_dict, "PORT": port, "HOST": "127.0.0.1"}
    monkeypatch.setattr(lock_module, "_database_settings", lambda: closed)
    with pytest.raises(LockUnavailable, match="database unreachable"), account_lock(ACCOUNT):
        pytest.fail("the block must not run without the lock service")


# --- file lock (embedded default) --------------------------------------------------------------

def test_file_lock_excludes_a_second_holder_until_released(tmp_path):
    path = tmp_path / "locks" / "cycle-1.lock"
    first, second = _FileLock(path, "cycle:1"), _FileLock(path, "cycle:1")
    assert first.acquire() is True
    assert second.acquire() is False
    first.release()
    assert second.acquire() is True
    assert second.held()
    second.release()
    assert not second.held()


def test_file_lock_two_processes_contend_one_runs_the_other_is_skipped(tmp_path):
    env = _file_env(tmp_path)
    first, second = Holder(env), Holder(env)
    try:
        assert sorted([first.result(), second.result()]) == ["acquired", "skipped"]
        assert first.backend == second.backend == "file"
    finally:
        assert first.let_go() == 0 and second.let_go() == 0


def test_file_lock_held_by_a_sigkilled_process_is_free_at_once(tmp_path):
    holder = Holder(_file_env(tmp_path))
    assert holder.result() == "acquired"
    path = tmp_path / "locks" / f"cycle-{ACCOUNT}.lock"
    assert _FileLock(path, "probe").acquire() is False
    holder.kill()
    lock = _acquire_within(lambda: _FileLock(path, "probe"), 5)
    assert lock is not None
    lock.release()


def test_file_lock_in_an_unwritable_place_is_unavailable(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(LockUnavailable, match="cannot open"):
        _FileLock(blocker / "cycle-1.lock", "cycle:1").acquire()
