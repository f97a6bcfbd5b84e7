"""Structured logs: one JSON object per line on stdout, in the shape Cloud Logging parses.

Fields bound with `context(...)` (a request's trace, the job being run) ride along on every event
logged inside it, so one trace links the upload request, its job and the OCR that ran it.
Listeners (common.metrics) see every event, so the Prometheus metrics count exactly what the
log-based metrics in Cloud Monitoring count.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime

_RANKS = {"DEBUG": 10, "INFO": 20, "NOTICE": 25, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_threshold = _RANKS["INFO"]
TRACE_KEY = "logging.googleapis.com/trace"  # Cloud Logging groups lines by this field
TRACE_HEADER = "X-Cloud-Trace-Context"  # "TRACE_ID/SPAN_ID;o=1"

_bound: contextvars.ContextVar[dict] = contextvars.ContextVar("log_fields", default={})  # noqa: B039 (never mutated)
_listeners: list[Callable[[str, dict], None]] = []


def redact_url(url: str) -> str:
    """The URL with its password (`redis://user:secret@host`, `?password=secret`) replaced by
    `***`, for logs and banners; the rest stays, so an operator still sees which server it is."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name.lower() == "password" for name, _ in query):
        query = [(name, "***" if name.lower() == "password" else value) for name, value in query]
        parts = parts._replace(query=urlencode(query, safe="*"))
    return urlunsplit(parts)


def set_level(level: str) -> None:
    global _threshold
    _threshold = _RANKS[level.upper()]


def trace_from_header(header: str | None, project: str) -> str | None:
    """`projects/<project>/traces/<trace id>` from an X-Cloud-Trace-Context value, or None."""
    trace_id = (header or "").split("/", 1)[0].split(";", 1)[0].strip()
    if not trace_id or not all(c in "0123456789abcdefABCDEF" for c in trace_id) or len(trace_id) > 32:
        return None
    return f"projects/{project}/traces/{trace_id.lower()}"


def trace_header(trace: str | None) -> str | None:
    """The X-Cloud-Trace-Context value that continues `trace` (a `projects/.../traces/ID`)."""
    return trace.rsplit("/", 1)[1] if trace and "/traces/" in trace else None


@contextlib.contextmanager
def context(**fields):
    """Add `fields` (None values are left out) to every event logged inside the block."""
    token = _bound.set({**_bound.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


def bound(name: str):
    """A field bound by an enclosing `context`, e.g. bound("trace")."""
    return _bound.get().get(name)


def add_listener(listener: Callable[[str, dict], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def event(name: str, severity: str = "INFO", **fields) -> None:
    fields = {**_bound.get(), **fields}
    for listener in _listeners:
        listener(name, fields)
    if _RANKS[severity] < _threshold:
        return
    trace = fields.pop("trace", None)
    record = {
        "severity": severity,
        "message": name,
        "event": name,
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        **fields,
    }
    if trace:
        record[TRACE_KEY] = trace
    sys.stdout.write(json.dumps(record, default=str) + "\n")
    sys.stdout.flush()
