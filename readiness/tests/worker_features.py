"""Loaded only by the test worker of ``test_tasks`` (``--include
readiness.tests.worker_features``): the tiny test feature set stands in for the production one
in the worker process too, as the ``tiny_features`` fixture does in the test process
(production workers never load this module)."""

from __future__ import annotations

from mlops import pipeline
from trading.tests import cyclekit

_production = pipeline.feature_set_for_id


def _lookup(feature_set_id: str):
    return cyclekit.FEATURES if feature_set_id == cyclekit.FEATURES.id else _production(
        feature_set_id)


pipeline.feature_set_for_id = _lookup
