"""Request latency by view name: the route's name (or the view's dotted path), never the
raw path, so ``/api/v1/orders/123`` and ``/api/v1/orders/124`` are one series."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from nusatrade.metrics.core import observe_request, process_sample


def view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unresolved>"  # 404s and requests refused before URL resolution
    return match.view_name or match._func_path


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        observe_request(view_name(request), request.method or "", response.status_code,
                        time.perf_counter() - started)
        process_sample("web")
        return response
