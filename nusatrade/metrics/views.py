"""``GET /metrics``: Prometheus exposition, for a bearer token or an allowed network only.

* ``Authorization: Bearer <METRICS_TOKEN>`` -> served (compared in constant time);
  a wrong or unexpected token -> 403.
* No token, client address (``nusatrade.ratelimit.client_ip``: the peer, or the address our
  trusted proxy saw) inside ``METRICS_ALLOWED_NETWORKS`` -> served.
* Anything else -> 404: the endpoint is not advertised to the internet.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from nusatrade.metrics.core import registry_build
from nusatrade.ratelimit import client_ip


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for text in settings.METRICS_ALLOWED_NETWORKS:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            continue  # reported by system check nusatrade.E018; never widen access
    return networks


def address_allowed(address_text: str) -> bool:
    try:
        address = ipaddress.ip_network(address_text, strict=False)
    except ValueError:
        return False
    return any(address.version == net.version and address.subnet_of(net)
               for net in allowed_networks())


def bearer(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def access(authorization: str, address: str) -> int:
    """200 (serve), 403 (a wrong token) or 404 (no token, address not allowed)."""
    token = bearer(authorization)
    if token is not None:
        expected = settings.METRICS_TOKEN
        ok = bool(expected) and hmac.compare_digest(token.encode(), expected.encode())
        return 200 if ok else 403
    return 200 if address_allowed(address) else 404


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    verdict = access(request.META.get("HTTP_AUTHORIZATION", ""), client_ip(request))
    if verdict == 403:
        return HttpResponseForbidden("metrics: invalid token", content_type="text/plain")
    if verdict == 404:
        raise Http404("not found")
    return HttpResponse(generate_latest(registry_build()), content_type=CONTENT_TYPE_LATEST)
