"""The permission matrix of the whole ``/api/v1/`` surface, GENERATED from the URL conf.

Every route under ``/api/v1/`` and every HTTP method it allows is collected from the resolver;
the expected status per role (anonymous, trader A, trader B, ops, admin) must be written in
``EXPECTED`` below, or the coverage test fails: a new endpoint cannot escape the matrix. The
object in each detail route belongs to trader A (alice): B and ops must get 404 (never 403,
never data), admins see it. Methods a route does not allow must be 405 (401 anonymous).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from backtests.models import BacktestRun
from trading.models import KillSwitch, Order, Position, Signal
from trading.tests.apidata import World, client_for, make_user, snapshot, world

PREFIX = "api/v1/"
METHODS = ("get", "post", "put", "patch", "delete")
ROLES = ("anonymous", "alice", "bob", "ops", "admin")


def _join(prefix: str, pattern) -> str:
    return prefix + str(pattern.pattern).lstrip("^").rstrip("$")


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, _join(prefix, entry))
        elif isinstance(entry, URLPattern):
            yield _join(prefix, entry), entry


def _allowed(callback) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: its own method map (HEAD follows GET)
        return set(actions) & set(METHODS)
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return {m for m in METHODS if view is not None and hasattr(view, m)}


def api_routes() -> dict[str, tuple[str, set[str]]]:
    """name -> (route regex/path, allowed methods) for every route under /api/v1/."""
    routes = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith(PREFIX):
            routes[pattern.name] = (route, _allowed(pattern.callback))
    return routes


_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")


def url_of(route: str, pk: int | None) -> str:
    return "/" + _PARAM.sub(str(pk), route).replace("\\.", ".")


# route name -> method -> statuses for (anonymous, alice, bob, ops, admin). "A" objects.
OWN = (401, 200, 404, 404, 200)        # alice's object: owner and admin read it
ALL = (401, 200, 200, 200, 200)
BAD_BODY = (401, 400, 400, 400, 400)  # POST {} : field errors, nothing done
EXPECTED: dict[str, dict[str, tuple[int, ...]]] = {
    "token-obtain": {"post": (400, 400, 400, 400, 400)},
    "token-refresh": {"post": (400, 400, 400, 400, 400)},
    "token-blacklist": {"post": (400, 400, 400, 400, 400)},
    "me": {"get": ALL},
    "backtest-list": {"get": ALL, "post": BAD_BODY},
    "backtest-detail": {"get": OWN},
    "backtest-report": {"get": (401, 409, 404, 404, 409)},
    "account-list": {"get": ALL},
    "account-detail": {"get": OWN},
    "account-equity": {"get": OWN},
    "account-pause": {"post": (401, 201, 404, 404, 201)},
    "account-resume": {"post": (401, 409, 404, 404, 409)},
    "position-list": {"get": ALL},
    "position-detail": {"get": OWN},
    "position-export": {"get": ALL},
    "order-list": {"get": ALL, "post": BAD_BODY},
    "order-detail": {"get": OWN},
    "signal-list": {"get": ALL},
    "signal-detail": {"get": OWN},
    "mlmodel-list": {"get": ALL},
    "mlmodel-detail": {"get": ALL},
    "performance-list": {"get": ALL},
    "performance-detail": {"get": OWN},
    "readiness-list": {"get": ALL},     # model evidence, shared like models/
    "readiness-detail": {"get": ALL},
}


def test_every_api_route_and_method_is_in_the_matrix():
    routes = api_routes()
    assert set(routes) == set(EXPECTED), "routes missing from / stale in the matrix"
    for name, (_route, allowed) in routes.items():
        assert allowed == set(EXPECTED[name]), f"{name}: methods {sorted(allowed)}"


def _cases():
    for name, (route, allowed) in sorted(api_routes().items()):
        for method in METHODS:
            for index, role in enumerate(ROLES):
                expected = EXPECTED.get(name, {}).get(method)
                if method in allowed:
                    status = expected[index] if expected else None
                else:
                    status = 401 if role == "anonymous" and "token" not in name else 405
                yield pytest.param(name, route, method, role, status,
                                   id=f"{method.upper()} {name} {role}")


def _object_id(name: str, w: World) -> int:
    """The id a detail route is asked for: always one of alice's."""
    kind = name.split("-")[0]
    if kind == "backtest":
        run = BacktestRun.objects.create(
            model=w.model, start=date(2025, 1, 1), end=date(2025, 6, 30),
            spread_pips=Decimal("3"), slippage_pips=Decimal("1"), lots=Decimal("0.01"),
            threshold=0.6, initial_equity=Decimal("10000"), created_by=w.alice)
        return run.pk
    if kind == "performance":
        return snapshot(w.account_a).pk
    if kind == "readiness":
        from readiness.tests.factories import readiness_report

        return readiness_report(w.model, w.account_a).pk
    return {"account": w.account_a.pk, "position": Position.objects.filter(
        account=w.account_a).first().pk, "order": Order.objects.filter(
        account=w.account_a).first().pk, "signal": Signal.objects.filter(
        account=w.account_a).first().pk, "mlmodel": w.model.pk}.get(kind, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route", "method", "role", "expected"), list(_cases()))
def test_permission_matrix(name, route, method, role, expected):
    assert expected is not None, f"{name} {method}: not in EXPECTED"
    if expected == 405 or (expected == 401 and role == "anonymous"):
        # Refused before any object is looked up: no need for alice's rows.
        user = None if role == "anonymous" else make_user(role, None)
        response = getattr(client_for(user), method)(url_of(route, 1), {}, format="json")
        assert response.status_code == expected, response.content[:300]
        assert response["Content-Type"].split(";")[0] == "application/json"
        return
    w = world(rows=1)
    user = {"anonymous": None, "alice": w.alice, "bob": w.bob, "ops": w.ops,
            "admin": w.boss}[role]
    switches_before = KillSwitch.objects.filter(account=w.account_a).count()
    response = getattr(client_for(user), method)(url_of(route, _object_id(name, w)), {},
                                                 format="json")
    assert response.status_code == expected, response.content[:300]
    assert response["Content-Type"].split(";")[0] in ("application/json", "text/csv")
    if expected == 404:
        assert set(response.json()) == {"detail"}  # no data of the object, no hint
    if role in ("bob", "ops"):
        # Nothing of alice's changed through someone else's request.
        assert KillSwitch.objects.filter(account=w.account_a).count() == switches_before
