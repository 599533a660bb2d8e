"""Rate limiting with sliding windows in Redis that fails *closed* in production.

Every limited endpoint answers a JSON 429 with ``Retry-After`` when over the limit, and when the
counter store (the ``ratelimit`` cache, Redis in production) is unreachable: 503 in production
(fail closed), pass-through with a logged warning in development (``RATELIMIT_FAIL_OPEN``).
Counting is a sliding window (``nusatrade.ratelimit_store``): no burst across a window boundary.

Logins (the JWT obtain endpoint and the admin login) have two limits:

- per client IP, every attempt: ``RATELIMIT_LOGIN``;
- per username, *failures only*: ``RATELIMIT_LOGIN_FAILURES``. An attempt reserves a slot
  atomically when it starts (so a parallel burst cannot overshoot) and gives it back when the
  password turns out right (or was never checked). Over the limit, only clients that have not
  logged in as that user before are refused: an IP (``/64`` for IPv6) that logged in
  successfully within ``RATELIMIT_KNOWN_CLIENT_DAYS`` passes. A distributed guesser is slowed
  to that many guesses per window for the account, and the owner is not locked out by it from a
  known address; from a new address the owner waits like the attacker, but only while more than
  that many failures lie in the window. The trade-off is documented in docs/OPERATIONS.md.

Client IPs come from ``REMOTE_ADDR`` or, behind ``TRUSTED_PROXY_DEPTH`` reverse proxies, from
the entry those proxies appended to ``X-Forwarded-For`` -- never from what a client sent.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from nusatrade.api import ServiceUnavailable
from nusatrade.ratelimit_store import Rate, Verdict, Window, windows_store

logger = logging.getLogger("nusatrade.ratelimit")

KeyFn = Callable[[str, HttpRequest], str]
LOGIN_FAILURES_GROUP = "login-failures"  # shared by the API and the admin: one password
_ATTEMPT_ATTR = "_nusatrade_login_attempt"


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
    return f"ip:{client_ip(request)}"


def key_user_or_ip(group: str, request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def username_tried(request: HttpRequest) -> str:
    """The username being tried, normalised; empty if none posted."""
    data = request.data if hasattr(request, "data") else request.POST  # DRF or plain view
    if not isinstance(data, Mapping):  # the strict parser refuses these; never trust it here
        return ""
    return str(data.get("username", "")).strip().lower()[:150]


def _digest(text: str) -> str:
    # Usernames are user input: hashed, they make short, safe Redis keys.
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _rate(setting: str) -> Rate:
    return Rate.parse(getattr(settings, setting))


def _store():
    return windows_store(getattr(settings, "RATELIMIT_USE_CACHE", "ratelimit"))


@dataclass(frozen=True)
class LoginAttempt:
    """A reserved failure slot, settled when the outcome is known."""

    failures_key: str
    member: str
    known_key: str


def _login_windows(store, group: str, request: HttpRequest) -> tuple[list[Window], LoginAttempt]:
    windows = [Window(store.key(f"{group}:{key_ip(group, request)}"), _rate("RATELIMIT_LOGIN"))]
    username = username_tried(request)
    attempt = LoginAttempt("", "", "")
    if username:
        user = _digest(username)
        attempt = LoginAttempt(store.key(f"{LOGIN_FAILURES_GROUP}:{user}"),
                               uuid.uuid4().hex,
                               store.key(f"login-known:{user}:{client_ip(request)}"))
        windows.append(Window(attempt.failures_key, _rate("RATELIMIT_LOGIN_FAILURES"),
                              bypass_key=attempt.known_key))
    return windows, attempt


def _hit(group: str, store, windows: list[Window], member: str) -> Verdict:
    """Ask the store; on an outage fail closed (LimiterUnavailable) or open (allowed)."""
    try:
        return store.hit(windows, member, time.time())
    except Exception as exc:  # the store's connection and timeout errors vary by client
        _on_store_error(group, exc)
        return Verdict(True)


def check_rate(request: HttpRequest, group: str, rate: str, keys: Iterable[KeyFn]) -> int | None:
    """Count this request in each key's window; return seconds to wait if over, else None."""
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    store = _store()
    windows = [Window(store.key(f"{group}:{name}"), Rate.parse(rate))
               for name in (key(group, request) for key in keys) if name]
    verdict = _hit(group, store, windows, uuid.uuid4().hex)
    return None if verdict.allowed else verdict.retry_after


