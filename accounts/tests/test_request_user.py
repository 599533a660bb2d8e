"""The API reads the token's user, its admin role and its account ids in ONE query at
authentication (issue 13 performance). Nothing is cached across requests: a role granted or
taken away, a new account, a deactivation or a revocation counts from the very next request
made with the same access token."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role, User
from accounts.selectors import user_get_for_request
from accounts.services import user_tokens_revoke
from trading.models import Position
from trading.services import account_create
from trading.tests.apidata import client_for, position, world

pytestmark = pytest.mark.django_db
POSITIONS = "/api/v1/positions/"


def _ids(client) -> set[int]:
    response = client.get(POSITIONS, {"page_size": 500})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_user_role_and_account_ids_come_in_one_query():
    w = world(rows=1)
    second = account_create("alice", name="alice second")
    with CaptureQueriesContext(connection) as queries:
        user = user_get_for_request(w.alice.pk)
    assert len(queries) == 1
    assert user == w.alice and user.is_admin_role is False
    boss = user_get_for_request(w.boss.pk)
    assert boss.is_admin_role is True
    if connection.vendor == "postgresql":  # the account ids come in the same query
        assert user.own_account_ids == sorted([w.account_a.pk, second.pk])
        assert boss.own_account_ids == []
    else:  # the embedded default: trading.api.selectors.own_account_ids reads them
        assert not hasattr(user, "own_account_ids")
    assert user_get_for_request(10**9) is None
    assert user_get_for_request("x") is None


def test_a_role_change_counts_from_the_next_request_with_the_same_token():
    w = world(rows=1)
    client = client_for(w.alice)
    everyone = set(Position.objects.values_list("id", flat=True))
    mine = set(w.account_a.positions.values_list("id", flat=True))
    assert _ids(client) == mine
    admin = Group.objects.get(name=Role.ADMIN)
    w.alice.groups.add(admin)
    assert _ids(client) == everyone
    w.alice.groups.remove(admin)
    assert _ids(client) == mine


def test_a_new_account_counts_from_the_next_request_with_the_same_token():
    w = world(rows=1)
    client = client_for(w.alice)
    before = _ids(client)
    extra = position(account_create("alice", name="alice live"), 50)
    assert _ids(client) == before | {extra.pk}


def test_deactivation_and_revocation_count_from_the_next_request():
    w = world(rows=1)
    client = client_for(w.alice)
    assert client.get(POSITIONS).status_code == 200
    User.objects.filter(pk=w.alice.pk).update(is_active=False)
    assert client.get(POSITIONS).status_code == 401
    User.objects.filter(pk=w.alice.pk).update(is_active=True)
    assert client.get(POSITIONS).status_code == 200
    user_tokens_revoke(w.alice)
    response = client.get(POSITIONS)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_other_databases_read_the_role_in_the_query_and_the_ids_on_demand(monkeypatch):
    # The demo runs on SQLite: no ARRAY there. The portable query still carries the role; the
    # scope then reads the ids itself.
    from trading.api import selectors

    w = world(rows=1)
    monkeypatch.setattr(connection, "vendor", "sqlite")
    user = user_get_for_request(w.alice.pk)
    assert user.is_admin_role is False and not hasattr(user, "own_account_ids")
    assert selectors.own_account_ids(user) == [w.account_a.pk]
    assert user_get_for_request(w.boss.pk).is_admin_role is True
