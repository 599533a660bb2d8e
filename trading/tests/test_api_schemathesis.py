"""Schemathesis against the live OpenAPI schema, in process (WSGI), authenticated as a trader
with rows of their own and of another trader: for every operation, bounded generated requests
(examples and time) must never answer 5xx, and every documented answer must match the schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
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
    return {"Authorization": token}


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_never_errors_and_matches_its_schema(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
