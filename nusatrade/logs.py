"""A request id or task id on every log line (contextvars), and the JSON log format.

``RequestIdMiddleware`` takes nginx's ``X-Request-ID`` when it is a sane token (so one id
follows a request from the proxy's access log to ours) or makes one, binds it for the request
and echoes it in the response. Celery's ``task_prerun``/``task_postrun`` bind the task id and
name the same way. ``ContextFilter`` copies both onto every record, so the JSON formatter
(python-json-logger, production) and the plain one (development) can print them.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from celery.signals import task_postrun, task_prerun
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
task_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="-")
task_name_var: contextvars.ContextVar[str] = contextvars.ContextVar("task_name", default="-")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")  # never log an attacker's arbitrary bytes


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.task_id = task_id_var.get()
        record.task_name = task_name_var.get()
        return True


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Unbound at request_finished, not here: Django logs 4xx/5xx ("Not Found: ...") after
        # the middleware chain has returned, and that line needs the id too.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


@receiver(request_finished, weak=False)
def _unbind_request(**kwargs) -> None:
    request_id_var.set("-")


_task_tokens: dict[str, tuple[contextvars.Token, contextvars.Token]] = {}


@task_prerun.connect(weak=False)
def _bind_task(task_id=None, task=None, **kwargs) -> None:
    if task_id:
        _task_tokens[task_id] = (task_id_var.set(task_id),
                                 task_name_var.set(getattr(task, "name", "-")))


@task_postrun.connect(weak=False)
def _unbind_task(task_id=None, **kwargs) -> None:
    tokens = _task_tokens.pop(task_id, None) if task_id else None
    if tokens:
        task_id_var.reset(tokens[0])
        task_name_var.reset(tokens[1])
