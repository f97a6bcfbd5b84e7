"""A job: one uploaded receipt's way through the pipeline, as a plain dict document.

The document is the only truth about a job (every store keeps exactly this dict); `Job` is its
type, a TypedDict: annotations only, so what is stored and shown is the plain dict it always was.
State changes are pure functions from one document to the next, so each store only has to apply
them atomically. `status_json` renders the original system's status contract.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NotRequired, TypedDict


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

# Whose job it is (common.tenants): a TENANTS name or an API key digest; this one when keys are
# not required, and for documents stored before jobs had a tenant.
DEFAULT_TENANT = "default"


class Result(TypedDict):
    """A finished job's `result`: the seed's `{success, data}`; `data` is the receipt's fields
    (common.processing.read_receipt), open-ended: each release may add one."""

    success: bool
    data: dict[str, Any]


class Notification(TypedDict):
    """The job's webhook delivery record (`notification`), once the job ended with a callback URL."""

    status: str  # NOTIFY_PENDING, NOTIFY_DELIVERED or NOTIFY_FAILED
    attempts: int
    last_status_code: int | None
    delivered_at: str | None  # ISO 8601, like every time in the document
    delivery_id: str  # the X-Delivery-Id header: the same for every attempt
    queued_at: str
    lease_until: str | None
    last_error: str | None
    # Which change it tells of (the X-Event header, common.notify): only on the ones sent again
    # after the end, a review's ("job.reviewed") or a payment's confirmation ("job.payment");
    # without it, the job's end ("job.ended").
    event: NotRequired[str]


class Job(TypedDict):
    """The job document, as `new_job` makes it and every store keeps it (key order included).

    Times are ISO 8601 strings (`iso`). `status` is a `Status` when made here, a plain str once
    read back from a store: both compare equal to "queued". Documents written by older releases
    may lack the newer keys, so readers use `.get` for `notification`, `trace` and the callback.
    """

    job_id: str
    tenant: str  # whose job it is (common.tenants); documents from before tenants lack it
    status: str
    created_at: str
    queued_at: str  # last time a task was handed over for it (the reconciler's clock)
    started_at: str | None
    ended_at: str | None
    progress: int
    attempts: int
    lease_until: str | None
    result: Result | None
    error: str | None
    error_code: str | None
    last_error: str | None
    sha256: str
    blob_name: str
    content_type: str
    size: int
    pedido_id: str | None
    expected_amount: float | None
    callback_url: str | None
    callback_key: str | None
    notification: Notification | None
    trace: str | None
    expires_at: str | None  # RETENTION_DAYS after creation; documents from before retention lack it
    # The payment's confirmation with the receiver's PSP, once it could not be asked at first
    # (payment_unknown): {status, attempts, next_at, last_error}.
    confirmation: NotRequired[dict[str, Any]]
    # The latest human review (common.review): {decision, reviewed_at, reviewer, changes, note,
    # history: the earlier reviews, oldest first}; only once a job was reviewed.
    review: NotRequired[dict[str, Any]]


@dataclass(frozen=True)
class Outcome:
    """What one delivery of a task came to, a job's OCR (common.processing) or its webhook
    (common.notify); the queue delivers the task again when `retry`."""

    doc: Job | None = None  # the job as this delivery left it (OCR tasks)
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


def tenant_of(doc: Job | dict) -> str:
    return doc.get("tenant") or DEFAULT_TENANT


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
    tenant: str = DEFAULT_TENANT,
    retention_days: int | None = None,
) -> Job:
    """`retention_days` (RETENTION_DAYS): how long the job keeps the receipt's personal data; its
    `expires_at` is when the job store drops it (None: kept until erased)."""
    moment = created or now()
    created_at = iso(moment)
    return {
        "job_id": new_job_id(),
        "tenant": tenant,  # only its tenant's keys see it; never in the status JSON
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
        "callback_key": callback_key,  # whose webhook secret signs it: a tenant (name or key digest) or "*"
        "notification": None,
        "trace": trace,  # the upload request's Cloud Trace: the job's log lines carry it too
        # Firestore's TTL policy deletes the job after this; the reconciler's sweep does on SQLite.
        "expires_at": iso(moment + timedelta(days=retention_days)) if retention_days else None,
    }


def claim(doc: Job, at: datetime, lease_seconds: int) -> Job:
    """Start an attempt: a queued job, or a started one whose previous attempt's lease ran out."""
    if doc["status"] in (FINISHED, FAILED):
        raise JobEnded(f"job already {doc['status']}")
    lease_until = doc["lease_until"]  # set while the lease runs: lease_expired says so without one
    if doc["status"] == STARTED and lease_until and not lease_expired(doc, at):
        left = (datetime.fromisoformat(lease_until) - at).total_seconds()
        raise JobBusy("job is being processed by another attempt", retry_after=left)
    return {
        **doc,
        "status": STARTED,
        "started_at": doc["started_at"] or iso(at),
        "progress": 0,
        "attempts": doc["attempts"] + 1,
        "lease_until": iso(at + timedelta(seconds=lease_seconds)),
    }


