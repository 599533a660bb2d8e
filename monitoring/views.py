"""The admin dashboard (``/admin/dashboard/``) and its actions. Every view is wrapped in the
OTP admin site's ``admin_view`` (two-factor staff session) by ``monitoring.urls``, then checks
the role (``monitoring.permissions``): 403 when the role may not. Actions are POSTs that call
one service and write an audit entry (who, when, what, why), then redirect to the page."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import audit_record
from mlops.models import MLModel
from monitoring import permissions
from nusatrade.errors import NusaTradeError

REFRESH_SECONDS = 30


def needs(action: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not permissions.allowed(request.user, action):
                raise PermissionDenied(f"your role may not {action.replace('_', ' ')}")
            return view(request, *args, **kwargs)
        return inner
    return wrap


def _back() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("monitoring-dashboard"))


def _reason(request: HttpRequest) -> str:
    return request.POST.get("reason", "").strip()


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise NusaTradeError(f"{name} must be a number, not {value!r}") from None


def _run(request: HttpRequest, done: str, call: Callable[[], Any]) -> HttpResponseRedirect:
    """Run one action; its error (bad input, refused) becomes a red message naming it."""
    try:
        call()
    except NusaTradeError as exc:
        messages.error(request, f"{done} refused: {exc}")
    else:
        messages.success(request, done)
    return _back()


@require_GET
@needs("view")
def dashboard(request: HttpRequest) -> HttpResponse:
    from monitoring.dashboard import dashboard_data
    from readiness.selectors import readiness_latest_per_model  # its own panel (include)

    context = {**admin.site.each_context(request), **dashboard_data(),
               "readiness_verdicts": readiness_latest_per_model(),
               "title": "ML monitoring dashboard", "can": permissions.actions_for(request.user),
               "role": permissions.role(request.user), "refresh": REFRESH_SECONDS}
    return TemplateResponse(request, "admin/monitoring/dashboard.html", context)


@require_POST
@needs("kill_switch_engage")
def kill_switch_engage(request: HttpRequest) -> HttpResponse:
    from trading.services.killswitches import kill_switch_engage as engage

    def call() -> None:
        engage(request.POST.get("scope", ""), reason=_reason(request), actor=request.user,
               account_id=_int(request.POST.get("account_id"), "account_id"),
               model_id=_int(request.POST.get("model_id"), "model_id"),
               close_positions=request.POST.get("close_positions") == "on")

    return _run(request, "Kill switch engaged", call)


@require_POST
@needs("kill_switch_release")
def kill_switch_release(request: HttpRequest, switch_id: int) -> HttpResponse:
    from trading.services.killswitches import kill_switch_release as release

    return _run(request, f"Kill switch {switch_id} released",
                lambda: release(switch_id, actor=request.user, reason=_reason(request)))


def _model_change(request: HttpRequest, model_id: int, verb: str) -> HttpResponse:
    from mlops.services import model_activate, model_retire

    model = get_object_or_404(MLModel, pk=model_id)
    service = model_activate if verb == "activate" else model_retire

    def call() -> None:
        service(model, request.user, _reason(request))
        audit_record(request.user, f"model.{verb}", target=model, reason=_reason(request),
                     details={"via": "dashboard"})

    return _run(request, f"Model #{model_id} {verb}d", call)


@require_POST
@needs("model_activate")
def model_activate(request: HttpRequest, model_id: int) -> HttpResponse:
    return _model_change(request, model_id, "activate")


@require_POST
@needs("model_retire")
def model_retire(request: HttpRequest, model_id: int) -> HttpResponse:
    return _model_change(request, model_id, "retire")


@require_POST
@needs("retraining_decide")
def retraining_decide(request: HttpRequest, request_id: int, verdict: str) -> HttpResponse:
    from monitoring.services import retraining_request_decide

    if verdict not in ("approve", "reject"):
        raise Http404(f"unknown verdict {verdict!r}: approve or reject")
    return _run(request, f"Retraining request {request_id} {verdict}d",
                lambda: retraining_request_decide(request_id, approve=verdict == "approve",
                                                  actor=request.user,
                                                  reason=_reason(request)))


@require_POST
@needs("backtest_start")
def backtest_start(request: HttpRequest) -> HttpResponse:
    from backtests.services.runs import backtest_run_create

    def call() -> None:
        try:
            start = date.fromisoformat(request.POST.get("start", ""))
            end = date.fromisoformat(request.POST.get("end", ""))
        except ValueError:
            raise NusaTradeError("start and end must be dates (YYYY-MM-DD)") from None
        model_id = _int(request.POST.get("model_id"), "model_id")
        if model_id is None:
            raise NusaTradeError("model_id is required")
        run = backtest_run_create(model=model_id, start=start, end=end, user=request.user)
        audit_record(request.user, "backtest.start", target=run, reason=_reason(request),
                     details={"model": model_id, "start": str(start), "end": str(end)})

    return _run(request, "Backtest queued", call)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@needs("trades_export")
def trades_export(request: HttpRequest) -> HttpResponse:
    """Closed and open positions as CSV (optionally of one account and/or model)."""
    from trading.models import Position

    account_id = _int(request.GET.get("account"), "account")
    model_id = _int(request.GET.get("model"), "model")
    rows = Position.objects.order_by("entry_time", "id")
    if account_id:
        rows = rows.filter(account_id=account_id)
    if model_id:
        rows = rows.filter(model_id=model_id)
    audit_record(request.user, "trades.export", reason="CSV export from the dashboard",
                 details={"account": account_id, "model": model_id, "rows": rows.count()})
    columns = ["id", "account_id", "model_id", "symbol", "side", "volume", "status",
               "entry_time", "entry_price", "exit_time", "exit_price", "exit_reason",
               "commission", "swap", "gross_pnl", "net_pnl"]
    writer = csv.writer(_Echo())

    def lines() -> Any:
        yield writer.writerow(columns)
        for row in rows.values_list(*columns).iterator(chunk_size=2000):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="trades.csv"'
    return response
