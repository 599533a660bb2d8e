"""JWTs that die with the password: every token carries the user's ``token_version``.

simplejwt 5.5 does not revoke refresh tokens on a password change (its ``CHECK_REVOKE_TOKEN``
puts an MD5 of the password hash in the token but checks it only when an *access* token
authenticates, never on refresh), and with rotation a stolen refresh token can be extended
forever. Two layers close that:

1. ``accounts.services.user_tokens_revoke`` blacklists every ``OutstandingToken`` of the user
   (visible in the admin) and bumps ``User.token_version``;
2. the version is a claim (``tv``) of every refresh token and of the access tokens minted from
   it. Rotation keeps the claims, so a whole rotated chain carries the version it started with;
   refresh and authentication refuse a token whose version is not the user's current one. This
   also catches a token rotated concurrently with the revocation, which the blacklist sweep
   alone could miss (it was not yet outstanding when the sweep ran).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import (
    TokenObtainPairSerializerExtension,
    TokenRefreshSerializerExtension,
)
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

TOKEN_VERSION_CLAIM = "tv"  # noqa: S105 - a claim name, not a secret
REVOKED_MESSAGE = "Token revoked: the password changed or the user was logged out everywhere."


class VersionedRefreshToken(RefreshToken):
    """A refresh token stamped with the user's current ``token_version``."""

    @classmethod
    def for_user(cls, user) -> VersionedRefreshToken:
        # Token.for_user (not RefreshToken's): the claim must be in the token before the
        # outstanding row stores its text.
        token = Token.for_user.__func__(cls, user)
        token[TOKEN_VERSION_CLAIM] = user.token_version
        OutstandingToken.objects.create(
            user=user, jti=token[api_settings.JTI_CLAIM], token=str(token),
            created_at=token.current_time, expires_at=datetime_from_epoch(token["exp"]))
        return token


def check_token_version(token: Token, user) -> None:
    """Refuse a token minted before the user's last revocation (tokens without the claim count
    as version 0, i.e. they die at the first revocation)."""
    if token.get(TOKEN_VERSION_CLAIM, 0) != user.token_version:
        raise AuthenticationFailed(REVOKED_MESSAGE, code="token_revoked")


class VersionedTokenObtainPairSerializer(TokenObtainPairSerializer):
    token_class = VersionedRefreshToken

    class Meta:
        ref_name = "TokenObtainPair"  # the schema's component name, as before


class VersionedTokenRefreshSerializer(TokenRefreshSerializer):
    token_class = VersionedRefreshToken

    class Meta:
        ref_name = "TokenRefresh"

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])  # signature, expiry, blacklist
        user_model = get_user_model()
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        user = user_model.objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None:  # simplejwt 5.5 would raise DoesNotExist here: a 500
            raise AuthenticationFailed(self.error_messages["no_active_account"],
                                       "no_active_account")
        check_token_version(refresh, user)
        return super().validate(attrs)


# drf-spectacular documents simplejwt's own serializers (request and response fields) through
# extensions keyed on the exact class: the same for ours.
class VersionedTokenObtainPairSchema(TokenObtainPairSerializerExtension):
    target_class = "accounts.tokens.VersionedTokenObtainPairSerializer"


class VersionedTokenRefreshSchema(TokenRefreshSerializerExtension):
    target_class = "accounts.tokens.VersionedTokenRefreshSerializer"
