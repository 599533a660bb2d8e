"""Trader-facing auth endpoints: JWT obtain/refresh/blacklist (rate limited) and /me."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from accounts.selectors import user_get_profile
from accounts.serializers import MeSerializer
from accounts.tokens import VersionedTokenObtainPairSerializer, VersionedTokenRefreshSerializer
from nusatrade.apibase import StrictQueryMixin
from nusatrade.ratelimit import LoginThrottle, TokenThrottle, settle_login


class TokenObtainView(jwt_views.TokenObtainPairView):
    serializer_class = VersionedTokenObtainPairSerializer
    throttle_classes = [LoginThrottle]

    def finalize_response(self, request, response, *args, **kwargs):
        # 200: right password; 401: wrong one; anything else never checked a password.
        settle_login(request, succeeded=response.status_code == 200,
                     password_checked=response.status_code in (200, 401))
        return super().finalize_response(request, response, *args, **kwargs)


class TokenRefreshView(jwt_views.TokenRefreshView):
    serializer_class = VersionedTokenRefreshSerializer
    throttle_classes = [TokenThrottle]


class TokenBlacklistView(jwt_views.TokenBlacklistView):
    throttle_classes = [TokenThrottle]


class MeView(StrictQueryMixin, APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = user_get_profile(request.user.pk)
        data = MeSerializer(user).data
        data["roles"] = sorted(g.name for g in user.groups.all())
        return Response(data)
