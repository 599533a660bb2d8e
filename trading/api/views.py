"""Trader API views: thin. Reads through ``trading.api.selectors`` (scoped to the caller),
writes through ``trading.services`` (``order_place``, the pause service)."""

from __future__ import annotations

import csv
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Broker, TradingAccount
from nusatrade.apibase import (
    CursorPage,
    StrictQueryMixin,
    ValuesListMixin,
    ValuesRows,
    WriteThrottle,
)
from nusatrade.apibase import StrictOrderingFilter as OrderingFilter
from nusatrade.errors import BrokerError, DataError
from trading.api import selectors
from trading.api.filters import OrderFilter, PositionFilter, SignalFilter
from trading.api.serializers import (
    AccountSerializer,
    EquityCurveSerializer,
    KillSwitchSerializer,
    OrderCreateSerializer,
    OrderRejectedSerializer,
    OrderSerializer,
    PositionSerializer,
    SignalSerializer,
)
from trading.models import Order, OrderStatus

# The fields of order_place's validation a trader sent (the rest are reported as a whole).
_ORDER_FIELDS = ("symbol", "side", "volume", "sl", "tp")
MAX_EQUITY_POINTS = 10_000


class ApiViewSet(StrictQueryMixin, viewsets.GenericViewSet):
    """Read-only lists (cursor pages, django-filter, ordering) and details of the caller's
    rows; unknown query parameters are refused."""

    filter_backends = [DjangoFilterBackend, OrderingFilter]
    pagination_class = CursorPage
    ordering = ("-id",)

    def get_throttles(self) -> list[Any]:
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            return [WriteThrottle()]
        return super().get_throttles()


class AccountViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Your trading accounts: money (realised and marked), risk policy, kill-switch state."""

    serializer_class = AccountSerializer
    queryset = TradingAccount.objects.none()  # for the schema; reads go through selectors
    filter_backends: list[Any] = []
    ordering_fields: tuple[str, ...] = ()
    ordering = ("id",)

    def get_queryset(self) -> QuerySet[TradingAccount]:
        return selectors.account_list(self.request.user)

    def known_query_params(self) -> set[str]:
        if self.action == "equity":
            return {"points", "start", "end"}
        return super().known_query_params() | (
            {"cursor", "page_size"} if self.action == "list" else set())

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "global_switch": selectors.global_switch()}

    def _render(self, accounts: list[TradingAccount], *, many: bool) -> Any:
        context = {**self.get_serializer_context(),
                   "figures": selectors.account_figures(accounts)}
        return AccountSerializer(accounts if many else accounts[0], many=many,
                                 context=context).data

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._render(list(page), many=True))

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self._render([self.get_object()], many=False))

    def _account(self, pk: str) -> TradingAccount:
        account = selectors.account_get(self.request.user, pk)
        if account is None:
            raise Http404("No such trading account.")
        return account

    @extend_schema(responses=EquityCurveSerializer, parameters=[
        OpenApiParameter("points", int, description="Downsample to at most this many points "
                         f"(2..{MAX_EQUITY_POINTS}): the last of each equal time bucket."),
        OpenApiParameter("start", OpenApiTypes.DATETIME,
                         description="From this exit time (ISO 8601 with offset)."),
        OpenApiParameter("end", OpenApiTypes.DATETIME,
                         description="Up to this exit time (ISO 8601 with offset)."),
    ])
    @action(detail=True, methods=["get"])
    def equity(self, request: Request, pk: str) -> Response:
        """Realised equity curve: the balance after each closed position."""
        account = self._account(pk)
        params = _equity_params(request)
        curve = selectors.equity_curve(account, **params)
        return Response(EquityCurveSerializer({
            "account": account.pk, "initial_balance": account.initial_balance,
            "downsampled": params["points"] is not None and len(curve) == params["points"],
            "points": curve}).data)

    @extend_schema(request=None, responses={200: KillSwitchSerializer,
                                            201: KillSwitchSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        """Pause auto-trading: engages the account kill switch ("paused by owner").
        201 when this call paused it, 200 when a switch was engaged already."""
        from trading.services.pausing import account_pause  # services: pandas underneath

        _no_body(request)
        result = account_pause(self._account(pk), request.user)
        return Response(KillSwitchSerializer(result.switch).data,
                        status=status.HTTP_201_CREATED if result.changed else status.HTTP_200_OK)

    @extend_schema(request=None, responses={
        200: KillSwitchSerializer,
        403: OpenApiResponse(description="Engaged by the system or someone else: admins only."),
        409: OpenApiResponse(description="The account is not paused.")})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        """Release the account kill switch you engaged (admins: any)."""
        from trading.services.pausing import account_resume

        _no_body(request)
        account = self._account(pk)
        try:
            switch = account_resume(account, request.user,
                                    admin=selectors.is_admin(request.user))
        except DataError as exc:
            return Response({"detail": exc.reason}, status=status.HTTP_409_CONFLICT)
        return Response(KillSwitchSerializer(switch).data)


def _no_body(request: Request) -> None:
    data = request.data
    if data:
        raise exceptions.ValidationError({name: ["Unknown field."] for name in sorted(data)})


def _equity_params(request: Request) -> dict[str, Any]:
    from nusatrade.apibase import AwareDateTimeField

    errors: dict[str, list[str]] = {}
    params: dict[str, Any] = {"points": None, "start": None, "end": None}
    raw = request.query_params.get("points")
    if raw is not None:
        if not raw.isdigit() or not 2 <= int(raw) <= MAX_EQUITY_POINTS:
            errors["points"] = [f"An integer from 2 to {MAX_EQUITY_POINTS}."]
        else:
            params["points"] = int(raw)
    for name in ("start", "end"):
        value = request.query_params.get(name)
        if value is not None:
            try:
                params[name] = AwareDateTimeField().clean(value)
            except Exception as exc:  # django.forms.ValidationError
                errors[name] = list(getattr(exc, "messages", [str(exc)]))
    if errors:
        raise exceptions.ValidationError(errors)
    return params


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return str(data).encode(self.charset)


class _Echo:
    """A file-like object whose ``write`` returns the line: csv.writer into a generator."""

    def write(self, value: str) -> str:
        return value


class PositionViewSet(ValuesListMixin, ApiViewSet, mixins.ListModelMixin,
                      mixins.RetrieveModelMixin):
    """Your positions, open and closed."""

    serializer_class = PositionSerializer
    list_rows = ValuesRows(PositionSerializer)
    queryset = selectors.Position.objects.none()
    filterset_class = PositionFilter
    ordering_fields = ("id", "entry_time")
    ordering = ("-entry_time", "-id")

    def get_queryset(self) -> QuerySet:
        return selectors.position_list(self.request.user)


class PositionExportView(StrictQueryMixin, generics.GenericAPIView):
    """Every matching position as CSV, streamed from a server-side cursor: constant memory
    whatever the count. Same filters and ordering as ``positions/``."""

    queryset = selectors.Position.objects.none()
    serializer_class = PositionSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = PositionFilter
    ordering_fields = PositionViewSet.ordering_fields
    ordering = ("id",)
    renderer_classes = [JSONRenderer, CSVRenderer]  # errors as JSON; rows as CSV
    pagination_class = None

    def known_query_params(self) -> set[str]:
        return set(PositionFilter.base_filters) | {"ordering"}

    def get_queryset(self) -> QuerySet:
        return selectors.position_list(self.request.user)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request) -> StreamingHttpResponse:
        positions = self.filter_queryset(self.get_queryset()).select_related(None)
        rows = selectors.position_export(positions)
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(selectors.EXPORT_COLUMNS)
            for row in rows:
                yield writer.writerow(row)

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="positions.csv"'
        return response


def order_broker(account: TradingAccount):
    """The broker a manual API order goes to (tests put the paper broker on a fixed clock)."""
    from trading.brokers import broker_for

    return broker_for(account)


class OrderViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Your orders with status, broker return code and its meaning; POST: a manual order."""

    serializer_class = OrderSerializer
    queryset = Order.objects.none()
    filterset_class = OrderFilter
    ordering_fields = ("id", "created_at")
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[Order]:
        return selectors.order_list(self.request.user)

    @extend_schema(request=OrderCreateSerializer, responses={
        201: OrderSerializer,
        200: OpenApiResponse(OrderSerializer, description="The order of this client_order_id "
                                                          "(nothing sent again)."),
        409: OrderRejectedSerializer})
    def create(self, request: Request) -> Response:
        """A manual market order on one of your paper accounts, through ``order_place``
        (validation, kill switches and risk rules). Bad input: 400 with field errors, nothing
        sent; a value only the market can judge (volume step, SL/TP side) also leaves the
        refused intent as a rejected order."""
        from trading.services import manual_key, order_place  # pandas underneath

        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = self._paper_account(data["account"])
        key = manual_key(account.pk, data.get("client_order_id"))
        existing = Order.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return self._answer(existing, created=False)
        try:
            result = order_place(account.pk, idempotency_key=key, symbol=data["symbol"],
                                 side=data["side"], volume=data["volume"], sl=data.get("sl"),
                                 tp=data.get("tp"), broker=order_broker(account),
                                 reason=f"manual order by {request.user.get_username()} "
                                        "through the API")
        except BrokerError as exc:
            from nusatrade.api import ServiceUnavailable

            raise ServiceUnavailable(f"broker unavailable, nothing sent: {exc}") from None
        if result.in_progress:
            return Response({"detail": result.message, "order": OrderSerializer(
                result.order).data}, status=status.HTTP_409_CONFLICT)
        return self._answer(result.order, created=result.created)

    def _paper_account(self, account_id: int) -> TradingAccount:
        account = selectors.account_list(self.request.user).filter(pk=account_id).first()
        if account is None:
            raise exceptions.ValidationError({"account": ["No such trading account of yours."]})
        if account.broker != Broker.PAPER:
            raise exceptions.ValidationError(
                {"account": ["Manual orders through the API are for paper accounts only."]})
        return account

    def _answer(self, order: Order, *, created: bool) -> Response:
        from trading.services import order_refusal

        refusal = order_refusal(order)
        if refusal is not None:
            raise exceptions.ValidationError(refusal_errors(order, refusal))
        if order.status == OrderStatus.REJECTED and order.attempts == 0:
            return Response({"detail": order.error, "order": OrderSerializer(order).data},
                            status=status.HTTP_409_CONFLICT)
        return Response(OrderSerializer(order).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def refusal_errors(order: Order, refusal: dict[str, str]) -> dict[str, list[str]]:
    """``order_place``'s field errors (``trading.services.order_refusal``) as the API's field
    errors: each on its own field, the rest (and a row stored without them) as non-field
    errors after the one saying nothing was sent."""
    errors: dict[str, list[str]] = {}
    other = [f"Refused before sending; nothing was sent (the refused intent is order "
             f"{order.pk})."]
    for field, message in refusal.items():
        if field in _ORDER_FIELDS:
            errors[field] = [message]
        else:
            other.append(f"{field}: {message}")
    if not refusal:
        other.append(order.error)
    errors["non_field_errors"] = other
    return errors


class SignalViewSet(ValuesListMixin, ApiViewSet, mixins.ListModelMixin,
                    mixins.RetrieveModelMixin):
    """Decisions of your accounts' models (and yours), with probabilities and HOLD reasons."""

    serializer_class = SignalSerializer
    list_rows = ValuesRows(SignalSerializer)
    queryset = selectors.Signal.objects.none()
    filterset_class = SignalFilter
    ordering_fields = ("id", "bar_time")
    ordering = ("-bar_time", "-id")

    def get_queryset(self) -> QuerySet:
        return selectors.signal_list(self.request.user)
