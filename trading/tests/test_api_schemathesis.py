"""Schemathesis against the live OpenAPI schema, in process (WSGI), authenticated as a trader
with rows of their own and of another trader: for every operation, bounded generated requests
(examples and time) must never answer 5xx, and every documented answer must match the schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from trading.tests.apidata import client_for, world

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


# Loaded once at collection: generating the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def bearer(db, settings) -> dict[str, str]:
    settings.RATELIMIT_ENABLE = False  # limits are tested elsewhere; here: shapes and 5xx
    w = world(rows=2)
    token = client_for(w.alice)._credentials["HTTP_AUTHORIZATION"]
    # Requests go through the real WSGI handler, whose request_started/finished signals close
    # the database connection: on PostgreSQL that would close the test's own transaction.
    # Django's test client disconnects the same receiver for the same reason.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"Authorization": token}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_never_errors_and_matches_its_schema(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
