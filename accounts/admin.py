from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import AuditEntry, TradingAccount, User
from accounts.services import user_tokens_revoke
from nusatrade.admin_site import ReadOnlyAdmin


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "is_staff", "roles_display", "last_login")
    actions = ["log_out_everywhere"]

    @admin.display(description="roles")
    def roles_display(self, obj: User) -> str:
        return ", ".join(g.name for g in obj.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.action(description="Log out everywhere (revoke every API token)",
                  permissions=["change"])
    def log_out_everywhere(self, request, queryset) -> None:
        """A stolen device or token: every refresh token of these users stops working now."""
        total = 0
        for user in queryset:
            revoked = user_tokens_revoke(user)
            total += revoked
            # The admin's own audit trail (LogEntry): who did it, to whom, when.
            self.log_change(request, user, f"Logged out everywhere ({revoked} refresh tokens "
                                           "revoked).")
        self.message_user(request, f"Logged out {queryset.count()} user(s) everywhere; "
                                   f"{total} refresh token(s) revoked.", messages.SUCCESS)


@admin.register(TradingAccount)
class TradingAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "broker", "broker_login", "broker_server", "currency",
                    "leverage", "status")
    list_filter = ("broker", "status")
    list_select_related = ("owner",)
    search_fields = ("name", "owner__username", "broker_login")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log, read-only: who did what, to which object, when and why."""

    list_display = ("at", "actor", "action", "target_type", "target_repr", "reason")
    list_filter = ("action", "target_type")
    search_fields = ("actor", "target_repr", "reason", "=target_id")
    date_hierarchy = "at"
