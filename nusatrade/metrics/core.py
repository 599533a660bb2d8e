"""The metric objects, the collector registry and the scrape registry (see the package doc)."""

from __future__ import annotations

import logging
import os
import resource
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)
# The *_created series double every counter and mean nothing in multiprocess mode.
disable_created_metrics()

# Seconds: a request is usually tens of ms; a cycle a few seconds; a task up to hours.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
CYCLE_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 10800)

HTTP_REQUEST_SECONDS = Histogram(
    "nusatrade_http_request_duration_seconds",
    "HTTP request latency by view name (never the raw path: ids would explode the series).",
    ["view", "method", "status"], buckets=REQUEST_BUCKETS)
CELERY_TASKS = Counter(
    "nusatrade_celery_tasks", "Celery tasks finished, by task, queue and final state.",
    ["task", "queue", "state"])
CELERY_TASK_FAILURES = Counter(
    "nusatrade_celery_task_failures", "Celery tasks that raised, by task and queue.",
    ["task", "queue"])
CELERY_TASK_SECONDS = Histogram(
    "nusatrade_celery_task_duration_seconds", "Celery task run time, by task and queue.",
    ["task", "queue"], buckets=TASK_BUCKETS)
CYCLE_SECONDS = Histogram(
    "nusatrade_cycle_duration_seconds", "Trading cycle latency (bar close to done), by outcome.",
    ["outcome"], buckets=CYCLE_BUCKETS)
PROCESS_RSS = Gauge(
    "nusatrade_process_resident_memory_bytes", "Resident memory of each live process.",
    ["role"], multiprocess_mode="liveall")
PROCESS_CPU = Gauge(
    "nusatrade_process_cpu_seconds", "User + system CPU seconds used by each live process.",
    ["role"], multiprocess_mode="liveall")

# name -> function returning metric families; each app registers its own in ready().
_COLLECTORS: dict[str, Callable[[], Iterable]] = {}


def observe_cycle(seconds: float, outcome: str = "ok") -> None:
    """Record one trading cycle's latency. The cycle calls this once per run."""
    CYCLE_SECONDS.labels(outcome=outcome).observe(max(0.0, seconds))


def observe_request(view: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUEST_SECONDS.labels(view=view, method=method, status=str(status)).observe(seconds)


def observe_task(task: str, queue: str, state: str, seconds: float | None) -> None:
    CELERY_TASKS.labels(task=task, queue=queue, state=state).inc()
    if state == "FAILURE":
        CELERY_TASK_FAILURES.labels(task=task, queue=queue).inc()
    if seconds is not None:
        CELERY_TASK_SECONDS.labels(task=task, queue=queue).observe(seconds)


def _rss_bytes() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux: peak RSS is the best we have
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def process_sample(role: str) -> None:
    """Refresh this process's CPU and memory gauges (cheap: one /proc read, one getrusage)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    PROCESS_CPU.labels(role=role).set(usage.ru_utime + usage.ru_stime)
    PROCESS_RSS.labels(role=role).set(_rss_bytes())


def process_exited(pid: int) -> None:
    """Drop a dead process's live gauges (multiprocess mode only)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


def register_collector(name: str, collect: Callable[[], Iterable]) -> None:
    """Add scrape-time metrics: ``collect()`` yields prometheus-client metric families.

    Apps call this from ``AppConfig.ready`` (imports point down: this module knows none)."""
    _COLLECTORS[name] = collect


class _Registered(Collector):
    """Every registered collector; one failing is reported as down, never a failed scrape."""

    def collect(self) -> Iterable:
        up = GaugeMetricFamily("nusatrade_metrics_collector_up",
                               "1 when the collector answered at this scrape.",
                               labels=["collector"])
        for name, collect in sorted(_COLLECTORS.items()):
            try:
                families = list(collect())
            except Exception:
                logger.exception("metrics collector %s failed", name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def registry_build() -> CollectorRegistry:
    """The registry a scrape renders: every process's metrics plus the scrape-time ones."""
    process_sample("web")
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Default())
    registry.register(_Registered())
    return registry


class _Default(Collector):
    """The single-process default registry (metrics above plus the process collector)."""

    def collect(self) -> Iterable:
        return REGISTRY.collect()
