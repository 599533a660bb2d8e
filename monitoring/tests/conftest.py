"""Fixtures of the monitoring tests: the ML app's trained model and stored bars, and a small
seeded scenario built through services and the ORM."""

from __future__ import annotations

from mlops.tests.conftest import (  # noqa: F401 - fixtures reused by name
    artifacts_dir,
    sample_bars,
    stored_bars,
    trained_model,
)
