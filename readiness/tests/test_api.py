"""``/api/v1/readiness/``: list and detail, read-only, every authenticated user (like
``models/``), filters, strict query parameters, cursor pages, constant query count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from readiness.tests.factories import readiness_report
from trading.services import account_create
from trading.tests.apidata import client_for, make_user, ml_model

pytestmark = pytest.mark.django_db
URL = "/api/v1/readiness/"


@pytest.fixture
def reports():
    make_user("alice", Role.TRADER)
    account = account_create("alice", name="readiness #1 model 1")
    first, second = ml_model("rf", 1), ml_model("gb", 1)
    return {"go": readiness_report(first, account),
            "no_go": readiness_report(first, account, no_go=True),
            "other": readiness_report(second, account)}


def test_list_and_detail_show_the_verdict_criteria_and_figures(reports):
    bob = make_user("bob", Role.TRADER)   # not the runner: verdicts are shared
    rows = client_for(bob).get(URL).json()["results"]
    assert [r["id"] for r in rows] == sorted((r.pk for r in reports.values()), reverse=True)
    no_go = reports["no_go"]
    detail = client_for(bob).get(f"{URL}{no_go.pk}/").json()
    assert detail["verdict"] == "NO-GO" and detail["model"] == no_go.model_id
    assert detail["reasons"] == no_go.reasons and len(detail["reasons"]) == 1
    assert [c["name"] for c in detail["criteria"]] == [c["name"] for c in no_go.criteria]
    assert detail["figures"]["win_rate"] == 0.45
    assert detail["backtest_run"] == no_go.backtest_run_id
    assert "report_path" not in detail   # a server path is not the API's business


@pytest.mark.parametrize(("query", "expected"), [
    ({"verdict": "GO"}, {"go", "other"}),
    ({"verdict": "NO-GO"}, {"no_go"}),
    ({"model": "MODEL_OF_GO"}, {"go", "no_go"}),
    ({"symbol": "xauusd", "timeframe": "H1"}, {"go", "no_go", "other"}),
])
def test_filters(reports, query, expected):
    if query.get("model") == "MODEL_OF_GO":
        query = {"model": reports["go"].model_id}
    rows = client_for(make_user("bob", Role.TRADER)).get(URL, query).json()["results"]
    assert {r["id"] for r in rows} == {reports[k].pk for k in expected}


@pytest.mark.parametrize(("query", "field"), [
    ({"verdict": "MAYBE"}, "verdict"), ({"model": "x"}, "model"), ({"modle": "1"}, "modle")])
def test_bad_filters_are_400_naming_the_parameter(reports, query, field):
    response = client_for(make_user("bob", Role.TRADER)).get(URL, query)
    assert response.status_code == 400 and field in response.json()


def test_anonymous_is_401_and_writes_are_405(reports):
    assert client_for(None).get(URL).status_code == 401
    user = make_user("bob", Role.TRADER)
    assert client_for(user).post(URL, {}, format="json").status_code == 405
    assert client_for(user).delete(f"{URL}{reports['go'].pk}/").status_code == 405


def test_cursor_pages_and_a_constant_query_count(reports):
    client = client_for(make_user("bob", Role.TRADER))
    page = client.get(URL, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    account = reports["go"].account
    counts = []
    for extra in (0, 20):
        for _ in range(extra):
            readiness_report(reports["go"].model, account)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"page_size": 100}).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
