from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401 - connects the password-change revocation
        from accounts.launch import check_admin_2fa
        from nusatrade.launch import checklist_register

        checklist_register("2FA on every admin account", check_admin_2fa)