def check_login(request: HttpRequest, group: str) -> int | None:
    """The login policy (IP window + per-username failure window); remembers the attempt on
    the request so that ``settle_login`` can give the failure slot back on success."""
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    store = _store()
    # Reading the username parses the body: a bad body raises ParseError here (a 400), outside
    # the store's error handling.
    windows, attempt = _login_windows(store, group, request)
    verdict = _hit(group, store, windows, attempt.member or uuid.uuid4().hex)
    if not verdict.allowed:
        return verdict.retry_after
    if attempt.member:
        setattr(_raw(request), _ATTEMPT_ATTR, attempt)
    return None


def settle_login(request: HttpRequest, *, succeeded: bool, password_checked: bool) -> None:
    """Keep the reserved slot only for a wrong password; remember a successful client."""
    attempt: LoginAttempt | None = getattr(_raw(request), _ATTEMPT_ATTR, None)
    if attempt is None or (password_checked and not succeeded):
        return
    try:
        store = _store()
        store.forget(attempt.failures_key, attempt.member)
        if succeeded:
            store.mark(attempt.known_key, settings.RATELIMIT_KNOWN_CLIENT_DAYS * 86400)
    except Exception as exc:  # the login itself is done: log, do not fail it
        logger.warning("rate limiter could not settle a login attempt (%s)", type(exc).__name__)


def _raw(request):
    return getattr(request, "_request", request)  # DRF wraps the HttpRequest


def _on_store_error(group: str, exc: Exception | None) -> None:
    if getattr(settings, "RATELIMIT_FAIL_OPEN", False):
        logger.warning("rate limiter store unavailable for %s; failing open (%s)", group,
                       type(exc).__name__ if exc else "no count")
        return None
    logger.error("rate limiter store unavailable for %s; failing closed", group)
    raise LimiterUnavailable(group)


class RatelimitThrottle(BaseThrottle):
    """DRF throttle on our sliding windows. Subclasses set group, rate_setting and keys."""

    group = "api"
    rate_setting = "RATELIMIT_TRADING"
    keys: tuple[KeyFn, ...] = (key_user_or_ip,)

    def allow_request(self, request, view) -> bool:
        try:
            wait = self.check(request)
        except LimiterUnavailable:
            raise ServiceUnavailable("Rate limiter unavailable; request refused.") from None
        if wait is not None:
            raise exceptions.Throttled(wait=wait)
        return True

    def check(self, request) -> int | None:
        return check_rate(request, self.group, getattr(settings, self.rate_setting), self.keys)


class LoginThrottle(RatelimitThrottle):
    """The JWT obtain endpoint; its view calls ``settle_login`` with the outcome."""

    group = "login"
    rate_setting = "RATELIMIT_LOGIN"

    def check(self, request) -> int | None:
        return check_login(request, self.group)


class TokenThrottle(RatelimitThrottle):
    """Refresh and blacklist: they carry no username, so per client IP."""

    group = "token"
    rate_setting = "RATELIMIT_LOGIN"
    keys = (key_ip,)


class TradingThrottle(RatelimitThrottle):
    group = "trading"
    rate_setting = "RATELIMIT_TRADING"
    keys = (key_user_or_ip,)


def _too_many(wait: int) -> JsonResponse:
    response = JsonResponse({"detail": "Too many requests; slow down.", "retry_after": wait},
                            status=429)
    response["Retry-After"] = str(wait)
    return response


def ratelimit_login_view(group: str):
    """Decorator for a plain Django login view (the admin's): the login policy, JSON 429/503
    like the API. Success is a redirect with the user logged in (password and OTP right)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method != "POST":
                return view(request, *args, **kwargs)
            try:
                wait = check_login(request, group)
            except LimiterUnavailable:
                return JsonResponse({"detail": "Rate limiter unavailable; request refused."},
                                    status=503)
            if wait is not None:
                return _too_many(wait)
            response = view(request, *args, **kwargs)
            succeeded = response.status_code in (301, 302, 303) and request.user.is_authenticated
            settle_login(request, succeeded=succeeded, password_checked=True)
            return response

        return wrapped

    return decorator
