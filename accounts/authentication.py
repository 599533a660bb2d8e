"""JWT authentication that also refuses access tokens of a revoked session (see tokens.py)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.selectors import user_get_for_request
from accounts.tokens import check_token_version


class VersionedJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token):
        """simplejwt's ``get_user`` (same checks, same messages), but the user comes with its
        role and account ids in the same query (``accounts.selectors.user_get_for_request``),
        then the token version is checked against the row just read."""
        if api_settings.USER_ID_FIELD != "id":  # the one-query read looks up the primary key
            user = super().get_user(validated_token)
            check_token_version(validated_token, user)
            return user
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) \
                from exc
        user = user_get_for_request(user_id)
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
                api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."),
                                       code="password_changed")
        check_token_version(validated_token, user)
        return user


class VersionedJWTScheme(SimpleJWTScheme):
    """Documents it in the OpenAPI schema exactly like simplejwt's own Bearer JWT scheme."""

    target_class = "accounts.authentication.VersionedJWTAuthentication"
