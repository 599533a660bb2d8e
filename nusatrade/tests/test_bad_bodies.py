"""Every API URL answers a malformed, non-object, oversized or too-many-fields request with
JSON 400/413 (or 401/405 before that), never a 500 or an HTML page.

The URLs are walked from the URL conf, so a new endpoint is covered the day it is added.
"""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.test import RequestFactory, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.services import user_create

JSON = "application/json"
_MAX_KEYS = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
BAD_BODIES: dict[str, tuple[bytes, str]] = {
    "string": (b'"s"', JSON),
    "array": (b"[1, 2]", JSON),
    "number": (b"7", JSON),
    "null": (b"null", JSON),
    "true": (b"true", JSON),
    "truncated": (b'{"username": ', JSON),
    "not-json": (b"<xml/>", JSON),
    "nan": (b'{"a": NaN}', JSON),
    "deep-array": (b"[" * 100_000, JSON),
    "deep-object": (b'{"a":' * 200 + b"1" + b"}" * 200, JSON),
    "too-many-keys": (json.dumps({f"k{i}": i for i in range(_MAX_KEYS + 1)}).encode(), JSON),
    "nested-too-many-keys": (json.dumps({"a": [{f"k{i}": i} for i in range(_MAX_KEYS + 1)]})
                             .encode(), JSON),
    "bad-utf8": (b'{"username": "\xff\xfe"}', JSON),
    "bad-charset": (b'{"username": "u"}', JSON + "; charset=no-such-codec"),
    "oversized": (b'{"a": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}', JSON),
    "form-too-many-fields": ("&".join(f"f{i}=1" for i in range(_MAX_KEYS + 1)).encode(),
                             "application/x-www-form-urlencoded"),
}
WRITE_METHODS = ("POST", "PUT", "PATCH")
# Before the body is read a request may be refused for who it is (401) or how (405/415).
ANONYMOUS_OK = {400, 401, 405, 413, 415}
AUTHENTICATED_OK = {400, 405, 413, 415}


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def _concrete(route: str) -> str:
    """A path for ``route`` with every parameter filled in (regex groups or converters)."""
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"\\\.\(\?P<format>[^)]*\)", ".json", path)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "1", path)
    path = re.sub(r"<(?:\w+:)?\w+>", "1", path)
    return "/" + path.replace("\\", "").replace("/?", "/")


# Documents by design (Swagger UI page, OpenAPI YAML), development and test only, GET only:
# even their 405 comes out in their own format.
NOT_JSON_ENDPOINTS = {"/api/docs/", "/api/schema/"}


def api_paths() -> list[str]:
    routes = {_concrete(r) for r in _walk(get_resolver().url_patterns)}
    return sorted(p for p in routes if p.startswith("/api/") and p not in NOT_JSON_ENDPOINTS)


API_PATHS = api_paths()


def test_the_walk_finds_every_known_endpoint():
    # Guards the walker itself: if it silently found nothing, the tests below would prove nothing.
    for expected in ("/api/v1/auth/token/", "/api/v1/auth/token/refresh/",
                     "/api/v1/auth/token/blacklist/", "/api/v1/me/", "/api/v1/backtests/",
                     "/api/v1/backtests/1/", "/api/v1/backtests/1/report/"):
        assert expected in API_PATHS


def _client(user=None) -> APIClient:
    client = APIClient()
    client.raise_request_exception = False  # a 500 must come back as a response, not raise
    if user is not None:
        token = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _assert_json_refusal(response, allowed: set[int], what: str) -> None:
    shown = response.content[:300]
    assert response.status_code in allowed, f"{what}: {response.status_code} {shown!r}"
    assert response["Content-Type"].startswith(JSON), f"{what}: {response['Content-Type']}"
    assert "detail" in response.json() or response.status_code == 400, what


@pytest.fixture
def staff(db):
    return user_create("walker", "walker-password-9x!Q", staff=True, superuser=True)


@pytest.mark.django_db
@override_settings(RATELIMIT_LOGIN="100000/m", RATELIMIT_TRADING="100000/m")
@pytest.mark.parametrize("body_name", sorted(BAD_BODIES))
@pytest.mark.parametrize("path", API_PATHS)
def test_bad_body_on_every_api_url_is_a_json_4xx(path, body_name, staff):
    body, content_type = BAD_BODIES[body_name]
    for method in WRITE_METHODS:
        for who, client, allowed in (("anonymous", _client(), ANONYMOUS_OK),
                                     ("authenticated", _client(staff), AUTHENTICATED_OK)):
            response = client.generic(method, path, body, content_type=content_type)
            _assert_json_refusal(response, allowed, f"{who} {method} {path} {body_name}")


@pytest.mark.django_db
@pytest.mark.parametrize("path", API_PATHS)
def test_too_many_query_parameters_is_a_json_400(path, staff):
    query = "&".join(f"q{i}=1" for i in range(_MAX_KEYS + 1))
    response = _client(staff).get(f"{path}?{query}")
    _assert_json_refusal(response, {400, 405}, f"GET {path}")


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/auth/token/", "/api/v1/auth/token/refresh/",
                                 "/api/v1/auth/token/blacklist/"])
@pytest.mark.parametrize("body", [b'"s"', b"[1]", b"1"])
def test_non_object_body_on_auth_endpoints_says_an_object_is_expected(url, body):
    response = _client().post(url, body, content_type=JSON)
    assert response.status_code == 400
    assert "expected an object" in response.json()["detail"]


@pytest.mark.django_db
def test_oversized_body_is_413_json():
    body, content_type = BAD_BODIES["oversized"]
    response = _client().post("/api/v1/auth/token/", body, content_type=content_type)
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large."}


@pytest.mark.django_db
def test_a_valid_object_still_parses():
    response = _client().post("/api/v1/auth/token/", {"username": "nobody", "password": "x"},
                              format="json")
    assert response.status_code == 401


@pytest.mark.parametrize("exception, status", [
    (RequestDataTooBig("too big"), 413), (TooManyFieldsSent("too many"), 400)])
def test_handler400_answers_json_under_api_and_html_elsewhere(exception, status):
    # Django calls handler400 for a SuspiciousOperation raised outside a DRF view (middleware).
    from nusatrade.api import bad_request

    api = bad_request(RequestFactory().post("/api/v1/anything/"), exception)
    assert api.status_code == status and api["Content-Type"].startswith(JSON)
    assert "detail" in json.loads(api.content)
    page = bad_request(RequestFactory().post("/admin/login/"), exception)
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")
