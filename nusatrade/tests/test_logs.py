"""Structured logs: a request id or task id on every line; JSON in production; Sentry's init
path for web and workers exercised against a loopback collector (no network)."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nusatrade.logconfig import logging_config
from nusatrade.logs import REQUEST_ID_HEADER, ContextFilter, request_id_var, task_id_var
from tests.helpers import PRODUCTION_ENV, clean_env, run_python


def test_a_response_carries_a_fresh_request_id(client):
    first = client.get("/no-such-page")[REQUEST_ID_HEADER]
    second = client.get("/no-such-page")[REQUEST_ID_HEADER]
    assert len(first) == 32 and first != second


def test_the_proxy_request_id_is_kept_when_sane_and_replaced_when_not(client):
    kept = client.get("/no-such-page", HTTP_X_REQUEST_ID="nginx-0123456789abcdef")
    assert kept[REQUEST_ID_HEADER] == "nginx-0123456789abcdef"
    hostile = client.get("/no-such-page", HTTP_X_REQUEST_ID='x"\n{"level":"fake"}')
    assert hostile[REQUEST_ID_HEADER] != 'x"\n{"level":"fake"}'
    assert len(hostile[REQUEST_ID_HEADER]) == 32


def test_a_log_line_inside_a_view_carries_the_request_id(client, caplog):
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/no-such-page")  # django.request logs the 404 as a warning
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records and records[-1].request_id == response[REQUEST_ID_HEADER]
    assert request_id_var.get() == "-"  # unbound once the response is finished


def test_a_task_log_line_carries_the_task_id(caplog):
    from nusatrade.tasks import ping

    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.INFO, logger="celery.app.trace"):
        result = ping.apply(args=["x"])
    traced = [r for r in caplog.records if r.name == "celery.app.trace"]
    assert traced and traced[-1].task_id == result.id
    assert task_id_var.get() == "-"  # unbound after the task


def _json_line(message: str) -> dict:
    import io

    config = logging_config("json", "INFO")
    formatter = logging.config.DictConfigurator(config).configure_formatter(
        config["formatters"]["json"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("nusatrade.test_json")
    logger.addHandler(handler)
    try:
        logger.warning(message, extra={"order_id": 7})
    finally:
        logger.removeHandler(handler)
    return json.loads(stream.getvalue())


def test_json_lines_are_objects_with_the_ids_and_extra_fields():
    import logging.config  # noqa: F401  (DictConfigurator)

    token = request_id_var.set("req-abcdef123456")
    try:
        line = _json_line("order 7 filled")
    finally:
        request_id_var.reset(token)
    assert line["message"] == "order 7 filled" and line["level"] == "WARNING"
    assert line["logger"] == "nusatrade.test_json" and line["order_id"] == 7
    assert line["request_id"] == "req-abcdef123456" and line["task_id"] == "-"
    assert "time" in line


def _own_redis() -> dict[str, str]:
    import os

    return {"REDIS_URL": os.environ.get("REDIS_URL") or PRODUCTION_ENV["REDIS_URL"]}


def test_production_logs_json_by_default_and_development_plain():
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.LOG_FORMAT, settings.LOGGING['handlers']['console']['formatter'])")
    prod = run_python(code, clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings",
                                      **{**PRODUCTION_ENV, **_own_redis()}))
    assert prod.returncode == 0, prod.stderr
    assert prod.stdout.split() == ["json", "json"]
    dev = run_python(code, clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings"))
    assert dev.stdout.split() == ["plain", "plain"]


class _Collector(BaseHTTPRequestHandler):
    envelopes: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        _Collector.envelopes.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sentry_collector():
    _Collector.envelopes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_port}/42"
    server.shutdown()
    server.server_close()


SENTRY_PROBE = (
    "import django; django.setup(); import sentry_sdk; "
    "from nusatrade.celery import app; "
    "c = sentry_sdk.get_client(); "
    "print(sorted(c.integrations), c.options['environment'], c.options['send_default_pii']); "
    "sentry_sdk.capture_message('probe from the init test'); sentry_sdk.flush(5)"
)


def test_sentry_reports_to_the_configured_dsn_with_django_and_celery(sentry_collector):
    # Web (gunicorn) and workers import the same settings: this is the init path of both.
    result = run_python(SENTRY_PROBE, clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings",
                                                SENTRY_DSN=sentry_collector,
                                                NUSATRADE_ENV="test"))
    assert result.returncode == 0, result.stderr
    assert "'celery'" in result.stdout and "'django'" in result.stdout
    assert result.stdout.split("]")[-1].split() == ["test", "False"]
    sent = b"".join(_Collector.envelopes)
    assert b"probe from the init test" in sent and b'"environment":"test"' in sent
