"""Rate limiting on top of django-ratelimit that fails *closed* in production.

django-ratelimit stores counters in the ``ratelimit`` cache (Redis in production). With Redis
down, its default behaviour with django-redis is a 500, and DRF would turn its ``Ratelimited``
into a 403. Here every limited endpoint answers a JSON 429 when over the limit, and when the
counter store is unreachable: 503 in production (fail closed), pass-through with a logged
warning in development (``RATELIMIT_FAIL_OPEN``).

Client IPs come from ``REMOTE_ADDR`` or, behind ``TRUSTED_PROXY_DEPTH`` reverse proxies, from
the entry those proxies appended to ``X-Forwarded-For`` -- never from what a client sent.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django_ratelimit.core import get_usage
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from nusatrade.api import ServiceUnavailable

logger = logging.getLogger("nusatrade.ratelimit")

KeyFn = Callable[[str, HttpRequest], str]


class LimiterUnavailable(Exception):
    """The rate-limit store could not be reached and the policy is to fail closed."""


def _normalise_ip(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if address.version == 6:
        # One client controls a whole /64: rotating inside it must not reset its limit.
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)


def client_ip(request: HttpRequest) -> str:
    """The client's address as seen by our outermost trusted proxy (or the socket peer)."""
    depth = getattr(settings, "TRUSTED_PROXY_DEPTH", 0)
    if depth > 0:
        hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= depth:
            trusted = _normalise_ip(hops[-depth])
            if trusted:
                return trusted
        # Malformed or missing: our proxy did not add it, so it cannot be trusted. Using the
        # peer (the proxy) groups such requests together: stricter, never looser.
    return _normalise_ip(request.META.get("REMOTE_ADDR", "")) or "unknown"


def key_ip(group: str, request: HttpRequest) -> str:
    return client_ip(request)


def key_user_or_ip(group: str, request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def key_username(group: str, request: HttpRequest) -> str:
    """The username being tried (credential stuffing across IPs); empty if none posted."""
    data = request.data if hasattr(request, "data") else request.POST  # DRF or plain view
    if not isinstance(data, Mapping):  # the strict parser refuses these; never trust it here
        return ""
    username = str(data.get("username", "")).strip().lower()[:150]
    return f"username:{username}" if username else ""


def check_rate(request: HttpRequest, group: str, rate: str, keys: Iterable[KeyFn]) -> int | None:
    """Count this request; return seconds to wait if over the limit, else None.

    Raises LimiterUnavailable when the store is down and the policy is fail-closed.
    """
    for key in keys:
        if not key(group, request):
            continue
        try:
            usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
        except Exception as exc:  # the cache backend's connection errors vary by client
            usage = _on_store_error(group, exc)
        if usage is None:
            continue
        if usage["should_limit"]:
            if usage["time_left"] < 0:  # django-ratelimit's own "store failed" answer
                _on_store_error(group, None)
                continue
            return max(int(usage["time_left"]), 1)
    return None


def _on_store_error(group: str, exc: Exception | None) -> None:
    if getattr(settings, "RATELIMIT_FAIL_OPEN", False):
        logger.warning("rate limiter store unavailable for %s; failing open (%s)", group,
                       type(exc).__name__ if exc else "no count")
        return None
    logger.error("rate limiter store unavailable for %s; failing closed", group)
    raise LimiterUnavailable(group)


class RatelimitThrottle(BaseThrottle):
    """DRF throttle backed by django-ratelimit. Subclasses set group, rate_setting and keys."""

    group = "api"
    rate_setting = "RATELIMIT_TRADING"
    keys: tuple[KeyFn, ...] = (key_user_or_ip,)

    def allow_request(self, request, view) -> bool:
        rate = getattr(settings, self.rate_setting)
        try:
            wait = check_rate(request, self.group, rate, self.keys)
        except LimiterUnavailable:
            raise ServiceUnavailable("Rate limiter unavailable; request refused.") from None
        if wait is not None:
            raise exceptions.Throttled(wait=wait)
        return True


class LoginThrottle(RatelimitThrottle):
    group = "login"
    rate_setting = "RATELIMIT_LOGIN"
    keys = (key_ip, key_username)


class TradingThrottle(RatelimitThrottle):
    group = "trading"
    rate_setting = "RATELIMIT_TRADING"
    keys = (key_user_or_ip,)


def ratelimit_view(group: str, rate_setting: str, keys: Iterable[KeyFn] = (key_ip,),
                   methods: Iterable[str] = ("POST",)):
    """Decorator for plain Django views (e.g. the admin login): JSON 429/503 like the API."""
    keys, methods = tuple(keys), {m.upper() for m in methods}

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method in methods:
                try:
                    wait = check_rate(request, group, getattr(settings, rate_setting), keys)
                except LimiterUnavailable:
                    return JsonResponse({"detail": "Rate limiter unavailable; request refused."},
                                        status=503)
                if wait is not None:
                    response = JsonResponse({"detail": "Too many requests; slow down.",
                                             "retry_after": wait}, status=429)
                    response["Retry-After"] = str(wait)
                    return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
