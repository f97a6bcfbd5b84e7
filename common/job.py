"""A job: one uploaded receipt's way through the pipeline, as a plain dict document.

The document is the only truth about a job (every store keeps exactly this dict). State changes
are pure functions from one document to the next, so each store only has to apply them
atomically. `status_json` renders the original system's status contract.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    """A job's `status`: a str, so documents, JSON and comparisons with "queued" are unchanged."""

    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"


QUEUED, STARTED, FINISHED, FAILED = Status.QUEUED, Status.STARTED, Status.FINISHED, Status.FAILED
STATUSES = tuple(Status)
ACTIVE = (QUEUED, STARTED, FINISHED)  # a new upload of the same bytes returns such a job

_JOB_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Outcome:
    """What one delivery of a task came to, a job's OCR (common.processing) or its webhook
    (common.notify); the queue delivers the task again when `retry`."""

    doc: dict | None = None  # the job as this delivery left it (OCR tasks)
    retry_after: float | None = None  # set when the delivery should be tried again later
    reason: str = ""
    code: str = ""  # why to retry: "job_in_progress" or "backend_unavailable"

    @property
    def retry(self) -> bool:
        return self.retry_after is not None


class NotClaimable(Exception):
    """The change does not apply to the job in its current state; the job is left as it was."""


class JobEnded(NotClaimable):
    """The job is finished or failed: there is nothing left to do."""


class JobBusy(NotClaimable):
    """Another attempt holds the job's lease: try again after it runs out."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


def new_job_id() -> str:
    return secrets.token_hex(16)  # 128 random bits: unguessable, so the id is the capability


def is_valid_job_id(value: str) -> bool:
    return bool(_JOB_ID.fullmatch(value))


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def new_job(
    *,
    sha256: str,
    blob_name: str,
    content_type: str,
    size: int,
    pedido_id: str | None = None,
    expected_amount: float | None = None,
    callback_url: str | None = None,
    callback_key: str | None = None,
    created: datetime | None = None,
    trace: str | None = None,
) -> dict:
    created_at = iso(created or now())
    return {
        "job_id": new_job_id(),
        "status": QUEUED,
        "created_at": created_at,
        "queued_at": created_at,  # last time a task was handed over for it (the reconciler's clock)
        "started_at": None,
        "ended_at": None,
        "progress": 0,
        "attempts": 0,
        "lease_until": None,
        "result": None,
        "error": None,
        "error_code": None,
        "last_error": None,
        "sha256": sha256,
        "blob_name": blob_name,
        "content_type": content_type,
        "size": size,
        "pedido_id": pedido_id,
        "expected_amount": expected_amount,
        "callback_url": callback_url,  # POSTed the status JSON when the job ends (common.notify)
        "callback_key": callback_key,  # whose webhook secret signs it: an API key digest or "*"
        "notification": None,
        "trace": trace,  # the upload request's Cloud Trace: the job's log lines carry it too
    }


def claim(doc: dict, at: datetime, lease_seconds: int) -> dict:
    """Start an attempt: a queued job, or a started one whose previous attempt's lease ran out."""
    if doc["status"] in (FINISHED, FAILED):
        raise JobEnded(f"job already {doc['status']}")
    if doc["status"] == STARTED and not lease_expired(doc, at):
        left = (datetime.fromisoformat(doc["lease_until"]) - at).total_seconds()
        raise JobBusy("job is being processed by another attempt", retry_after=left)
    return {
        **doc,
        "status": STARTED,
        "started_at": doc["started_at"] or iso(at),
        "progress": 0,
        "attempts": doc["attempts"] + 1,
        "lease_until": iso(at + timedelta(seconds=lease_seconds)),
    }


def _require_attempt(doc: dict, attempt: int) -> None:
    # An attempt that lost its lease to a newer one must not overwrite the newer one's work.
    if doc["status"] != STARTED or doc["attempts"] != attempt:
        raise NotClaimable("this attempt no longer owns the job")


def progress(doc: dict, attempt: int, percent: int, at: datetime, lease_seconds: int) -> dict:
    """Report progress; it also renews the lease, so a live attempt keeps its job however long
    it runs, while a dead one loses it a lease after its last report."""
    _require_attempt(doc, attempt)
    return {
        **doc,
        "progress": max(0, min(100, int(percent))),
        "lease_until": iso(at + timedelta(seconds=lease_seconds)),
    }


def finish(doc: dict, attempt: int, result: dict, at: datetime) -> dict:
    _require_attempt(doc, attempt)
    return _ended(
        {**doc, "status": FINISHED, "progress": 100, "result": result, "ended_at": iso(at), "lease_until": None}, at
    )


def fail(doc: dict, attempt: int | None, code: str, message: str, at: datetime) -> dict:
    """End the job failed; `attempt=None` fails it from outside any attempt (e.g. never started)."""
    if attempt is not None:
        _require_attempt(doc, attempt)
    elif doc["status"] in (FINISHED, FAILED):
        raise JobEnded(f"job already {doc['status']}")
    return _ended(
        {**doc, "status": FAILED, "error": message, "error_code": code, "ended_at": iso(at), "lease_until": None}, at
    )


