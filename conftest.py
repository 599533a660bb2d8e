"""Project-wide pytest setup: real services when configured, loud failure when required.

``@pytest.mark.services("postgres", "redis", "celery")`` marks a test that is *about* a real
service. Without the service configured it is skipped with the reason (a newcomer's bare
machine); with ``REQUIRE_SERVICES=1`` (CI) a missing or unreachable service fails the run.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1",
                                       parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def service_status() -> dict[str, str | None]:
    """Name -> None when usable, else why not."""
    db_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    status: dict[str, str | None] = {}
    if not db_url.startswith(("postgres://", "postgresql://")):
        status["postgres"] = "DATABASE_URL is not a postgres:// URL"
    elif not _reachable(db_url, 5432):
        status["postgres"] = f"PostgreSQL at {urlparse(db_url).hostname} is unreachable"
    else:
        status["postgres"] = None
    if not redis_url:
        status["redis"] = "REDIS_URL is not set"
    elif not _reachable(redis_url, 6379):
        status["redis"] = f"Redis at {urlparse(redis_url).hostname} is unreachable"
    else:
        status["redis"] = None
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
        status["rabbitmq"] = (None if _reachable(broker_url, 5672) else
                              f"RabbitMQ at {urlparse(broker_url).hostname} is unreachable")
    else:
        status["rabbitmq"] = "CELERY_BROKER_URL is not an amqp:// URL"
    # A real Celery worker needs its broker (Redis, or RabbitMQ when CELERY_BROKER_URL says
    # amqp://; results stay on Redis) and PostgreSQL to share rows with the test.
    broker = status["rabbitmq"] if broker_url.startswith(("amqp", "pyamqp")) else None
    status["celery"] = broker or status["redis"] or status["postgres"]
    return status


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_SERVICES:
        # RabbitMQ is required only when this run is pointed at it (CELERY_BROKER_URL).
        missing = {k: v for k, v in service_status().items() if v and not (
            k == "rabbitmq" and not os.environ.get("CELERY_BROKER_URL", "").startswith(
                ("amqp", "pyamqp")))}
        if missing:
            raise pytest.UsageError(
                "REQUIRE_SERVICES=1 but services are missing: "
                + "; ".join(f"{k}: {v}" for k, v in missing.items())
            )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    status = service_status()
    for item in items:
        marker = item.get_closest_marker("services")
        if not marker:
            continue
        if {"celery", "rabbitmq"} & set(marker.args):
            item.add_marker(pytest.mark.real_worker)  # .ci/run reruns these on RabbitMQ
        problems = [f"{name}: {status.get(name, 'unknown service')}"
                    for name in marker.args if status.get(name, "unknown service")]
        if problems and not REQUIRE_SERVICES:
            item.add_marker(pytest.mark.skip(reason="needs " + "; ".join(problems)))


@pytest.fixture(autouse=True)
def _isolated_caches():
    """Each test starts with empty caches: rate-limit counters must not leak between tests."""
    from django.core.cache import caches

    for alias in ("default", "ratelimit"):
        # A cache pointed at a dead server has nothing to clear.
        with contextlib.suppress(Exception):
            caches[alias].clear()
    yield


def _worker_env() -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict  # the TEST database pytest-django created
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    return {**os.environ,
            "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
            "ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR),
            "CELERY_TASK_ALWAYS_EAGER": "false"}


def _wait_until_ready(app, hostname: str, proc, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}")
        if app.control.ping(destination=[hostname], timeout=1.0):
            return
    raise RuntimeError(f"celery worker {hostname} did not answer within {timeout}s")


@contextlib.contextmanager
def celery_worker_started(queues: list[str], log_path, *, include: str = "",
                          name: str = "") -> Iterator[str]:
    """Start a REAL Celery worker (subprocess, solo pool) consuming ``queues``; yield its
    hostname. It shares the test database and the broker this run is configured with (Redis,
    or RabbitMQ when ``CELERY_BROKER_URL`` is amqp://). ``include``: extra task modules."""
    import subprocess
    import sys
    from pathlib import Path

    from nusatrade.celery import app

    hostname = f"{name or queues[0]}@localhost"  # tests address "<queue>@localhost"
    extra = ["--include", include] if include else []
    log = open(log_path, "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "nusatrade", "worker", "--pool=solo",
         "-Q", ",".join(queues), "-n", hostname, "--without-heartbeat", "--without-gossip",
         "--without-mingle", "-l", "INFO", *extra],
        cwd=Path(__file__).resolve().parent, env=_worker_env(), stdout=log,
        stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(app, hostname, proc, timeout=60)
        yield hostname
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        _queues_delete(queues)


def _queues_delete(queues: list[str]) -> None:
    """Private test queues must not pile up on a shared broker (RabbitMQ keeps them)."""
    from nusatrade.celery import app

    with contextlib.suppress(Exception), app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_delete(queue)


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A REAL Celery worker (subprocess) on a private queue, sharing the test database.

    Yields the queue name; send tasks with ``apply_async(queue=queue)``. Rows the test commits
    are visible to it; it inherits ``settings.ARTIFACTS_DIR``. Tests using it need
    ``@pytest.mark.services("celery")`` (broker + PostgreSQL both processes see).
    The worker's log is ``tmp_path / "worker.log"``.
    """
    import uuid

    queue = f"test-{uuid.uuid4().hex[:8]}"
    with celery_worker_started([queue], tmp_path / "worker.log"):
        yield queue


@pytest.fixture(autouse=True)
def _reference_rows(request: pytest.FixtureRequest):
    """Every DB test sees the rows the data migrations seed (instruments, role groups).

    A transactional test ends with a flush that wipes them, and the tests after it would then
    miss them. Re-seeding here (idempotent get_or_create) is order-independent, unlike
    ``serialized_rollback``, which collides with re-created content types on PostgreSQL.
    """
    marker = request.node.get_closest_marker("django_db")
    wanted = {"db", "transactional_db"} & set(request.fixturenames)
    if marker is None and not wanted:
        yield
        return
    transactional = "transactional_db" in wanted or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from importlib import import_module

    from django.contrib.auth.models import Group

    from trading.models import Instrument

    for spec in import_module("trading.migrations.0002_instruments").INSTRUMENTS:
        Instrument.objects.get_or_create(symbol=spec["symbol"], defaults=spec)
    for name in import_module("accounts.migrations.0002_roles").ROLES:
        Group.objects.get_or_create(name=name)
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Test-only: the production hasher costs ~0.3 s per login and per user created.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
