"""Admin of backtest runs: the list with key metrics, a detail page with the charts, the
metrics, the sweep and the trades, the full HTML report, "compare two runs side by side", and a
form to start a run (the "Add" button). Registered on the default ``admin.site`` (the OTP site).

Runs are records of what happened: nobody edits them; starting one goes through
``backtest_run_create`` like the API and the command.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from backtests import selectors
from backtests.models import BacktestRun, BacktestTrade
from backtests.services import BacktestParams
from backtests.views import REPORT_CSP
from mlops.models import MLModel
from nusatrade.errors import DataError

DETAIL_TRADES = 200


def _number(value: Any, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


class BacktestStartForm(forms.Form):
    """Start a backtest. Spread and slippage in PIPS (XAUUSD 1 pip = 0.1 price units)."""

    model = forms.ModelChoiceField(
        queryset=MLModel.objects.select_related("instrument").order_by("-created_at", "-id"),
        help_text="The period must start after the model's training window.")
    start = forms.DateField(help_text="First day, UTC (YYYY-MM-DD).")
    end = forms.DateField(help_text="Last day, UTC, inclusive.")
    spread_pips = forms.DecimalField(initial=3, min_value=0, max_digits=10, decimal_places=2,
                                     help_text="Pips (XAUUSD: 3 pips = 0.30).")
    slippage_pips = forms.DecimalField(initial=1, min_value=0, max_digits=10, decimal_places=2,
                                       help_text="Pips against us on every fill.")
    lots = forms.DecimalField(initial="0.01", max_digits=12, decimal_places=4)
    sl_atr = forms.FloatField(initial=1.5, required=False, help_text="Empty: no stop-loss.")
    tp_atr = forms.FloatField(initial=3.0, required=False, help_text="Empty: no take-profit.")
    max_bars_held = forms.IntegerField(required=False, min_value=1)
    use_risk = forms.BooleanField(initial=True, required=False, label="Apply risk rules")
    threshold = forms.FloatField(required=False, min_value=0.5, max_value=1.0,
                                 help_text="Empty: the model's tuned threshold.")
    initial_equity = forms.DecimalField(initial=10000, max_digits=18, decimal_places=2)
    sweep = forms.BooleanField(required=False, help_text="Also run the seed's sweep grid.")

    def params(self) -> BacktestParams:
        data = self.cleaned_data
        return BacktestParams(
            spread_pips=data["spread_pips"], slippage_pips=data["slippage_pips"],
            lots=data["lots"], sl_atr=data["sl_atr"], tp_atr=data["tp_atr"],
            max_bars_held=data["max_bars_held"], use_risk=data["use_risk"],
            threshold=data["threshold"], initial_equity=data["initial_equity"],
            sweep=data["sweep"])


@admin.register(BacktestRun)
class BacktestRunAdmin(admin.ModelAdmin):
    list_display = ("id", "model_column", "period", "status", "trades_column", "net_profit_column",
                    "return_column", "drawdown_column", "win_rate_column", "pf_column",
                    "sharpe_column", "costs_column", "created_by", "created_at",
                    "duration_column")
    list_display_links = ("id", "model_column")
    list_filter = ("status", "model__instrument", "synthetic_data", "use_risk", "sweep")
    list_select_related = ("model__instrument", "created_by")
    search_fields = ("=id", "model__name")
    date_hierarchy = "created_at"
    actions = ("compare_runs",)
    change_form_template = "admin/backtests/backtestrun/change_form.html"
    fields = ("model", "status", "error", "start", "end", "spread_pips", "slippage_pips",
              "lots", "sl_atr", "tp_atr", "max_bars_held", "use_risk", "threshold",
              "initial_equity", "sweep", "commission_per_lot", "swap_long_per_lot",
              "swap_short_per_lot", "leverage", "stop_out_level", "deflated_sharpe", "pbo",
              "synthetic_data", "bars", "created_by", "created_at",
              "started_at", "finished_at", "duration_seconds", "attempts")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[BacktestRun]:
        return super().get_queryset(request).defer("equity_curve", "sweep_results")

    # -- list columns -----------------------------------------------------------------------
    @admin.display(description="Model", ordering="model__name")
    def model_column(self, run: BacktestRun) -> str:
        return (f"#{run.model_id} {run.model.name} v{run.model.version} "
                f"({run.model.instrument.symbol} {run.model.timeframe})")

    @admin.display(description="Period", ordering="start")
    def period(self, run: BacktestRun) -> str:
        return f"{run.start} → {run.end}"

    @admin.display(description="Trades", ordering="trade_count")
    def trades_column(self, run: BacktestRun) -> str:
        return _number(run.trade_count, "{:,}")

    @admin.display(description="Net profit", ordering="net_profit")
    def net_profit_column(self, run: BacktestRun) -> str:
        if run.net_profit is None:
            return "-"
        colour = "#070" if run.net_profit > 0 else "#b00"
        return format_html('<span style="color:{}">{}</span>', colour, f"{run.net_profit:,.2f}")

    @admin.display(description="Return %", ordering="return_pct")
    def return_column(self, run: BacktestRun) -> str:
        return _number(run.return_pct, "{:.2f}")

    @admin.display(description="Max DD %", ordering="max_drawdown_pct")
    def drawdown_column(self, run: BacktestRun) -> str:
        return _number(run.max_drawdown_pct, "{:.2f}")

    @admin.display(description="Win rate", ordering="win_rate")
    def win_rate_column(self, run: BacktestRun) -> str:
        return _number(run.win_rate, "{:.1%}")

    @admin.display(description="PF", ordering="profit_factor")
    def pf_column(self, run: BacktestRun) -> str:
        return _number(run.profit_factor, "{:.2f}")

    @admin.display(description="Sharpe", ordering="sharpe")
    def sharpe_column(self, run: BacktestRun) -> str:
        return _number(run.sharpe, "{:.2f}")

    @admin.display(description="Costs (pips)")
    def costs_column(self, run: BacktestRun) -> str:
        return (f"spread {run.spread_pips.normalize():f}, "
                f"slip {run.slippage_pips.normalize():f}")

    @admin.display(description="Duration", ordering="duration_seconds")
    def duration_column(self, run: BacktestRun) -> str:
        return _number(run.duration_seconds, "{:.1f} s")

    # -- permissions: runs are records, created only through the service ---------------------
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # -- detail page ------------------------------------------------------------------------
    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        run = get_object_or_404(BacktestRun.objects.select_related("model__instrument"),
                                pk=object_id)
        context = {**(extra_context or {}), **self._detail_context(run)}
        return super().change_view(request, object_id, form_url, context)

    def _detail_context(self, run: BacktestRun) -> dict[str, Any]:
        trades = list(selectors.backtest_trade_list(run)[:DETAIL_TRADES])
        return {
            "run": run,
            "report": selectors.backtest_report_get(run),
            "parameters": run.params.get("display", {}),
            "metric_rows": selectors.backtest_metric_rows(run),
            "trades": trades,
            "more_trades": (run.trade_count or 0) - len(trades),
            "trades_url": (reverse("admin:backtests_backtesttrade_changelist")
                           + f"?run__id__exact={run.pk}"),
            "report_url": reverse("admin:backtests_backtestrun_report", args=[run.pk]),
            "sweep_rows": run.sweep_results,
        }

    # -- extra pages ------------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<int:run_id>/report/", view(self.report_view),
                 name="backtests_backtestrun_report"),
            path("compare/<int:first_id>/<int:second_id>/", view(self.compare_view),
                 name="backtests_backtestrun_compare"),
            *super().get_urls(),
        ]

    def report_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(BacktestRun, pk=run_id)
        report = selectors.backtest_report_get(run)
        if report is None:
            self.message_user(request, f"Backtest #{run.pk} is {run.status}: no report yet.",
                              messages.WARNING)
            return HttpResponseRedirect(
                reverse("admin:backtests_backtestrun_change", args=[run.pk]))
        response = HttpResponse(report.html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = REPORT_CSP
        return response

    @admin.action(description="Compare two runs side by side")
    def compare_runs(self, request: HttpRequest, queryset: QuerySet[BacktestRun]) -> Any:
        ids = sorted(queryset.values_list("pk", flat=True))
        if len(ids) != 2:
            self.message_user(request, f"Select exactly two runs to compare ({len(ids)} "
                                       "selected).", messages.ERROR)
            return None
        return HttpResponseRedirect(
            reverse("admin:backtests_backtestrun_compare", args=ids))

    def compare_view(self, request: HttpRequest, first_id: int, second_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        runs = BacktestRun.objects.select_related("model__instrument", "report")
        first, second = (get_object_or_404(runs, pk=pk) for pk in (first_id, second_id))
        keys = list(dict.fromkeys([*first.params.get("display", {}),
                                   *second.params.get("display", {})]))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta,
            "title": f"Backtest #{first.pk} vs #{second.pk}", "first": first, "second": second,
            "metric_rows": selectors.backtest_runs_compare(first, second),
            "parameter_rows": [(k, first.params.get("display", {}).get(k, "-"),
                                second.params.get("display", {}).get(k, "-")) for k in keys],
        }
        return TemplateResponse(request, "admin/backtests/backtestrun/compare.html", context)

    # -- starting a run: the admin's "Add" opens the start form ------------------------------
    def add_view(self, request: HttpRequest, form_url: str = "",
                 extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BacktestStartForm(request.POST or None, initial={"end": date.today()})
        if request.method == "POST" and form.is_valid():
            run = self._start(request, form)
            if run is not None:
                return HttpResponseRedirect(
                    reverse("admin:backtests_backtestrun_change", args=[run.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": "Start a backtest", "form": form}
        return TemplateResponse(request, "admin/backtests/backtestrun/start.html", context)

    def _start(self, request: HttpRequest, form: BacktestStartForm) -> BacktestRun | None:
        from backtests.services import backtest_run_create  # pandas, numba: on use only

        try:
            run = backtest_run_create(model=form.cleaned_data["model"],
                                      start=form.cleaned_data["start"],
                                      end=form.cleaned_data["end"], params=form.params(),
                                      user=request.user)
        except DataError as exc:
            field = exc.column if exc.column in form.fields else None
            form.add_error(field, exc.reason)
            return None
        run.refresh_from_db(fields=["status"])  # eager Celery (development) ran it already
        note = ("" if run.is_finished else
                "; it runs on a Celery worker: reload this page to see its results")
        self.message_user(request, f"Backtest #{run.pk} started, now {run.status}{note}.",
                          messages.SUCCESS)
        return run


@admin.register(BacktestTrade)
class BacktestTradeAdmin(admin.ModelAdmin):
    """The full trade list of a run (read-only; filter by run from the run's page)."""

    list_display = ("run", "number", "side", "lots", "entry_time", "exit_time", "entry_price",
                    "exit_price", "costs", "net_pnl", "balance", "exit_reason", "bars_held")
    list_filter = ("side", "exit_reason")
    list_select_related = ("run",)
    raw_id_fields = ("run",)
    ordering = ("run", "number")
    list_per_page = 200

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
