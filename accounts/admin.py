from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import TradingAccount, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "is_staff", "roles_display", "last_login")

    @admin.display(description="roles")
    def roles_display(self, obj: User) -> str:
        return ", ".join(g.name for g in obj.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")


@admin.register(TradingAccount)
class TradingAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "broker", "broker_login", "broker_server", "currency",
                    "leverage", "status")
    list_filter = ("broker", "status")
    list_select_related = ("owner",)
    search_fields = ("name", "owner__username", "broker_login")
