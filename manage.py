#!/usr/bin/env python
"""Django's command-line utility for NusaTrade."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")
    from nusatrade import security
    from nusatrade.errors import ConfigurationError

    if sys.argv[1:2] == ["check_production"]:
        # Report every production problem instead of dying on the first at settings import.
        security.defer_startup_guard()
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
