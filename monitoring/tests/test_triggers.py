"""Retraining triggers: each one firing and not firing (pure), and the service turning them
into one pending request + alert per model and trigger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from monitoring import triggers
from monitoring.triggers import TriggerConfig

CONFIG = TriggerConfig(min_trades=20, min_win_rate=0.4, min_profit_factor=1.0,
                       hit_rate_alpha=0.05, max_drift_share=0.3, max_age_days=180)
HEALTHY = {"trades": 50, "win_rate": 0.55, "profit_factor": 1.4}


def names(fired: list[triggers.Fired]) -> list[str]:
    return [f.trigger for f in fired]


def test_a_healthy_young_model_fires_nothing() -> None:
    assert triggers.evaluate(HEALTHY, {}, {}, 10, CONFIG) == []


@pytest.mark.parametrize(("live", "fires"), [
    ({"trades": 50, "win_rate": 0.30, "profit_factor": 1.2}, ["win_rate"]),
    ({"trades": 50, "win_rate": 0.45, "profit_factor": 0.8}, ["profit_factor"]),
    ({"trades": 10, "win_rate": 0.10, "profit_factor": 0.2}, []),  # too few trades to judge
    ({"trades": 20, "win_rate": 0.40, "profit_factor": 1.0}, []),  # at the limits: not below
])
def test_win_rate_and_profit_factor_need_enough_trades(live, fires) -> None:
    fired = triggers.evaluate(live, {}, {}, 10, CONFIG)
    assert names(fired) == fires
    if fires:
        assert fired[0].evidence["trades"] == live["trades"]


def test_hit_rate_fires_only_when_significantly_below_the_test_window() -> None:
    low = {"hit_rate_test": {"observed": 0.35, "expected": 0.55, "n": 200, "p_value": 0.00001}}
    fine = {"hit_rate_test": {"observed": 0.52, "expected": 0.55, "n": 200, "p_value": 0.2}}
    assert names(triggers.evaluate(HEALTHY, low, {}, 10, CONFIG)) == ["hit_rate"]
    assert triggers.evaluate(HEALTHY, fine, {}, 10, CONFIG) == []


def test_drift_fires_on_the_share_of_features_or_on_predictions() -> None:
    many = {"features": {"share_drifting": 0.5, "drifting": ["atr", "rsi"], "limit": 0.2}}
    few = {"features": {"share_drifting": 0.1, "drifting": ["atr"], "limit": 0.2}}
    preds = {"features": {"share_drifting": 0.0}, "predictions": {"drifting": True,
                                                                  "psi": 0.4, "limit": 0.2}}
    fired = triggers.evaluate(HEALTHY, {}, many, 10, CONFIG)
    assert names(fired) == ["drift"] and fired[0].evidence["drifting"] == ["atr", "rsi"]
    assert triggers.evaluate(HEALTHY, {}, few, 10, CONFIG) == []
    assert names(triggers.evaluate(HEALTHY, {}, preds, 10, CONFIG)) == ["drift"]


def test_model_age() -> None:
    assert names(triggers.evaluate(HEALTHY, {}, {}, 181, CONFIG)) == ["model_age"]
    assert triggers.evaluate(HEALTHY, {}, {}, 179, CONFIG) == []
    off = TriggerConfig(max_age_days=None)
    assert triggers.evaluate(HEALTHY, {}, {}, 10_000, off) == []


def test_config_refuses_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        TriggerConfig.from_mapping({"min_winrate": 0.4})


@pytest.mark.django_db
def test_service_creates_one_pending_request_and_an_alert(settings, monkeypatch) -> None:
    from accounts.models import AuditEntry
    from monitoring.models import PerformanceSnapshot, RetrainingRequest
    from monitoring.services import triggers as service
    from monitoring.services.triggers import retraining_triggers_check
    from monitoring.tests import factories as f

    sent: list[tuple[str, str]] = []  # the alerts raised (delivery: nusatrade's own tests)
    monkeypatch.setattr(service, "alert_send",
                        lambda kind, title, *a, **k: sent.append((str(kind), title)))

    settings.RETRAINING_TRIGGERS = {"min_trades": 5, "max_age_days": None}
    m = f.model("rf")
    snapshot = PerformanceSnapshot.objects.create(
        date=date(2026, 1, 5), scope_key=f"model:{m.pk}", model=m, trades=6,
        figures={"all": {"trades": 6, "win_rate": 0.2, "profit_factor": 1.5}})
    now = datetime(2026, 1, 6, tzinfo=UTC)
    made = retraining_triggers_check(snapshot, now=now)
    assert [r.trigger for r in made] == ["win_rate"]
    assert made[0].evidence["win_rate"] == 0.2 and made[0].status == "pending"
    assert AuditEntry.objects.get(action="retraining.request").actor == "system:monitoring"
    assert sent == [("retraining_requested", f"Retraining requested for model #{m.pk}: "
                                             "win_rate")]
    # The next day's snapshot fires again: still one pending request, no second alert.
    assert retraining_triggers_check(snapshot, now=now + timedelta(days=1)) == []
    assert RetrainingRequest.objects.count() == 1 and len(sent) == 1
    # An account-scope snapshot never asks.
    acct = f.account()
    other = PerformanceSnapshot.objects.create(
        date=date(2026, 1, 5), scope_key=f"account:{acct.pk}/model:{m.pk}", model=m,
        account=acct, figures={"all": {"trades": 6, "win_rate": 0.0}})
    assert retraining_triggers_check(other, now=now) == []


# --- champion vs challenger (pure) ------------------------------------------------------------

def test_challenger_better_by_the_margin_is_promoted_only_when_approved_or_auto() -> None:
    from monitoring import challenger as cc

    result = cc.compare({"return_pct": 2.0, "trades": 30}, {"return_pct": 3.5, "trades": 25},
                        margin=1.0)
    assert result.better and "beats" in result.reason
    assert cc.decide(result, approved=True, auto_promote=False) == cc.PROMOTE
    assert cc.decide(result, approved=False, auto_promote=True) == cc.PROMOTE
    assert cc.decide(result, approved=False, auto_promote=False) == cc.AWAIT


def test_challenger_not_better_by_the_margin_keeps_the_champion() -> None:
    from monitoring import challenger as cc

    within = cc.compare({"return_pct": 2.0}, {"return_pct": 2.9, "trades": 25}, margin=1.0)
    assert not within.better
    assert cc.decide(within, approved=True, auto_promote=True) == cc.KEEP
    losing_champion = cc.compare({"return_pct": -4.0}, {"return_pct": -2.5, "trades": 25},
                                 margin=1.0)
    assert losing_champion.better  # 1.5 points less bad is better by the margin
    too_few = cc.compare({"return_pct": 0.0}, {"return_pct": 9.0, "trades": 3}, min_trades=10)
    assert not too_few.better and "3 trades" in too_few.reason
