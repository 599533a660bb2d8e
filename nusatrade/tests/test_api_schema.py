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
    assert {"/api/v1/auth/token/", "/api/v1/me/", "/api/v1/backtests/", "/api/v1/accounts/",
            "/api/v1/accounts/{id}/equity/", "/api/v1/accounts/{id}/pause/",
            "/api/v1/accounts/{id}/resume/", "/api/v1/positions/",
            "/api/v1/positions/export.csv", "/api/v1/orders/", "/api/v1/signals/",
            "/api/v1/models/"} <= paths
    # List filters are documented query parameters (django-filter through drf-spectacular).
    names = {p["name"] for p in schema["paths"]["/api/v1/positions/"]["get"]["parameters"]}
    assert {"account", "symbol", "model", "side", "status", "opened_after", "cursor",
            "ordering"} <= names
    assert "AccountStatusEnum" in schema["components"]["schemas"]
