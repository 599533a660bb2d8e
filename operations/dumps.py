"""Database dumps, scratch restores, file hashes and retention (pure: no Django imports).

PostgreSQL: the row counts, the migration state and ``pg_dump -Fc`` all read ONE snapshot
(a REPEATABLE READ transaction exports it, ``pg_dump --snapshot`` uses it), so the manifest
describes exactly what the dump holds even while trading writes. A dump is verified by a real
restore into a scratch database: a truncated ``-Fc`` file still passes ``pg_restore --list``
(RELIABILITY.md), only a restore reads every table's data.

SQLite (the embedded default): the sqlite3 backup API copies a consistent image; verifying it
is ``PRAGMA integrity_check`` plus the row counts of the copy.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nusatrade.errors import NusaTradeError

CHUNK = 1 << 20
MIGRATIONS_TABLE = "django_migrations"


class BackupError(NusaTradeError):
    """A backup or restore step failed; the message says which step and why."""


# --- Files ----------------------------------------------------------------------------------

def sha256_file(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size in bytes) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def files_describe(root: Path, relpaths: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{relative path: {"sha256", "size"}} of files under ``root``."""
    described = {}
    for rel in sorted(relpaths):
        sha, size = sha256_file(root / rel)
        described[rel] = {"sha256": sha, "size": size}
    return described


def files_problems(root: Path, files: dict[str, dict[str, Any]]) -> list[str]:
    """What is wrong with the files a manifest lists (empty: every file present and intact)."""
    problems = []
    for rel, expected in sorted(files.items()):
        path = root / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            problems.append(f"{rel}: path escapes the backup directory")
        elif not path.is_file():
            problems.append(f"{rel}: missing")
        else:
            sha, size = sha256_file(path)
            if size != expected.get("size"):
                problems.append(f"{rel}: {size} bytes, the manifest says {expected.get('size')}"
                                " (truncated or altered)")
            elif sha != expected.get("sha256"):
                problems.append(f"{rel}: SHA-256 {sha[:12]}... differs from the manifest's "
                                f"{str(expected.get('sha256'))[:12]}... (corrupted)")
    return problems


def count_differences(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    """Tables whose row counts differ (a table missing on either side counts as a difference)."""
    out = []
    for table in sorted(set(expected) | set(actual)):
        want, got = expected.get(table), actual.get(table)
        if want != got:
            out.append(f"{table}: manifest {want if want is not None else 'absent'}, "
                       f"restored {got if got is not None else 'absent'}")
    return out


# --- PostgreSQL -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PgTarget:
    """How to reach a PostgreSQL server (and which database)."""

    dbname: str
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    connect_timeout: int = 10

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "PGCONNECT_TIMEOUT": str(self.connect_timeout), **extra}
        env.pop("PGPASSWORD", None)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def cli_args(self, dbname: str | None = None) -> list[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", self.user,
                "-d", dbname or self.dbname]

    def connect(self, dbname: str | None = None, autocommit: bool = True) -> Any:
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.user,
                               password=self.password or None, dbname=dbname or self.dbname,
                               connect_timeout=self.connect_timeout, autocommit=autocommit)


def pg_counts(conn: Any) -> dict[str, int]:
    """Row count of every table in the ``public`` schema."""
    from psycopg import sql

    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
    return {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t)))
            .fetchone()[0] for t in tables}


def pg_migrations(conn: Any) -> list[list[str]]:
    exists = conn.execute("SELECT to_regclass('public.django_migrations')").fetchone()[0]
    if exists is None:
        return []
    return [[a, n] for a, n in conn.execute(
        "SELECT app, name FROM django_migrations ORDER BY app, name")]


def _run(args: list[str], env: dict[str, str], step: str, timeout: float | None = None) -> None:
    try:
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise BackupError(f"{step}: {args[0]} is not installed ({exc})") from exc
    except subprocess.TimeoutExpired as exc:
        raise BackupError(f"{step}: {args[0]} did not finish within {timeout} s") from exc
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise BackupError(f"{step}: {args[0]} exited {result.returncode}: " + " | ".join(tail))


