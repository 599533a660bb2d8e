"""The scratch database every database benchmark runs in: created from the configured one's
settings (``bench_<what>_<configured name>``), migrated, and dropped afterwards; the
configured database is never touched."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def scratch_database(what: str | None = None, *, postgres_only: bool = True) -> Iterator[None]:
    """Run the block in a fresh, migrated scratch database. ``what`` names it
    (``bench_<what>_<configured name>``; None: Django's ``test_`` name); ``postgres_only``:
    exit with a message unless DATABASE_URL points at PostgreSQL."""
    if postgres_only and connection.vendor != "postgresql":
        sys.exit("set DATABASE_URL to PostgreSQL: this benchmark is about it")
    if what is not None:
        name = connection.settings_dict["NAME"]
        connection.settings_dict["TEST"]["NAME"] = f"bench_{what}_{name}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True,
                                                  serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
