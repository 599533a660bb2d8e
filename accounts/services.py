"""Writes for users and their second factor."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import F
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import Broker, Role, TradingAccount, User


@dataclass(frozen=True)
class TotpEnrolment:
    device: TOTPDevice
    config_url: str  # otpauth:// provisioning URI (contains the secret: show once, never log)


def totp_device_create(user: User, *, name: str = "default", confirmed: bool = True,
                       replace: bool = False) -> TotpEnrolment:
    """Create a TOTP device for ``user``; with ``replace`` remove the user's old TOTP devices."""
    with transaction.atomic():
        if replace:
            TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name=name, confirmed=confirmed)
    return TotpEnrolment(device=device, config_url=device.config_url)


def user_create(username: str, password: str, *, roles: tuple[Role, ...] = (),
                email: str = "", staff: bool = False, superuser: bool = False) -> User:
    """Create a user with the given roles (groups); the password goes through the validators."""
    from django.contrib.auth.password_validation import validate_password

    with transaction.atomic():
        user = User(username=username, email=email, is_staff=staff or superuser,
                    is_superuser=superuser)
        validate_password(password, user)
        user.set_password(password)
        user.save()
        user.groups.set(Group.objects.filter(name__in=[str(r) for r in roles]))
    return user


def trading_account_create(owner: User, name: str, *, broker: Broker = Broker.PAPER,
                           **fields) -> TradingAccount:
    account = TradingAccount(owner=owner, name=name, broker=broker, **fields)
    account.full_clean()
    account.save()
    return account


def user_tokens_revoke(user: User) -> int:
    """Log ``user`` out everywhere: no refresh token issued so far refreshes again.

    Blacklists every outstanding refresh token of the user (the admin shows them) and bumps
    ``token_version``, which every token carries (``accounts.tokens``): that also kills tokens
    the sweep cannot see, such as one rotated by a refresh racing with this call. Access
    tokens of the old version are refused too. Returns how many tokens were blacklisted.
    """
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
        live = OutstandingToken.objects.filter(user_id=user.pk, blacklistedtoken__isnull=True)
        created = BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token=token) for token in live], ignore_conflicts=True)
    user.token_version = User.objects.values_list("token_version", flat=True).get(pk=user.pk)
    return len(created)
