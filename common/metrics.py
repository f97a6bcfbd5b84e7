"""Prometheus metrics of the pipeline, derived from its log events (common.log).

Counting log events, not call sites, keeps these the same metrics as the log-based metrics
Terraform defines in Cloud Monitoring (terraform/metrics.tf): a job counts as finished here
exactly when a `job_finished` line would count there. Off unless enabled: the RQ worker serves
them on METRICS_PORT, the functions on GET /metrics when METRICS_ENABLED (local stack only).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from common import log

# 50 ms x 2^i, as the Cloud Monitoring job_duration_ms distribution, in seconds.
DURATION_BUCKETS = tuple(0.05 * 2**i for i in range(14))

_lock = threading.Lock()
_metrics: dict = {}
_queue_depth: list[Callable[[], int]] = []


def _define() -> dict:
    from prometheus_client import Counter, Gauge, Histogram

    depth = Gauge("receipts_queue_depth", "Jobs waiting in the task queue (queued, not yet started).")
    depth.set_function(_read_queue_depth)
    return {
        "queued": Counter("receipts_jobs_queued", "Jobs created and handed to the task queue."),
        "started": Counter("receipts_jobs_started", "Job attempts started."),
        "finished": Counter("receipts_jobs_finished", "Jobs that ended finished (a receipt read)."),
        "failed": Counter("receipts_jobs_failed", "Jobs that ended failed, by error_code.", ["error_code"]),
        "duration": Histogram("receipts_job_duration_seconds", "Duration of finished jobs.", buckets=DURATION_BUCKETS),
        "rejected": Counter("receipts_uploads_rejected", "Uploads refused with a 4xx, by code.", ["code"]),
        "notifications": Counter(
            "receipts_notification_attempts",
            "Webhook delivery attempts, by outcome (delivered, retry, failed).",
            ["outcome"],
        ),
        "depth": depth,
    }


def _read_queue_depth() -> float:
    if not _queue_depth:
        return float("nan")
    try:
        return float(_queue_depth[0]())
    except Exception:  # a scrape must not fail because the queue's backend is down
        return float("nan")


def _observe(name: str, fields: dict) -> None:
    m = _metrics
    if name == "job_queued":
        m["queued"].inc()
    elif name == "job_started":
        m["started"].inc()
    elif name == "job_finished":
        m["finished"].inc()
        if isinstance(fields.get("duration_ms"), (int, float)):
            m["duration"].observe(fields["duration_ms"] / 1000)
    elif name == "job_failed":
        m["failed"].labels(error_code=str(fields.get("error_code", ""))).inc()
    elif name == "upload_rejected":
        m["rejected"].labels(code=str(fields.get("code", ""))).inc()
    elif name == "notification_delivered" or name == "notification_retry" or name == "notification_failed":
        m["notifications"].labels(outcome=name.removeprefix("notification_")).inc()


def enable(queue_depth: Callable[[], int] | None = None) -> None:
    """Define the metrics (once per process) and start counting log events.
    `queue_depth()` is read at each scrape."""
    global _metrics
    with _lock:
        if not _metrics:
            _metrics = _define()
            log.add_listener(_observe)
        if queue_depth is not None:
            _queue_depth[:] = [queue_depth]


def exposition() -> tuple[bytes, str]:
    """The text format a Prometheus scrape reads: (body, content type)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(), CONTENT_TYPE_LATEST


def serve(port: int, host: str = "127.0.0.1"):
    """Serve /metrics on `host`:`port` from a background thread (for processes that are not web
    apps); loopback unless told otherwise, as it has no authentication."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host)
    return server  # its shutdown() stops it (the worker never does: it serves until the process ends)
