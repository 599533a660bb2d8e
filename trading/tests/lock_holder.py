"""A separate process that tries the cycle lock (used by test_cycle_lock; not a test module).

    python -m trading.tests.lock_holder ACCOUNT_ID

Prints "acquired" or "skipped" (then the lock backend) on one line; when acquired, holds the
lock until its stdin is closed, so the test decides when it lets go (or SIGKILLs it).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")


def main(account_id: int) -> int:
    # No django.setup(): the lock needs settings and a raw connection, not the app registry
    # (loading every app's models would make each holder take seconds to start).
    from trading.cycle.lock import account_lock

    with account_lock(account_id) as lock:
        print("acquired" if lock.acquired else "skipped", lock.backend, flush=True)
        if lock.acquired:
            sys.stdin.read()  # hold until the parent closes our stdin (or kills us)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
