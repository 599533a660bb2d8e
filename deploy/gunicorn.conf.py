"""gunicorn settings for deploy/systemd/nusatrade-web.service (docs/DEPLOYMENT.md)."""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # nginx in front, never public
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30  # a request that takes longer is a bug; every client has its own timeouts
graceful_timeout = 30
max_requests = 2000  # recycle workers: bounded memory growth
max_requests_jitter = 200
forwarded_allow_ips = "127.0.0.1"
accesslog = "-"
errorlog = "-"


def child_exit(server, worker) -> None:
    """Drop the dead worker's live gauges from the metrics directory (multiprocess mode)."""
    from nusatrade.metrics import process_exited

    process_exited(worker.pid)


def post_worker_init(worker) -> None:
    """Import the dashboard's heavy modules once per worker (pandas, numba kernels), so the
    first /admin/dashboard/ of a fresh or recycled worker is not 2 s of imports."""
    try:
        from monitoring.dashboard import warm_up

        warm_up()
    except Exception:  # a failed warm-up costs the first page its imports, never the worker
        worker.log.exception("dashboard warm-up failed")