def pg_dump_snapshot(target: PgTarget, out: Path) -> dict[str, Any]:
    """``pg_dump -Fc`` of ``target`` into ``out`` plus the row counts and migration state of
    the very same snapshot. Returns {"row_counts", "migrations", "server_version"}."""
    with target.connect(autocommit=False) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        counts = pg_counts(conn)
        migrations = pg_migrations(conn)
        version = conn.execute("SHOW server_version").fetchone()[0]
        # The exporting transaction must stay open while pg_dump imports its snapshot.
        _run(["pg_dump", "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
              "-f", str(out), *target.cli_args()], target.env(), "pg_dump")
        conn.rollback()
    return {"row_counts": counts, "migrations": migrations, "server_version": version}


def pg_restore(target: PgTarget, dump: Path, *, dbname: str | None = None, clean: bool = False,
               lock_timeout_ms: int | None = None) -> None:
    """Restore ``dump`` into ``dbname`` (default: the target's) in ONE transaction: any error
    (a truncated file, a lock not granted in time) rolls the whole restore back."""
    args = ["pg_restore", "--exit-on-error", "--single-transaction", "--no-owner",
            "--no-privileges", *target.cli_args(dbname)]
    if clean:
        args += ["--clean", "--if-exists"]
    extra = {"PGOPTIONS": f"-c lock_timeout={lock_timeout_ms}"} if lock_timeout_ms else {}
    _run([*args, str(dump)], target.env(**extra), "pg_restore")


def pg_scratch_verify(target: PgTarget, dump: Path, scratch: str,
                      expected: dict[str, int]) -> list[str]:
    """Restore ``dump`` into a NEW database ``scratch`` (created and always dropped), count its
    rows and return the differences from ``expected`` (empty: the dump is good). A dump that
    does not restore raises BackupError."""
    from psycopg import sql

    name = sql.Identifier(scratch)
    with target.connect(dbname="postgres") as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        pg_restore(target, dump, dbname=scratch)
        with target.connect(dbname=scratch) as conn:
            return count_differences(expected, pg_counts(conn))
    finally:
        with target.connect(dbname="postgres") as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def pg_database_exists(target: PgTarget, name: str) -> bool:
    with target.connect(dbname="postgres") as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             [name]).fetchone() is not None


# --- SQLite ---------------------------------------------------------------------------------

def sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608 - names from sqlite_master
            for t in tables}


def sqlite_migrations(conn: sqlite3.Connection) -> list[list[str]]:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                         [MIGRATIONS_TABLE]).fetchone()
    if not found:
        return []
    return [[a, n] for a, n in conn.execute(
        "SELECT app, name FROM django_migrations ORDER BY app, name")]


def sqlite_dump(source: sqlite3.Connection, out: Path) -> dict[str, Any]:
    """Copy ``source`` with the sqlite3 backup API; counts and migrations read from the copy."""
    dest = sqlite3.connect(out)
    try:
        source.backup(dest)
        return {"row_counts": sqlite_counts(dest), "migrations": sqlite_migrations(dest),
                "server_version": sqlite3.sqlite_version}
    finally:
        dest.close()


def sqlite_verify(path: Path, expected: dict[str, int]) -> list[str]:
    """Differences from ``expected`` of the SQLite file at ``path`` (opened read-only); an
    unreadable or corrupted file raises BackupError."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"SQLite integrity check of {path.name}: {check}")
            return count_differences(expected, sqlite_counts(conn))
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path.name} is not a readable SQLite database: {exc}") from exc


def sqlite_restore(path: Path, dest: sqlite3.Connection) -> None:
    """Replace the whole content of ``dest`` with the SQLite file at ``path``."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        source.backup(dest)
    finally:
        source.close()


# --- Retention ------------------------------------------------------------------------------

def retention_keep(stamps: Iterable[datetime], keep_daily: int,
                   keep_weekly: int) -> set[datetime]:
    """The backups to keep: the newest of each of the ``keep_daily`` newest days that have one,
    plus the newest of each of the ``keep_weekly`` newest ISO weeks. The newest backup is always
    among them (``keep_daily`` >= 1)."""
    if keep_daily < 1 or keep_weekly < 0:
        raise ValueError(f"retention: keep-daily must be >= 1 (got {keep_daily}) and "
                         f"keep-weekly >= 0 (got {keep_weekly})")
    newest_first = sorted(set(stamps), reverse=True)
    keep: set[datetime] = set()
    for count, bucket in ((keep_daily, lambda s: s.date()),
                          (keep_weekly, lambda s: s.isocalendar()[:2])):
        seen: list[Any] = []
        for stamp in newest_first:
            key = bucket(stamp)
            if key not in seen:
                if len(seen) == count:
                    break
                seen.append(key)
                keep.add(stamp)
    return keep
