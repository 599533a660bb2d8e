"""The admin site: every admin URL sits behind django-otp's TOTP verification.

A staff user who has no confirmed OTP device cannot log in at all (``OTPAdminSite`` requires a
verified session), so the ML dashboard, model activation and kill switches are two-factor only.
The login POST is rate limited (client IP, failures per username: ``nusatrade.ratelimit``) on top
of django-otp's own per-device throttling.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.decorators import method_decorator
from django_otp.admin import OTPAdminSite

from nusatrade.ratelimit import ratelimit_login_view


class NusaTradeAdminSite(OTPAdminSite):
    site_header = "NusaTrade operations"
    site_title = "NusaTrade admin"
    index_title = "Models, backtests, market data and kill switches"

    @method_decorator(ratelimit_login_view("admin-login"))
    def login(self, request, extra_context=None):
        return super().login(request, extra_context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services only (orders, signals, snapshots, audit entries...): viewable in
    the admin, never added, changed or deleted by hand. The one base for such admins."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
