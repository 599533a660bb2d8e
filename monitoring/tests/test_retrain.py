"""``retrain``: a challenger trained before the evaluation window, both models backtested on
it, decided both ways; promotion only with approval, atomic (one active model per series)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from accounts.models import AuditEntry, Role
from mlops.models import MLModel, ModelStatus
from mlops.services import model_activate
from mlops.tests.factories import lookahead_checked
from monitoring.models import RetrainingRequest, RetrainingRun
from monitoring.services import retraining_request_decide
from monitoring.services.retrain import retrain
from monitoring.tests import factories as f
from nusatrade.errors import DataError

pytestmark = pytest.mark.django_db


@pytest.fixture
def champion(stored_bars: Any, artifacts_dir: Any, settings: Any) -> MLModel:
    """The active model, trained on all but the last 40 days (which it then "traded")."""
    from mlops.services import model_train
    from mlops.tests.conftest import small_config

    settings.RETRAIN_EVAL_DAYS = 30
    settings.RETRAIN_MIN_TRADES = 1
    settings.RETRAIN_LOOKAHEAD = {"points": 3, "window": 20, "per_kind": 1}
    settings.RETRAIN_AUTO_PROMOTE = False
    end = stored_bars.index[-1] - timedelta(days=40)
    model = model_train(symbol="XAUUSD", timeframe="H1", config=small_config(), cost=0.3,
                        end=end)
    return model_activate(lookahead_checked(model), None, "champion for the test")


def test_not_flagged_does_nothing(champion: MLModel) -> None:
    out = StringIO()
    call_command("retrain", "--if-flagged", stdout=out)
    assert "not flagged" in out.getvalue() and not RetrainingRun.objects.exists()


def test_challenger_never_sees_the_window_and_is_kept_out_when_not_better(
        champion: MLModel, settings: Any) -> None:
    settings.RETRAIN_MARGIN = 1e9  # nothing beats the champion by a billion points
    run = retrain("XAUUSD", "H1")
    challenger = run.challenger
    # Trained on bars ending before the evaluation window (out of sample for it).
    assert challenger.data_end.date() < run.window_start
    assert champion.data_end.date() < run.window_start
    assert run.champion_backtest.start == run.challenger_backtest.start == run.window_start
    assert run.decision == "kept_champion"
    champion.refresh_from_db()
    challenger.refresh_from_db()
    assert champion.status == ModelStatus.ACTIVE and challenger.status == ModelStatus.CANDIDATE


def test_better_challenger_waits_for_approval_then_is_promoted_atomically(
        champion: MLModel, settings: Any, monkeypatch: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    from monitoring import tasks

    settings.RETRAIN_MARGIN = -1e9  # any challenger is "better": the decision path is tested
    request = RetrainingRequest.objects.create(model=champion, trigger="win_rate")
    run = retrain("XAUUSD", "H1", if_flagged=True)
    assert run.decision == "awaiting_approval" and run.request == request
    champion.refresh_from_db()
    assert champion.status == ModelStatus.ACTIVE  # the champion trades until the switch
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks.retraining_run_promote, "delay", lambda *a: queued.append(a))
    boss = f.otp_client("boss", (Role.ADMIN,))
    with django_capture_on_commit_callbacks(execute=True):
        response = boss.post(f"/admin/dashboard/retraining/{request.pk}/approve/",
                             {"reason": "looks good"})
    assert response.status_code == 302
    # The approval returned without checking anything: the run waits for the training queue.
    run.refresh_from_db()
    champion.refresh_from_db()
    assert run.decision == "pending_check" and champion.status == ModelStatus.ACTIVE
    assert queued == [(run.pk, "boss")]
    assert tasks.retraining_run_promote.name.startswith("mlops.")  # routed to training
    assert AuditEntry.objects.get(action="retraining.approve").actor == "boss"
    page = boss.get("/admin/dashboard/").content.decode()
    assert f'<tr data-decision="pending_check"><td><a href="/admin/monitoring/retrainingrun/' \
           f'{run.pk}/change/">' in page and "<b>pending check</b>" in page

    answer = tasks.retraining_run_promote.apply(args=[run.pk, "boss"]).get()
    assert answer == {"run": run.pk, "decision": "promoted"}
    run.refresh_from_db()
    champion.refresh_from_db()
    assert run.decision == "promoted" and run.promoted_at is not None
    assert champion.status == ModelStatus.RETIRED
    active = MLModel.objects.filter(instrument=champion.instrument, timeframe="H1",
                                    status=ModelStatus.ACTIVE)
    assert list(active) == [run.challenger]
    promote = AuditEntry.objects.get(action="model.promote")
    assert promote.actor == "boss" and promote.details["run"] == run.pk
    assert 'data-decision="promoted"' in boss.get("/admin/dashboard/").content.decode()
    # A redelivered task changes nothing and writes no second entry.
    assert tasks.retraining_run_promote.apply(args=[run.pk, "boss"]).get()["decision"] \
        == "promoted"
    assert AuditEntry.objects.filter(action="model.promote").count() == 1
    assert AuditEntry.objects.filter(action="retraining.approve").count() == 1


def test_a_challenger_failing_its_check_is_refused_by_the_task(
        champion: MLModel, settings: Any, monkeypatch: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    from mlops.services import lookahead
    from monitoring import tasks

    settings.RETRAIN_MARGIN = -1e9
    request = RetrainingRequest.objects.create(model=champion, trigger="drift")
    run = retrain("XAUUSD", "H1", if_flagged=True)
    monkeypatch.setattr(tasks.retraining_run_promote, "delay", lambda *a: None)
    with django_capture_on_commit_callbacks(execute=True):
        retraining_request_decide(request.pk, approve=True, actor="boss", reason="go")

    def leaks(model: Any, **kwargs: Any) -> None:
        raise DataError(f"model #{model.pk} uses the future at feature f1")

    monkeypatch.setattr(lookahead, "model_check_lookahead", leaks)
    answer = tasks.retraining_run_promote.apply(args=[run.pk, "boss"]).get()
    assert answer["decision"] == "refused" and "uses the future" in answer["error"]
    run.refresh_from_db()
    champion.refresh_from_db()
    assert run.decision == "refused" and "uses the future" in run.detail
    assert champion.status == ModelStatus.ACTIVE and run.challenger.status == "candidate"
    entry = AuditEntry.objects.get(action="model.promote_refused")
    assert entry.actor == "boss" and "uses the future" in entry.reason


def test_an_unavailable_broker_leaves_the_run_waiting_and_says_so(
        champion: MLModel, settings: Any, monkeypatch: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    from monitoring import tasks

    settings.RETRAIN_MARGIN = -1e9
    request = RetrainingRequest.objects.create(model=champion, trigger="drift")
    run = retrain("XAUUSD", "H1", if_flagged=True)

    def down(*args: Any) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.retraining_run_promote, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        retraining_request_decide(request.pk, approve=True, actor="boss", reason="go")
    run.refresh_from_db()
    request.refresh_from_db()
    assert request.status == "approved" and run.decision == "awaiting_approval"
    assert "could not be queued" in run.detail and "ConnectionRefusedError" in run.detail
