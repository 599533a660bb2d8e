"""Admin of the model registry. Activation and retirement ask for a reason, call the
services, and are audit-logged; nothing here edits a model's row directly."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from mlops import services
from mlops.models import FeatureSnapshot, MLModel, ModelAuditLog, ModelStatus, Prediction
from nusatrade.admin_site import ReadOnlyAdmin
from nusatrade.errors import NusaTradeError


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             max_length=1000, help_text="Recorded in the model's audit log.")



def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


@admin.register(MLModel)
class MLModelAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "version", "symbol", "timeframe", "algorithm", "status",
                    "threshold", "test_accuracy", "test_coverage", "walk_forward_accuracy",
                    "fingerprint_short", "lookahead_state", "synthetic", "created_at")
    list_filter = ("status", "algorithm", "timeframe", "instrument", "synthetic")
    list_select_related = ("instrument", "created_by")
    search_fields = ("name", "instrument__symbol")
    readonly_fields = [*(f.name for f in MLModel._meta.fields), "identity_state"]
    actions = ["activate_model", "retire_models"]

    @admin.display(description="symbol", ordering="instrument__symbol")
    def symbol(self, obj: MLModel) -> str:
        return obj.instrument.symbol

    @admin.display(description="test accuracy")
    def test_accuracy(self, obj: MLModel) -> str:
        return _pct(obj.metrics.get("test", {}).get("accuracy"))

    @admin.display(description="test coverage")
    def test_coverage(self, obj: MLModel) -> str:
        return _pct(obj.metrics.get("test", {}).get("coverage"))

    @admin.display(description="walk-forward accuracy")
    def walk_forward_accuracy(self, obj: MLModel) -> str:
        summary = obj.metrics.get("walk_forward", {}).get("summary", {})
        return _pct(summary.get("pooled_accuracy"))

    @admin.display(description="fingerprint")
    def fingerprint_short(self, obj: MLModel) -> str:
        return obj.fingerprint[:12] if obj.fingerprint else "none (retrain)"

    @admin.display(description="look-ahead")
    def lookahead_state(self, obj: MLModel) -> str:
        """The last look-ahead check and whether it ran on the model's fingerprint (stored
        figures only: the list makes no file reads)."""
        check = obj.metrics.get("lookahead") or {}
        if not check:
            return "not checked"
        verdict = "clean" if check.get("clean") else "LOOK-AHEAD"
        if check.get("fingerprint") != obj.fingerprint or not obj.fingerprint:
            return f"{verdict}, on another fingerprint"
        return verdict

    @admin.display(description="fingerprint vs the running code")
    def identity_state(self, obj: MLModel) -> str:
        """On the detail page: does the fingerprint still match, and if not, what changed."""
        changes = services.model_identity_changes(obj)
        return "matches" if not changes else "NO LONGER MATCHES: " + "; ".join(changes)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Viewing is allowed; the change form has only read-only fields. Actions need it.
        return request.user.has_perm("mlops.change_mlmodel")

    @admin.action(description="Activate the selected model (retires the current one)")
    def activate_model(self, request: HttpRequest, queryset: QuerySet[MLModel]) -> Any:
        models = list(queryset.select_related("instrument"))
        if len(models) != 1:
            self.message_user(request, "Select exactly one model to activate.", messages.ERROR)
            return None
        return self._with_reason(request, models, "activate_model", "Activate model",
                                 "The current active model of this series will be retired.",
                                 services.model_activate)

    @admin.action(description="Retire the selected models")
    def retire_models(self, request: HttpRequest, queryset: QuerySet[MLModel]) -> Any:
        models = [m for m in queryset.select_related("instrument")
                  if m.status != ModelStatus.RETIRED]
        if not models:
            self.message_user(request, "The selected models are already retired.",
                              messages.WARNING)
            return None
        return self._with_reason(request, models, "retire_models", "Retire models",
                                 "Retired models stop predicting.", services.model_retire)

    def _with_reason(self, request: HttpRequest, models: list[MLModel], action: str,
                     title: str, explanation: str, service: Any) -> Any:
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            for model in models:
                try:
                    service(model, request.user, form.cleaned_data["reason"])
                except NusaTradeError as exc:
                    self.message_user(request, f"Model #{model.pk}: {exc}", messages.ERROR)
                    continue
                self.message_user(request, f"{title}: model #{model.pk} done.", messages.SUCCESS)
            return None
        context = {**self.admin_site.each_context(request), "title": title, "models": models,
                   "form": form, "action": action, "explanation": explanation,
                   "submit_label": title, "opts": self.model._meta}
        return TemplateResponse(request, "mlops/admin/model_action.html", context)


@admin.register(ModelAuditLog)
class ModelAuditLogAdmin(ReadOnlyAdmin):
    list_display = ("at", "model", "action", "user", "reason")
    list_filter = ("action",)
    list_select_related = ("model", "user")
    search_fields = ("reason",)


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = ("bar_time", "model", "decision", "proba_up", "proba_down", "threshold",
                    "created_at")
    list_filter = ("decision",)
    list_select_related = ("model",)


@admin.register(FeatureSnapshot)
class FeatureSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("bar_time", "instrument", "timeframe", "feature_set_id", "valid",
                    "created_at")
    list_filter = ("timeframe", "valid")
    list_select_related = ("instrument",)