def _require_attempt(doc: Job, attempt: int) -> None:
    # An attempt that lost its lease to a newer one must not overwrite the newer one's work.
    if doc["status"] != STARTED or doc["attempts"] != attempt:
        raise NotClaimable("this attempt no longer owns the job")


def progress(doc: Job, attempt: int, percent: int, at: datetime, lease_seconds: int) -> Job:
    """Report progress; it also renews the lease, so a live attempt keeps its job however long
    it runs, while a dead one loses it a lease after its last report."""
    _require_attempt(doc, attempt)
    return {
        **doc,
        "progress": max(0, min(100, int(percent))),
        "lease_until": iso(at + timedelta(seconds=lease_seconds)),
    }


def finish(doc: Job, attempt: int, result: Result, at: datetime) -> Job:
    _require_attempt(doc, attempt)
    return _ended(
        {**doc, "status": FINISHED, "progress": 100, "result": result, "ended_at": iso(at), "lease_until": None}, at
    )


def fail(doc: Job, attempt: int | None, code: str, message: str, at: datetime) -> Job:
    """End the job failed; `attempt=None` fails it from outside any attempt (e.g. never started)."""
    if attempt is not None:
        _require_attempt(doc, attempt)
    elif doc["status"] in (FINISHED, FAILED):
        raise JobEnded(f"job already {doc['status']}")
    return _ended(
        {**doc, "status": FAILED, "error": message, "error_code": code, "ended_at": iso(at), "lease_until": None}, at
    )


EVENT_ENDED, EVENT_REVIEWED, EVENT_PAYMENT = "job.ended", "job.reviewed", "job.payment"


def _ended(doc: Job, at: datetime, again: bool = False, event: str | None = None) -> Job:
    """A job with a callback URL owes its caller one notification once it ends: it is due from the
    same write that ends the job, so no crash in between can forget it (the reconciler resends).
    `again`: the finished job changed (its payment got confirmed), so it owes a new one."""
    if not doc.get("callback_url") or (doc.get("notification") and not again):
        return doc
    notification: Notification = {
        "status": NOTIFY_PENDING,
        "attempts": 0,
        "last_status_code": None,
        "delivered_at": None,
        "delivery_id": secrets.token_hex(16),
        "queued_at": iso(at),
        "lease_until": None,
        "last_error": None,
    }
    if event:
        notification["event"] = event
    return {**doc, "notification": notification}


# --- the payment's confirmation with the receiver's PSP (common.confirmation) -----------------------
CONFIRM_PENDING, CONFIRM_DONE, CONFIRM_GAVE_UP = "pending", "done", "gave_up"


PAYMENT_REASONS = ("payment_not_found", "payment_mismatch")


def _with_payment(doc: Job, data: dict) -> Job:
    if doc["status"] != FINISHED or doc["result"] is None:
        raise NotClaimable(f"job is {doc['status']}, not finished")
    if doc.get("review"):
        # A person already vouched for this receipt: only news from the bank it did not see (a
        # payment reason the job did not have) puts it back in the review queue.
        before = set(doc["result"]["data"].get("review_reasons") or [])
        news = set(data.get("review_reasons") or []) - before
        data = {**data, "needs_review": bool(news & set(PAYMENT_REASONS))}
    return {**doc, "result": {**doc["result"], "data": data}}


def payment_unknown(doc: Job, result: dict, at: datetime, base_seconds: int, max_attempts: int) -> Job:
    """The PSP could not be asked: `confirmed` is null and the reconciler asks again after a delay
    doubling from `base_seconds` (at most an hour), `max_attempts` times in all."""
    data = doc["result"]["data"] if doc["result"] is not None else {}
    if doc["status"] == FINISHED and (data.get("validacao_pagamento") or {}).get("confirmed") is not None:
        raise NotClaimable("the payment is already known")  # a push got there first
    attempts = (doc.get("confirmation") or {}).get("attempts", 0) + 1
    delay = min(3600, base_seconds * 2 ** (attempts - 1))
    new = _with_payment(doc, {**data, "validacao_pagamento": result})
    confirmation = {
        "status": CONFIRM_PENDING if attempts < max_attempts else CONFIRM_GAVE_UP,
        "attempts": attempts,
        "next_at": iso(at + timedelta(seconds=delay)),
        "last_error": result.get("reason"),
    }
    return {**new, "confirmation": confirmation}


