"""The Celery app: configured from Django's ``CELERY_*`` settings only, tasks autodiscovered.

Only the ``CELERY_`` settings reach Celery, under Celery's own lowercase names (the
``namespace="CELERY"`` mapping). ``config_from_object("django.conf:settings", namespace=...)``
would hand Celery the whole settings object, and a worker's remote control (``celery inspect
conf``, ``report``) would then show every setting: the cache and rate-limit Redis URLs with
their passwords, the alert webhook URL, the Sentry DSN. Under the lowercase names Celery's own
censoring also recognises ``broker_url`` and ``result_backend`` and masks their passwords.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")

PREFIX = "CELERY_"


class CelerySettings(Mapping):
    """A live, read-only view of Django's ``CELERY_X`` settings as Celery's ``x`` keys.

    Live (read on every lookup, not copied) so that ``override_settings`` in tests reaches the
    app exactly as it did when Celery read the Django settings object directly.
    """

    def _django(self) -> Any:
        from django.conf import settings

        return settings

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self._django(), PREFIX + key.upper())
        except AttributeError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return (name[len(PREFIX):].lower() for name in dir(self._django())
                if name.startswith(PREFIX) and name.isupper())

    def __len__(self) -> int:
        return sum(1 for _ in self)


app = Celery("nusatrade")
app.config_from_object(CelerySettings())
app.autodiscover_tasks()
