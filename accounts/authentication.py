"""JWT authentication that also refuses access tokens of a revoked session (see tokens.py)."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication

from accounts.tokens import check_token_version


class VersionedJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        check_token_version(validated_token, user)
        return user


class VersionedJWTScheme(SimpleJWTScheme):
    """Documents it in the OpenAPI schema exactly like simplejwt's own Bearer JWT scheme."""

    target_class = "accounts.authentication.VersionedJWTAuthentication"