def _ended(doc: dict, at: datetime) -> dict:
    """A job with a callback URL owes its caller one notification once it ends: it is due from the
    same write that ends the job, so no crash in between can forget it (the reconciler resends)."""
    if not doc.get("callback_url") or doc.get("notification"):
        return doc
    notification = {
        "status": NOTIFY_PENDING,
        "attempts": 0,
        "last_status_code": None,
        "delivered_at": None,
        "delivery_id": secrets.token_hex(16),
        "queued_at": iso(at),
        "lease_until": None,
        "last_error": None,
    }
    return {**doc, "notification": notification}


# --- the job's notification (webhook) --------------------------------------------------------------
NOTIFY_PENDING, NOTIFY_DELIVERED, NOTIFY_FAILED = "pending", "delivered", "failed"


def notification_attempt(doc: dict, at: datetime, lease_seconds: int) -> dict:
    """Start a delivery attempt of the job's notification: one at a time, each holding a lease."""
    note = doc.get("notification")
    if not note or note["status"] != NOTIFY_PENDING:
        raise JobEnded(f"no notification pending ({note['status'] if note else 'none'})")
    if note["lease_until"] and datetime.fromisoformat(note["lease_until"]) > at:
        left = (datetime.fromisoformat(note["lease_until"]) - at).total_seconds()
        raise JobBusy("another attempt is delivering the notification", retry_after=left)
    lease = iso(at + timedelta(seconds=lease_seconds))
    return {**doc, "notification": {**note, "attempts": note["attempts"] + 1, "lease_until": lease}}


def notification_outcome(
    doc: dict, attempt: int, status: str, status_code: int | None, error: str | None, at: datetime
) -> dict:
    """Record what attempt `attempt` got: delivered, failed for good, or pending (retry later)."""
    note = doc.get("notification")
    if not note or note["status"] != NOTIFY_PENDING or note["attempts"] != attempt:
        raise NotClaimable("this attempt no longer owns the notification")
    return {
        **doc,
        "notification": {
            **note,
            "status": status,
            "last_status_code": status_code,
            "last_error": error,
            "lease_until": None,
            "delivered_at": iso(at) if status == NOTIFY_DELIVERED else None,
            "queued_at": iso(at),
        },
    }


def notification_requeued(doc: dict, at: datetime) -> dict:
    note = doc.get("notification")
    if not note or note["status"] != NOTIFY_PENDING:
        raise NotClaimable("no notification pending")
    return {**doc, "notification": {**note, "queued_at": iso(at)}}


def notification_stale(doc: dict, at: datetime, after_seconds: int) -> bool:
    """Pending, not being delivered, and not handed to the queue for `after_seconds`."""
    note = doc.get("notification")
    if not note or note["status"] != NOTIFY_PENDING:
        return False
    if note["lease_until"] and datetime.fromisoformat(note["lease_until"]) > at:
        return False
    return datetime.fromisoformat(note["queued_at"]) <= at - timedelta(seconds=after_seconds)


def release(doc: dict, attempt: int, message: str, at: datetime) -> dict:
    """Give the job back after a transient failure, so the next delivery can claim it at once."""
    _require_attempt(doc, attempt)
    return {**doc, "status": QUEUED, "progress": 0, "lease_until": None, "last_error": message, "queued_at": iso(at)}


def requeued(doc: dict, at: datetime) -> dict:
    """Note that a task was handed over again for a job still waiting (see common.reconcile)."""
    if doc["status"] != QUEUED:
        raise NotClaimable(f"job is {doc['status']}, not queued")
    return {**doc, "queued_at": iso(at)}


def lease_expired(doc: dict, at: datetime) -> bool:
    return doc["status"] == STARTED and (not doc["lease_until"] or datetime.fromisoformat(doc["lease_until"]) <= at)


def abandoned(doc: dict, at: datetime, queued_after_seconds: int) -> bool:
    """Nothing is working on the job any more: its attempt's lease ran out (the process running it
    died, or was stopped with Ctrl-C), or it has waited `queued_after_seconds` for a task that
    never came. Another upload of its bytes, or the reconciler, then hands it over again."""
    if doc["status"] == QUEUED:
        return datetime.fromisoformat(doc["queued_at"]) <= at - timedelta(seconds=queued_after_seconds)
    return lease_expired(doc, at)


def status_json(doc: dict) -> dict:
    """The seed's `GET /jobs/<id>/status` body for each status, plus a few documented extras."""
    body = {"job_id": doc["job_id"], "status": doc["status"]}
    if doc["status"] == STARTED:
        body["progress"] = doc["progress"]
    if doc["status"] == FINISHED:
        body["result"] = doc["result"]
    if doc["status"] == FAILED:
        body["error"] = doc["error"]
        body["error_code"] = doc["error_code"]
    body["created_at"] = doc["created_at"]
    if doc["status"] != QUEUED:
        body["started_at"] = doc["started_at"]
    if doc["status"] in (FINISHED, FAILED):
        body["ended_at"] = doc["ended_at"]
    body["pedido_id"] = doc["pedido_id"]
    body["sha256"] = doc["sha256"]
    body["attempts"] = doc["attempts"]
    note = doc.get("notification")
    if note:
        body["notification"] = {k: note[k] for k in ("status", "attempts", "last_status_code", "delivered_at")}
    return body


def webhook_json(doc: dict) -> dict:
    """What a webhook POSTs: the status JSON, without the notification's own delivery record."""
    body = status_json(doc)
    body.pop("notification", None)
    return body
