"""Celery task counts, latencies and failures per queue, from Celery's signals.

Connected in every process that loads Django (``NusaTradeConfig.ready``): a worker records
the tasks it runs; with ``PROMETHEUS_MULTIPROC_DIR`` its numbers reach ``/metrics``."""

from __future__ import annotations

import os
import time

from celery.signals import task_postrun, task_prerun, worker_process_shutdown

from nusatrade.metrics.core import observe_task, process_exited, process_sample

_started: dict[str, float] = {}


def _queue(task) -> str:
    request = getattr(task, "request", None)
    info = getattr(request, "delivery_info", None) or {}
    # Redis and RabbitMQ (direct exchange) both deliver with the queue name as routing key.
    return str(info.get("routing_key") or info.get("queue") or
               ("eager" if getattr(request, "is_eager", False) else "unknown"))


@task_prerun.connect(weak=False)
def _task_started(task_id=None, **kwargs) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@task_postrun.connect(weak=False)
def _task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    started = _started.pop(task_id, None) if task_id else None
    seconds = time.perf_counter() - started if started is not None else None
    observe_task(getattr(task, "name", "unknown"), _queue(task), state or "UNKNOWN", seconds)
    process_sample("worker")


@worker_process_shutdown.connect(weak=False)
def _worker_exited(pid=None, **kwargs) -> None:
    process_exited(pid or os.getpid())
