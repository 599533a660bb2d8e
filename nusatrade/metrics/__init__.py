"""Prometheus metrics for web, workers and the trading cycle (docs/OPERATIONS.md, "Monitoring").

Design (why it is correct with several processes):

* Counters and histograms are written by the process that observes them: gunicorn workers
  (request latencies), Celery workers (task counts, latencies, failures per queue) and the
  cycle (``observe_cycle``). With ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus-client's
  multiprocess mode keeps each process's values in memory-mapped files in that directory and
  ``/metrics`` merges every file, so a scrape sees all processes of the machine whichever
  gunicorn worker answers it. Without it (development, tests) one in-process registry.
* Gauges that are facts of the database (orders by status, open exposure, engaged kill
  switches, last backup and reconciliation, connection use) are computed at scrape time by
  collectors that the apps register (``register_collector``), so they are exact however many
  processes run, and this bottom layer imports no app above it.
* Process CPU and memory are per-process gauges (``liveall``: one series per live pid); a
  process that exits is removed by ``process_exited`` (gunicorn ``child_exit``, Celery
  ``worker_process_shutdown``).

Workers on another machine write into that machine's directory; ``manage.py metrics_serve``
exposes it there for Prometheus to scrape (docs/DEPLOYMENT.md).
"""

from __future__ import annotations

from nusatrade.metrics.core import (
    observe_cycle,
    observe_request,
    observe_task,
    process_exited,
    process_sample,
    register_collector,
    registry_build,
)

__all__ = ["observe_cycle", "observe_request", "observe_task", "process_exited",
           "process_sample", "register_collector", "registry_build"]
