"""The OpenAPI schema generates, validates and has no warnings (a warning fails check --deploy)."""

from __future__ import annotations

from io import StringIO

import yaml
from django.core.management import call_command


def test_openapi_schema_is_valid_and_warning_free(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target),
                 stdout=StringIO(), stderr=StringIO())
    schema = yaml.safe_load(target.read_text())
    paths = set(schema["paths"])
    assert {"/api/v1/auth/token/", "/api/v1/me/", "/api/v1/backtests/"} <= paths
    assert "AccountStatusEnum" in schema["components"]["schemas"]
