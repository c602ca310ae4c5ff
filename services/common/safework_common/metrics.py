"""Prometheus metrics (prometheus-client), served on a port of their own, never the public one.

Every service serves ``/metrics`` on ``<SERVICE>_METRICS_PORT`` (``GATEWAY_METRICS_PORT``,
``REGISTRY_METRICS_PORT``, ``SCHEDULER_METRICS_PORT``; the jobs runner ``JOBS_METRICS_PORT``),
bound to ``<SERVICE>_METRICS_HOST`` (default 127.0.0.1). Unset: no metrics listener. The port is
plain HTTP with no authentication: it is published on the internal network only (compose does not
publish it), like the registry and the scheduler themselves.

Several processes per service (``safework up --workers N``, uvicorn ``--workers``): when
``PROMETHEUS_MULTIPROC_DIR`` is set (``safework up`` sets one per service and empties it at
start), prometheus-client's multiprocess mode writes each process's values to files there and any
process's ``/metrics`` answers the sum over all of them. Every worker binds the metrics port with
SO_REUSEPORT, so a scrape reaches one of them and sees the whole service (this is the choice over
one port per process: one scrape target per service whatever its worker count, and counters that
survive a worker's restart). Without the variable each
process serves its own values (one process: the same thing).

Labels hold only bounded, impersonal values: a route's *template* (``/api/v1/persons/{person_id}``,
never the path a caller sent, which holds IDs), methods, status codes, upstream and job names,
outcome and reason codes, table names, policy versions. Never a national ID, a person, a client or
an address."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server


def _multiprocess_dir() -> None:
    """prometheus-client picks its mode when imported and writes to the directory as soon as a
    metric exists: make the directory if it is missing, and fall back to one process's values
    (with a warning) when it cannot be made, rather than fail every command at import."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        logging.getLogger("safework.metrics").warning(
            "PROMETHEUS_MULTIPROC_DIR unusable (%s): this process serves its own metrics", exc.strerror
        )


_multiprocess_dir()

from prometheus_client import (  # noqa: E402 (after the directory check above)
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client.exposition import ThreadingWSGIServer  # noqa: E402

log = logging.getLogger("safework.metrics")

# Latency buckets (seconds): 1 ms to 30 s (the upstream timeout).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 10, 100, 500, 1000, 2500, 5000, 10_000)
UNMATCHED = "<unmatched>"

HTTP_REQUESTS = Histogram(
    "safework_http_request_duration_seconds",
    "Requests answered, by route template, method and status, and how long they took "
    "(its _count is the request count).",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_REQUESTS = Histogram(
    "safework_gateway_upstream_request_duration_seconds",
    "The gateway's requests to the registry and the scheduler, by upstream, method and status.",
    ["upstream", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "safework_gateway_upstream_errors_total",
    "Upstream requests that got no usable answer: unavailable, timeout, auth_failed.",
    ["upstream", "kind"],
)
RATE_LIMITED = Counter(
    "safework_gateway_rate_limited_total",
    "Requests refused with 429 by a rate limit (client: per client or device; anonymous: per address).",
    ["limiter"],
)
RATE_LIMIT_BACKEND_ERRORS = Counter(
    "safework_gateway_rate_limit_backend_errors_total",
    "Rate-limit checks Redis could not answer (the process's own bucket was used instead).",
)
DB_POOL_CHECKED_OUT = Gauge(
    "safework_db_pool_checked_out",
    "Database connections in use (summed over the service's live processes).",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "safework_db_pool_size",
    "Database connections each pool keeps (summed over the service's live processes).",
    multiprocess_mode="livesum",
)
BATCH_ITEMS = Histogram(
    "safework_batch_items",
    "Items per batch received (kind: results, roster).",
    ["kind"],
    buckets=BATCH_BUCKETS,
)
BATCH_OUTCOMES = Counter(
    "safework_batch_item_outcomes_total",
    "Batch items by kind and outcome (accepted, duplicate, rejected; created, updated, ...).",
    ["kind", "outcome"],
)
VERDICTS = Counter(
    "safework_verdicts_total",
    "Verdicts answered (a person's due and cleared-to-work), by cleared or not and reason code "
    "(reason 'none' for a verdict without one).",
    ["cleared", "reason"],
)
POLICY_IN_FORCE = Gauge(
    "safework_policy_in_force",
    "1 for the policy version the scheduler last answered with.",
    ["version"],
    multiprocess_mode="max",
)
JOB_RUNS = Counter(
    "safework_job_runs_total",
    "Scheduled job runs by job and outcome (done, skipped: another runner holds the lock, failed).",
    ["job", "outcome"],
)
JOB_LAST_SUCCESS = Gauge(
    "safework_job_last_success_timestamp_seconds",
    "When each job last finished successfully (Unix time).",
    ["job"],
    multiprocess_mode="max",
)
JOB_DURATION = Histogram(
    "safework_job_duration_seconds",
    "How long each job's runs took.",
    ["job"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)
RETENTION_REMOVED = Counter(
    "safework_retention_removed_total",
    "Rows removed by retention runs, by table.",
    ["table"],
)


def count_outcomes(kind: str, outcomes: Iterable[tuple[str, int]]) -> None:
    """A batch's size and its per-outcome counts."""
    total = 0
    for outcome, n in outcomes:
        if n:
            BATCH_OUTCOMES.labels(kind, outcome).inc(n)
        total += n
    BATCH_ITEMS.labels(kind).observe(total)


_policy_shown: list[str] = []


def policy_in_force(version: str) -> None:
    """The version answered for "now": 1 for it, 0 for the one it replaced."""
    if _policy_shown and _policy_shown[0] == version:
        return
    if _policy_shown:
        POLICY_IN_FORCE.labels(_policy_shown[0]).set(0)
        _policy_shown.clear()
    POLICY_IN_FORCE.labels(version).set(1)
    _policy_shown.append(version)


def count_verdict(cleared: bool, reasons: Iterable[str]) -> None:
    """One verdict: each reason it was not cleared for (codes), or ``none``."""
    flag = "true" if cleared else "false"
    counted = False
    for reason in reasons:
        VERDICTS.labels(flag, reason).inc()
        counted = True
    if not counted:
        VERDICTS.labels(flag, "none").inc()


def registry() -> CollectorRegistry:
    """What ``/metrics`` serves: every process's values in multiprocess mode, else this one's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)  # type: ignore[no-untyped-call]
        return reg
    from prometheus_client import REGISTRY

    return REGISTRY


class _Server(ThreadingWSGIServer):
    allow_reuse_address = True


class _SharedServer(_Server):
    # Multiprocess mode: every worker of the service binds the same metrics port (each answers
    # for all of them). Only then: a lone process must not share its port with a stranger.
    allow_reuse_port = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class MetricsServer:
    """``/metrics`` on its own port, in a daemon thread, until :meth:`stop`."""

    def __init__(self, host: str, port: int) -> None:
        shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        server_class = _SharedServer if shared else _Server
        self._httpd = make_server(host, port, make_wsgi_app(registry()), server_class, handler_class=_Quiet)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def start_metrics(host: str, port: int | None) -> MetricsServer | None:
    """The metrics listener when a port is configured; a port in use is logged, never fatal."""
    if port is None:
        return None
    try:
        return MetricsServer(host, port)
    except OSError as exc:
        log.warning("metrics port %s unavailable: %s", port, exc.strerror)
        return None


def process_exited() -> None:
    """In multiprocess mode, drop this process's live gauges (pool use) from the sums."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
