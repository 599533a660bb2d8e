"""Launch-checklist item of the accounts app: two-factor authentication on every admin."""

from __future__ import annotations

from django_otp import devices_for_user

from accounts.models import User
from nusatrade.launch import ChecklistResult


def check_admin_2fa() -> ChecklistResult:
    """Every active account that can reach the admin (staff or superuser) has a confirmed OTP
    device; the admin refuses password-only logins, so one without is locked out or, worse,
    shares someone else's device."""
    admins = User.objects.filter(is_active=True).filter(is_staff=True) | \
        User.objects.filter(is_active=True, is_superuser=True)
    admins = list(admins.distinct().order_by("username"))
    without = [u.username for u in admins
               if not any(True for _ in devices_for_user(u, confirmed=True))]
    if not admins:
        return ChecklistResult("2FA on every admin account", False, "no admin account exists",
                               "python manage.py createsuperuser, then add a TOTP device "
                               "(docs/OPERATIONS.md, \"Two-factor set-up\")")
    if without:
        return ChecklistResult("2FA on every admin account", False,
                               f"{len(without)} of {len(admins)} without a confirmed OTP "
                               f"device: {', '.join(without[:20])}",
                               "add a TOTP device for each (docs/OPERATIONS.md, \"Two-factor "
                               "set-up\") or remove their staff status")
    return ChecklistResult("2FA on every admin account", True,
                           f"{len(admins)} admin account(s), each with a confirmed OTP device")
