"""Admin actions: activation and retirement ask for a reason, call services, are audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory

from mlops.admin import MLModelAdmin
from mlops.models import AuditAction, MLModel, ModelAuditLog, ModelStatus
from mlops.tests.factories import lookahead_checked


def request(user: Any, data: dict[str, Any] | None = None) -> Any:
    req = RequestFactory().post("/admin/mlops/mlmodel/", data or {})
    user.is_verified = lambda: True  # what django-otp's middleware sets after a valid TOTP
    req.user = user
    req.session = {}
    req._messages = FallbackStorage(req)
    return req


def test_activate_asks_for_a_reason_first(trained_model: MLModel, admin_user: Any) -> None:
    model_admin = MLModelAdmin(MLModel, admin.site)
    queryset = MLModel.objects.filter(pk=trained_model.pk)
    response = model_admin.activate_model(request(admin_user), queryset)
    response.render()
    assert b"reason" in response.content and b"Activate model" in response.content
    trained_model.refresh_from_db()
    assert trained_model.status == ModelStatus.CANDIDATE


def test_activate_with_a_reason_activates_and_logs_who_and_why(trained_model: MLModel,
                                                               admin_user: Any) -> None:
    model_admin = MLModelAdmin(MLModel, admin.site)
    queryset = MLModel.objects.filter(pk=trained_model.pk)
    req = request(admin_user, {"apply": "1", "reason": "beats the old one on validation"})
    assert model_admin.activate_model(req, queryset) is None  # refused: not checked yet
    trained_model.refresh_from_db()
    assert trained_model.status == ModelStatus.CANDIDATE
    assert model_admin.lookahead_state(trained_model) == "not checked"
    lookahead_checked(trained_model)
    assert model_admin.lookahead_state(trained_model) == "clean"
    assert model_admin.identity_state(trained_model) == "matches"
    assert model_admin.fingerprint_short(trained_model) == trained_model.fingerprint[:12]
    req = request(admin_user, {"apply": "1", "reason": "beats the old one on validation"})
    assert model_admin.activate_model(req, queryset) is None
    trained_model.refresh_from_db()
    assert trained_model.status == ModelStatus.ACTIVE
    entry = ModelAuditLog.objects.filter(model=trained_model, action=AuditAction.ACTIVATED).get()
    assert entry.user == admin_user and entry.reason == "beats the old one on validation"


def test_an_empty_reason_is_refused_by_the_form(trained_model: MLModel, admin_user: Any) -> None:
    model_admin = MLModelAdmin(MLModel, admin.site)
    req = request(admin_user, {"apply": "1", "reason": ""})
    response = model_admin.retire_models(req, MLModel.objects.filter(pk=trained_model.pk))
    assert response is not None  # the form again, with its error
    trained_model.refresh_from_db()
    assert trained_model.status == ModelStatus.CANDIDATE


def test_retire_with_a_reason(trained_model: MLModel, admin_user: Any) -> None:
    model_admin = MLModelAdmin(MLModel, admin.site)
    req = request(admin_user, {"apply": "1", "reason": "drifted"})
    model_admin.retire_models(req, MLModel.objects.filter(pk=trained_model.pk))
    trained_model.refresh_from_db()
    assert trained_model.status == ModelStatus.RETIRED


def test_the_changelist_renders_computed_columns(trained_model: MLModel, admin_client: Any,
                                                 ) -> None:
    response = admin_client.get("/admin/mlops/mlmodel/")
    assert response.status_code in (200, 302)  # 302 once the lead's OTP site wraps it
    if response.status_code == 200:
        assert b"test accuracy" in response.content
