"""Admin of the kill switches: engage and release through the service (audited, alerted), each
asking for a reason on an intermediate page. Rows are history: every field is read-only.

Who may do what (roles are groups, ``accounts.models.Role``): an admin (the ``admin`` group or
a superuser) engages and releases; ``ops`` may engage but not release. Anyone else sees
nothing here. The OTP admin site (two-factor) is in front of all of it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.models import Role, TradingAccount
from nusatrade.errors import NusaTradeError
from trading.models import KillSwitch, KillSwitchScope


# The services are imported when an action runs: the admin is loaded by django.setup(), and
# trading.services pulls in the brokers (pandas), which start-up must not import.
def kill_switch_engage(*args: Any, **kwargs: Any) -> Any:
    from trading.services.killswitches import kill_switch_engage as engage

    return engage(*args, **kwargs)


def kill_switch_release(*args: Any, **kwargs: Any) -> Any:
    from trading.services.killswitches import kill_switch_release as release

    return release(*args, **kwargs)


def can_release(user: Any) -> bool:
    """Only an admin lifts a stop."""
    return bool(user.is_active and user.is_staff
                and (user.is_superuser or user.has_role(Role.ADMIN)))


def can_engage(user: Any) -> bool:
    """Admins and ops may stop trading."""
    return can_release(user) or bool(user.is_active and user.is_staff
                                     and user.has_role(Role.OPS))


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             max_length=2000, help_text="Recorded in the audit log.")


class EngageForm(ReasonForm):
    scope = forms.ChoiceField(choices=KillSwitchScope.choices)
    account = forms.ModelChoiceField(queryset=TradingAccount.objects.order_by("id"),
                                     required=False, help_text="For an account switch.")
    model = forms.ModelChoiceField(
        # Through the FK: trading sits below mlops and does not import it.
        queryset=KillSwitch._meta.get_field("model").related_model.objects.order_by("id"),
        required=False, help_text="For a model switch.")
    close_positions = forms.BooleanField(
        required=False, help_text="Also close the scope's open positions at market.")
    field_order = ["scope", "account", "model", "reason", "close_positions"]


class KillSwitchAdmin(admin.ModelAdmin):
    list_display = ("id", "scope", "account", "model", "engaged", "rule", "reason",
                    "engaged_by", "engaged_at", "release_at", "released_by", "released_at")
    list_filter = ("engaged", "scope", "rule")
    list_select_related = ("account", "model")
    search_fields = ("reason", "engaged_by", "released_by")
    readonly_fields = [f.name for f in KillSwitch._meta.fields]
    actions = ["engage_switches", "release_switches"]
    change_list_template = "admin/trading/killswitch/change_list.html"

    # Views: ops and admins (by role, not by model permissions); changes only via actions.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_engage(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_engage(request.user) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False   # "Engage a kill switch…" (the service), never a hand-made row

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False   # history: release a switch, never delete it

    def has_engage_permission(self, request: HttpRequest) -> bool:
        return can_engage(request.user)

    def has_release_permission(self, request: HttpRequest) -> bool:
        return can_release(request.user)

    def get_urls(self) -> list:
        engage = self.admin_site.admin_view(self.engage_view)
        return [path("engage/", engage, name="trading_killswitch_engage"), *super().get_urls()]

    def engage_view(self, request: HttpRequest) -> Any:
        """Engage a global, account or model switch (the changelist's "Engage…" button)."""
        if not can_engage(request.user):
            raise PermissionDenied
        form = EngageForm(request.POST or None)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                result = kill_switch_engage(
                    data["scope"], reason=data["reason"], actor=request.user,
                    account_id=data["account"].pk if data["account"] else None,
                    model_id=data["model"].pk if data["model"] else None,
                    close_positions=data["close_positions"])
            except NusaTradeError as exc:
                form.add_error(None, str(exc))
            else:
                self._report_engaged(request, result)
                return HttpResponseRedirect(reverse("admin:trading_killswitch_changelist"))
        context = {**self.admin_site.each_context(request), "title": "Engage a kill switch",
                   "form": form, "opts": self.model._meta, "switches": [], "action": "",
                   "submit_label": "Engage",
                   "explanation": "Blocks every new order of the scope until an admin "
                                  "releases it."}
        return TemplateResponse(request, "trading/admin/killswitch_action.html", context)

    @admin.action(description="Engage… the selected switches' targets again",
                  permissions=["engage"])
    def engage_switches(self, request: HttpRequest, queryset: QuerySet[KillSwitch]) -> Any:
        switches = [s for s in queryset if not s.engaged]
        if not switches:
            self.message_user(request, "The selected switches are engaged already.",
                              messages.WARNING)
            return None

        def engage(switch: KillSwitch, reason: str) -> None:
            result = kill_switch_engage(switch.scope, reason=reason, actor=request.user,
                                        account_id=switch.account_id, model_id=switch.model_id)
            self._report_engaged(request, result)

        return self._with_reason(request, switches, "engage_switches", "Engage",
                                 "Blocks every new order of these targets again.", engage)

    @admin.action(description="Release… the selected switches (admins only)",
                  permissions=["release"])
    def release_switches(self, request: HttpRequest, queryset: QuerySet[KillSwitch]) -> Any:
        if not can_release(request.user):   # the action is hidden too; a forged POST ends here
            raise PermissionDenied
        switches = [s for s in queryset if s.engaged]
        if not switches:
            self.message_user(request, "None of the selected switches is engaged.",
                              messages.WARNING)
            return None

        def release(switch: KillSwitch, reason: str) -> None:
            kill_switch_release(switch.pk, actor=request.user, reason=reason)
            self.message_user(request, f"Released kill switch #{switch.pk}.", messages.SUCCESS)

        return self._with_reason(request, switches, "release_switches", "Release",
                                 "Trading of these targets may resume.", release)

    def _with_reason(self, request: HttpRequest, switches: list[KillSwitch], action: str,
                     title: str, explanation: str, apply: Any) -> Any:
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            for switch in switches:
                try:
                    apply(switch, form.cleaned_data["reason"])
                except NusaTradeError as exc:
                    self.message_user(request, f"Kill switch #{switch.pk}: {exc}",
                                      messages.ERROR)
            return None
        context = {**self.admin_site.each_context(request), "title": f"{title} kill switches",
                   "switches": switches, "form": form, "action": action,
                   "explanation": explanation, "submit_label": title, "opts": self.model._meta}
        return TemplateResponse(request, "trading/admin/killswitch_action.html", context)

    def _report_engaged(self, request: HttpRequest, result: Any) -> None:
        switch = result.switch
        if not result.created:
            self.message_user(request, f"Kill switch #{switch.pk} was engaged already "
                                       f"(kept: {switch.reason}).", messages.WARNING)
            return
        self.message_user(request, f"Engaged kill switch #{switch.pk}.", messages.SUCCESS)
        for position, error in result.close_errors.items():
            self.message_user(request, f"Position {position} NOT closed: {error}",
                              messages.ERROR)
