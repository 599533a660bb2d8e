"""The dashboard page and its actions: the permission matrix (admin, ops, trader) over every
page and action, each action's effect and audit entry, and the rendered page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from accounts.models import AuditEntry, Role
from mlops.models import ModelStatus
from monitoring.models import RetrainingRequest, RetrainingStatus
from monitoring.tests import factories as f
from monitoring.tests.factories import otp_client
from trading.models import KillSwitch
from trading.services.killswitches import kill_switch_engage

pytestmark = pytest.mark.django_db
PASSWORD = f.PASSWORD
NOW = datetime.now(UTC)


@pytest.fixture
def seeded():
    """Two active-ish models (one per timeframe), two accounts with trades, one engaged
    model switch, a pending retraining request."""
    a, b = f.account("A"), f.account("B", owner="trader2")
    m1 = f.model("rf", metrics={"test": {"gated_accuracy": 0.55}})
    m2 = f.model("gb", timeframe="H4")
    start = NOW - timedelta(days=40)
    for i in range(30):
        net = "12.50" if i % 3 else "-8.00"
        f.closed(a if i % 2 else b, m1 if i % 4 else m2, start + timedelta(days=i),
                 start + timedelta(days=i, hours=3), net)
        f.signal(a, m1, start + timedelta(days=i), "HOLD" if i % 3 == 0 else "BUY", 0.6)
    f.opened(a, m1, NOW - timedelta(hours=2))
    switch = kill_switch_engage("model", reason="drawdown review", actor="system:test",
                                model_id=m2.pk).switch
    request = RetrainingRequest.objects.create(model=m1, trigger="win_rate",
                                               evidence={"win_rate": 0.3})
    run = f.retraining_run(m1, f.model("rf", status=ModelStatus.CANDIDATE), "kept_champion")
    return {"a": a, "b": b, "m1": m1, "m2": m2, "switch": switch, "request": request,
            "run": run}


@pytest.fixture
def clients(seeded) -> dict[str, Client]:
    return {"admin": otp_client("boss", (Role.ADMIN,)), "ops": otp_client("ops1", (Role.OPS,)),
            "trader": otp_client("trader9", (Role.TRADER,), staff=False),
            "staff_trader": otp_client("trader8", (Role.TRADER,), staff=True)}


def _actions(s: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any], set[str]]]:
    """(name, method, url, data, roles allowed)."""
    return [
        ("dashboard", "get", "/admin/dashboard/", {}, {"admin", "ops"}),
        ("engage", "post", "/admin/dashboard/killswitch/engage/",
         {"scope": "account", "account_id": s["a"].pk, "reason": "matrix"}, {"admin", "ops"}),
        ("release", "post", f"/admin/dashboard/killswitch/{s['switch'].pk}/release/",
         {"reason": "matrix"}, {"admin"}),
        ("activate", "post", f"/admin/dashboard/model/{s['m2'].pk}/activate/",
         {"reason": "matrix"}, {"admin"}),
        ("retire", "post", f"/admin/dashboard/model/{s['m1'].pk}/retire/", {"reason": "matrix"},
         {"admin"}),
        ("approve", "post", f"/admin/dashboard/retraining/{s['request'].pk}/approve/",
         {"reason": "matrix"}, {"admin"}),
        ("reject", "post", f"/admin/dashboard/retraining/{s['request'].pk}/reject/",
         {"reason": "matrix"}, {"admin"}),
        ("backtest", "post", "/admin/dashboard/backtest/",
         {"model_id": s["m1"].pk, "start": "2025-07-01", "end": "2025-07-31",
          "reason": "matrix"}, {"admin", "ops"}),
        ("export", "get", "/admin/dashboard/trades.csv", {}, {"admin", "ops"}),
        # The retraining runs the page lists and links to (read-only admin pages).
        ("runs", "get", "/admin/monitoring/retrainingrun/", {}, {"admin", "ops"}),
        ("run", "get", f"/admin/monitoring/retrainingrun/{s['run'].pk}/change/", {},
         {"admin", "ops"}),
    ]


@pytest.mark.parametrize("who", ["admin", "ops", "trader", "staff_trader"])
def test_permission_matrix_over_every_page_and_action(seeded, clients, who: str) -> None:
    client = clients[who]
    for name, method, url, data, allowed in _actions(seeded):
        response = getattr(client, method)(url, data)
        if who == "trader":  # not staff: the admin never opens, back to its login
            assert response.status_code == 302 and "/admin/login/" in response["Location"], \
                (who, name)
        elif who in allowed:
            expected = 200 if method == "get" else 302
            assert response.status_code == expected, (who, name, response.status_code)
            if method == "post":
                assert response["Location"] == "/admin/dashboard/", (who, name)
        else:
            assert response.status_code == 403, (who, name, response.status_code)


def test_forbidden_actions_change_nothing(seeded, clients) -> None:
    ops = clients["ops"]
    ops.post(f"/admin/dashboard/killswitch/{seeded['switch'].pk}/release/", {"reason": "x"})
    ops.post(f"/admin/dashboard/model/{seeded['m1'].pk}/retire/", {"reason": "x"})
    ops.post(f"/admin/dashboard/retraining/{seeded['request'].pk}/approve/", {"reason": "x"})
    seeded["switch"].refresh_from_db()
    seeded["m1"].refresh_from_db()
    seeded["request"].refresh_from_db()
    assert seeded["switch"].engaged and seeded["m1"].status == ModelStatus.ACTIVE
    assert seeded["request"].status == RetrainingStatus.PENDING
    assert not AuditEntry.objects.filter(actor="ops1").exists()


def test_engage_and_release_through_the_dashboard_are_audited(seeded, clients) -> None:
    ops, admin = clients["ops"], clients["admin"]
    ops.post("/admin/dashboard/killswitch/engage/",
             {"scope": "account", "account_id": seeded["a"].pk, "reason": "slippage spike"})
    switch = KillSwitch.objects.get(engaged=True, account=seeded["a"])
    assert switch.engaged_by == "ops1" and switch.reason == "slippage spike"
    entry = AuditEntry.objects.get(action="kill_switch.engage", target_id=str(switch.pk))
    assert entry.actor == "ops1" and entry.reason == "slippage spike"
    page = admin.get("/admin/dashboard/").content.decode()
    assert "slippage spike" in page
    admin.post(f"/admin/dashboard/killswitch/{switch.pk}/release/", {"reason": "spreads ok"})
    switch.refresh_from_db()
    assert not switch.engaged and switch.released_by == "boss"
    assert AuditEntry.objects.get(action="kill_switch.release",
                                  target_id=str(switch.pk)).reason == "spreads ok"


def test_an_action_without_a_reason_is_refused_with_a_message(seeded, clients) -> None:
    admin = clients["admin"]
    response = admin.post(f"/admin/dashboard/killswitch/{seeded['switch'].pk}/release/",
                          {"reason": " "}, follow=True)
    assert "refused" in response.content.decode() and "reason" in response.content.decode()
    seeded["switch"].refresh_from_db()
    assert seeded["switch"].engaged


def test_retire_and_retraining_decisions_are_audited(seeded, clients) -> None:
    admin = clients["admin"]
    admin.post(f"/admin/dashboard/model/{seeded['m1'].pk}/retire/", {"reason": "drifted"})
    seeded["m1"].refresh_from_db()
    assert seeded["m1"].status == ModelStatus.RETIRED
    assert AuditEntry.objects.get(action="model.retire").reason == "drifted"
    admin.post(f"/admin/dashboard/retraining/{seeded['request'].pk}/reject/",
               {"reason": "too few trades"})
    seeded["request"].refresh_from_db()
    assert seeded["request"].status == RetrainingStatus.REJECTED
    assert seeded["request"].decided_by == "boss"
    again = admin.post(f"/admin/dashboard/retraining/{seeded['request'].pk}/approve/",
                       {"reason": "changed my mind"}, follow=True)
    assert "already rejected" in again.content.decode()
    assert AuditEntry.objects.filter(action__startswith="retraining.").count() == 1


def test_trades_export_is_csv_and_audited(seeded, clients) -> None:
    response = clients["ops"].get(f"/admin/dashboard/trades.csv?account={seeded['a'].pk}")
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0].startswith("id,account_id,model_id,symbol")
    assert len(lines) == 1 + 15 + 1  # header, A's 15 closed trades, its open position
    entry = AuditEntry.objects.get(action="trades.export")
    assert entry.actor == "ops1" and entry.details["rows"] == 16


def test_the_page_shows_cards_charts_strip_and_refreshes(seeded, clients) -> None:
    page = clients["admin"].get("/admin/dashboard/").content.decode()
    assert 'http-equiv="refresh" content="30"' in page
    for card in (f'id="model-{seeded["m1"].pk}"', f'id="model-{seeded["m2"].pk}"',
                 f'id="account-{seeded["a"].pk}"', f'id="account-{seeded["b"].pk}"'):
        assert card in page
    charts = page.split('<div class="chart">')[1:]
    assert len(charts) == 2 * 3 + 2 * 2  # models: equity, rolling, signals; accounts: two
    for chart in charts:  # every chart is a drawn picture, not an empty frame
        svg = chart[:chart.index("</svg>")]
        assert svg.startswith("<svg") and svg.count("<path") >= 3
    assert "drawdown review" in page and 'class="engaged' in page
    assert "no reconciliation yet" in page or "Reconciliation:" in page
    assert "win_rate" in page  # the pending retraining request's trigger
    assert '<b id="open-positions">1</b>' in page
    run = seeded["run"]
    assert f'<tr data-decision="kept_champion"><td><a href="/admin/monitoring/retrainingrun/' \
           f'{run.pk}/change/">#{run.pk}</a> model #{run.challenger_id} vs ' \
           f'#{run.champion_id}' in page
