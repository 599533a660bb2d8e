"""Serve this machine's worker metrics for Prometheus, on a machine without the web app.

Celery workers write their counters into ``PROMETHEUS_MULTIPROC_DIR`` of their own machine;
on a worker-only machine nothing serves that directory, so this command does: a small HTTP
server with the same protection as ``/metrics`` (``METRICS_TOKEN`` bearer or
``METRICS_ALLOWED_NETWORKS``; 403/404 otherwise). Database facts are not repeated here: the
web's ``/metrics`` has them.
"""

from __future__ import annotations

import os
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.management.base import BaseCommand, CommandError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from nusatrade.metrics import process_sample
from nusatrade.metrics.views import access


def metrics_app(environ: dict, start_response):
    verdict = access(environ.get("HTTP_AUTHORIZATION", ""), environ.get("REMOTE_ADDR", ""))
    if environ.get("PATH_INFO") != "/metrics":
        verdict = 404
    if verdict != 200:
        start_response(f"{verdict} {'Forbidden' if verdict == 403 else 'Not Found'}",
                       [("Content-Type", "text/plain")])
        return [b"forbidden" if verdict == 403 else b"not found"]
    process_sample("metrics_serve")
    registry = CollectorRegistry(auto_describe=False)
    multiprocess.MultiProcessCollector(registry)
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
    return [generate_latest(registry)]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


class Command(BaseCommand):
    help = ("Serve GET /metrics of this machine's Celery workers (PROMETHEUS_MULTIPROC_DIR) "
            "for Prometheus, protected like the web's /metrics.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addr", default="127.0.0.1",
                            help="address to listen on (a private one; default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=9108, help="port (default 9108)")

    def handle(self, *args, **options) -> None:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            raise CommandError("PROMETHEUS_MULTIPROC_DIR is not set: the workers of this "
                               "machine write their metrics nowhere this command can read")
        server: WSGIServer = make_server(options["addr"], options["port"], metrics_app,
                                         handler_class=_QuietHandler)
        self.stdout.write(f"serving worker metrics on http://{options['addr']}:"
                          f"{server.server_port}/metrics")
        try:
            server.serve_forever()
        finally:
            server.server_close()