def payment_known(doc: Job, data: dict, at: datetime) -> Job:
    """The PSP answered (a pull or a push) after the job finished: its `data` gets the new
    `validacao_pagamento` and the caller's webhook is due again."""
    attempts = (doc.get("confirmation") or {}).get("attempts", 0)
    new = _with_payment(doc, data)
    confirmation = {"status": CONFIRM_DONE, "attempts": attempts, "next_at": None, "last_error": None}
    return _ended({**new, "confirmation": confirmation}, at, again=True, event=EVENT_PAYMENT)  # type: ignore[typeddict-item]


def reviewed(doc: Job, data: dict[str, Any], review: dict[str, Any], at: datetime) -> Job:
    """A human reviewed the finished job (common.review): its `result.data` becomes `data`, the
    review is recorded (the previous one joins its history) and the caller's webhook is due again."""
    if doc["status"] != FINISHED:
        raise NotClaimable(f"job is {doc['status']}, not finished")
    earlier = doc.get("review")
    history = [*earlier.get("history", []), {k: v for k, v in earlier.items() if k != "history"}] if earlier else []
    result: Result = {"success": doc["result"]["success"] if doc["result"] else True, "data": data}
    new: Job = {**doc, "result": result, "review": {**review, "history": history}}
    return _ended(new, at, again=True, event=EVENT_REVIEWED)


def confirmation_due(doc: Job, at: datetime) -> bool:
    state = doc.get("confirmation") or {}
    return state.get("status") == CONFIRM_PENDING and datetime.fromisoformat(state["next_at"]) <= at


# --- the job's notification (webhook) --------------------------------------------------------------
NOTIFY_PENDING, NOTIFY_DELIVERED, NOTIFY_FAILED = "pending", "delivered", "failed"


def notification_attempt(doc: Job, at: datetime, lease_seconds: int) -> Job:
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
    doc: Job, attempt: int, status: str, status_code: int | None, error: str | None, at: datetime
) -> Job:
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


def notification_requeued(doc: Job, at: datetime) -> Job:
    note = doc.get("notification")
    if not note or note["status"] != NOTIFY_PENDING:
        raise NotClaimable("no notification pending")
    return {**doc, "notification": {**note, "queued_at": iso(at)}}


def notification_stale(doc: Job, at: datetime, after_seconds: int) -> bool:
    """Pending, not being delivered, and not handed to the queue for `after_seconds`."""
    note = doc.get("notification")
    if not note or note["status"] != NOTIFY_PENDING:
        return False
    if note["lease_until"] and datetime.fromisoformat(note["lease_until"]) > at:
        return False
    return datetime.fromisoformat(note["queued_at"]) <= at - timedelta(seconds=after_seconds)


def release(doc: Job, attempt: int, message: str, at: datetime) -> Job:
    """Give the job back after a transient failure, so the next delivery can claim it at once."""
    _require_attempt(doc, attempt)
    return {**doc, "status": QUEUED, "progress": 0, "lease_until": None, "last_error": message, "queued_at": iso(at)}


def requeued(doc: Job, at: datetime) -> Job:
    """Note that a task was handed over again for a job still waiting (see common.reconcile)."""
    if doc["status"] != QUEUED:
        raise NotClaimable(f"job is {doc['status']}, not queued")
    return {**doc, "queued_at": iso(at)}


def lease_expired(doc: Job, at: datetime) -> bool:
    return doc["status"] == STARTED and (not doc["lease_until"] or datetime.fromisoformat(doc["lease_until"]) <= at)


def abandoned(doc: Job, at: datetime, queued_after_seconds: int) -> bool:
    """Nothing is working on the job any more: its attempt's lease ran out (the process running it
    died, or was stopped with Ctrl-C), or it has waited `queued_after_seconds` for a task that
    never came. Another upload of its bytes, or the reconciler, then hands it over again."""
    if doc["status"] == QUEUED:
        return datetime.fromisoformat(doc["queued_at"]) <= at - timedelta(seconds=queued_after_seconds)
    return lease_expired(doc, at)


def status_json(doc: Job) -> dict[str, Any]:
    """The seed's `GET /jobs/<id>/status` body for each status, plus a few documented extras."""
    body: dict[str, Any] = {"job_id": doc["job_id"], "status": doc["status"]}
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
    if doc.get("review"):  # only after a review: the original fields are untouched
        body["review"] = doc["review"]
    note = doc.get("notification")
    if note:
        body["notification"] = {
            "status": note["status"],
            "attempts": note["attempts"],
            "last_status_code": note["last_status_code"],
            "delivered_at": note["delivered_at"],
        }
    return body


def webhook_json(doc: Job) -> dict[str, Any]:
    """What a webhook POSTs: the status JSON, without the notification's own delivery record."""
    body = status_json(doc)
    body.pop("notification", None)
    return body
