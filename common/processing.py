"""Running one job: claim it, read its receipt, extract the PIX fields, record the outcome.

Safe under at-least-once delivery: only the delivery that claims the job works on it. The
`Outcome` tells the caller (a task handler, an RQ job, the inline queue) whether the delivery is
done with (the job ended, or another attempt owns it) or should be retried later.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import time
import traceback
from datetime import datetime
from typing import Any

from common import (
    confirmation,
    evidence,
    extraction,
    job,
    jobstore,
    log,
    notify,
    receiver,
    tenants,
    text,
    timeline,
    wordgaps,
)
from common.blobstore import BlobNotFound
from common.errors import BackendUnavailable, ReceiptUnreadable

RETRY_AFTER_SECONDS = 10  # after a transient failure; Cloud Tasks and RQ add their own backoff
BLOB_READ, READ_DONE = 20, 80  # progress once the file is read, and once its text is


Outcome = job.Outcome  # one Outcome for every kind of task


class _Failure(Exception):
    """A job's end: `message` is what its client reads; `detail` (hosts, exception text) the log only."""

    def __init__(self, code: str, message: str, detail: str = ""):
        super().__init__(message)
        self.code, self.message, self.detail = code, message, detail


def run_job(services, job_id: str, last_attempt: bool = False, current: job.Job | None = None) -> Outcome:
    """Process the job if it can be claimed now. `last_attempt`: the queue will not deliver
    again, so a transient failure must end the job instead of asking for a retry. `current`: the
    job's document as the caller just read it, which saves reading it again. Its stages are
    logged as one `job_timeline` event (common.timeline)."""
    with timeline.recording("job_timeline", job_id=job_id) as recorded:
        return _run(services, job_id, last_attempt, recorded, current)


def _run(services, job_id: str, last_attempt: bool, recorded: timeline.Timeline, current: job.Job | None) -> Outcome:
    settings = services.settings
    store: jobstore.JobStore = services.jobs  # typed here: common.services imports this module
    claim = lambda d: job.claim(d, job.now(), settings.job_lease_seconds)  # noqa: E731
    try:
        # A plain read first: duplicate deliveries of a running or ended job then cost no
        # transaction, and so do not contend with the attempt that owns the job.
        if current is None:
            with timeline.stage("read"):
                current = store.get(job_id)
        if current is not None:
            claim(current)
        with timeline.stage("claim_write"):
            doc = store.update(job_id, claim)
    except job.JobEnded:
        recorded.tags["outcome"] = "ended_before"
        ended = current is not None and current["status"] in (job.FINISHED, job.FAILED)
        return Outcome(current if ended else store.get(job_id))  # the document in hand, if it ended
    except job.JobBusy as e:
        log.event("job_busy", job_id=job_id, retry_after=round(e.retry_after, 1))
        recorded.tags["outcome"] = "busy"
        return Outcome(store.get(job_id), max(1.0, e.retry_after), str(e), "job_in_progress")
    except jobstore.Contended as e:
        log.event("job_busy", job_id=job_id, retry_after=1, reason=str(e))
        recorded.tags["outcome"] = "busy"
        return Outcome(store.get(job_id), 1.0, "another delivery is claiming the job", "job_in_progress")
    except jobstore.JobNotFound:
        recorded.tags["outcome"] = "erased"
        return Outcome()  # erased (or expired) before this delivery: nothing to run
    # From the upload (or the requeue that handed it over) to this claim: the queue's wait.
    recorded.tags |= {"trace": doc.get("trace"), "attempt": doc["attempts"], "queue_wait_ms": _queue_wait_ms(doc)}
    # The upload's trace links this job's log lines to the request that created it.
    with log.context(trace=doc.get("trace")):
        try:
            return _run_claimed(services, doc, last_attempt)
        except jobstore.JobNotFound:
            # Erased (DELETE /jobs/<id>) while this attempt ran: nothing is left to record.
            log.event("job_erased_while_running", job_id=job_id)
            return Outcome()


def _queue_wait_ms(doc: job.Job) -> float | None:
    since = doc.get("queued_at") or doc.get("created_at")
    try:
        return round((job.now() - datetime.fromisoformat(since)).total_seconds() * 1000, 1) if since else None
    except (TypeError, ValueError):
        return None


def _run_claimed(services, doc: job.Job, last_attempt: bool) -> Outcome:
    settings, job_id = services.settings, doc["job_id"]
    store: jobstore.JobStore = services.jobs
    attempt = doc["attempts"]
    last_attempt = last_attempt or attempt >= settings.task_max_attempts
    log.event("job_started", job_id=job_id, attempt=attempt)
    started = job.now()

    try:
        try:
            result = _extract_within_timeout(services, doc, attempt)
        except BackendUnavailable as e:
            if not last_attempt:
                log.event("job_retry", severity="WARNING", job_id=job_id, attempt=attempt, error=str(e))
                released = store.update(job_id, lambda d: job.release(d, attempt, str(e), job.now()))  # noqa: F821 (called in the except)
                return Outcome(released, RETRY_AFTER_SECONDS, str(e), "backend_unavailable")
            message = f"Gave up after {attempt} attempts: a storage backend was unavailable."
            raise _Failure("backend_unavailable", message, detail=str(e)) from None
        with timeline.stage("finish_write"):
            doc = store.update(job_id, lambda d: _finished(d, attempt, result, settings))
        log.event("job_finished", job_id=job_id, attempt=attempt, duration_ms=_ms_since(started))
        with timeline.stage("notify"):
            notify.job_ended(services, doc)
        with timeline.stage("after_finish"):
            confirmation.after_finish(services, doc)
        return Outcome(doc)
    except _Failure as e:
        log.event(
            "job_failed",
            severity="WARNING",
            job_id=job_id,
            attempt=attempt,
            error_code=e.code,
            duration_ms=_ms_since(started),
            **({"error": e.detail[:500]} if e.detail else {}),
        )
        try:
            with timeline.stage("fail_write"):
                doc = store.update(job_id, lambda d: job.fail(d, attempt, e.code, e.message, job.now()))  # noqa: F821 (called in the except)
        except job.NotClaimable:
            return _lease_lost(store, job_id, attempt)
        with timeline.stage("notify"):
            notify.job_ended(services, doc)
        return Outcome(doc)
    except job.NotClaimable:
        return _lease_lost(store, job_id, attempt)


def _finished(doc: job.Job, attempt: int, result: job.Result, settings) -> job.Job:
    at = job.now()
    done = job.finish(doc, attempt, result, at)
    payment = result["data"].get("validacao_pagamento")
    if payment and payment["confirmed"] is None:  # the PSP could not be asked: the reconciler will
        done = job.payment_unknown(done, payment, at, settings.pix_recheck_seconds, settings.pix_recheck_max_attempts)
    return done


def _lease_lost(store: jobstore.JobStore, job_id: str, attempt: int) -> Outcome:
    # Our lease ran out and a newer attempt took the job over: its outcome wins.
    log.event("job_lease_lost", severity="WARNING", job_id=job_id, attempt=attempt)
    return Outcome(store.get(job_id))


def _ms_since(moment) -> int:
    return int((job.now() - moment).total_seconds() * 1000)


def _extract_within_timeout(services, doc: job.Job, attempt: int) -> job.Result:
    """Run the extraction in a worker thread so a stuck or huge job can be given up on time.

    A thread cannot be killed; one that overruns keeps going until its next progress report,
    which fails because the job is no longer this attempt's.
    """
    timeout = services.settings.job_timeout_seconds
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"job-{doc['job_id'][:8]}")
    # In a copy of this context: the job's log fields and timeline go along into the thread.
    future = pool.submit(contextvars.copy_context().run, _extract, services, doc, attempt)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise _Failure("timeout", f"Processing took longer than the {timeout} s limit and was stopped.") from None
    except ReceiptUnreadable as e:
        raise _Failure(e.code, e.message) from None
    except BlobNotFound:
        raise _Failure("blob_missing", "The stored receipt file is missing.") from None
    except (BackendUnavailable, job.NotClaimable, jobstore.JobNotFound):
        raise
    except Exception as e:
        log.event(
            "job_error",
            severity="ERROR",
            job_id=doc["job_id"],
            attempt=attempt,
            error=repr(e),
            stack=traceback.format_exc(),
        )
        raise _Failure("processing_error", f"Erro ao processar OCR: {type(e).__name__}") from None
    finally:
        pool.shutdown(wait=False)


class _Progress:
    """A job's progress reports, coalesced: one is written (it also renews the lease) only when
    it says more than the last one written and PROGRESS_INTERVAL_MS have passed since that one
    (or since the claim), so a receipt read in a second costs no write between its claim and its
    end, and a long PDF one write a page at most; a report left unwritten is overtaken by the
    next. READ_DONE is never written: the fields follow in milliseconds, and the job's end with
    them. The interval stays under half the lease, which the writes renew."""

    def __init__(self, store: jobstore.JobStore, job_id: str, attempt: int, settings):
        self._store, self._job_id, self._attempt, self._settings = store, job_id, attempt, settings
        self._interval = min(settings.progress_interval_ms / 1000, settings.job_lease_seconds / 2)
        self._written_at, self._written = time.monotonic(), 0  # the claim wrote progress 0

    def __call__(self, percent: int) -> None:
        if percent <= self._written or percent >= READ_DONE or time.monotonic() - self._written_at < self._interval:
            return
        lease = self._settings.job_lease_seconds
        with timeline.stage("progress_write"):
            self._store.update(self._job_id, lambda d: job.progress(d, self._attempt, percent, job.now(), lease))
        self._written_at, self._written = time.monotonic(), percent


def read_receipt(data: bytes, mime: str, ocr, settings, progress=lambda percent: None, expected=None) -> dict[str, Any]:
    """A receipt file's `result.data`: its text, the PIX fields and the receiver check against
    `expected` (a tenant's common.tenants.ExpectedReceiver; default: EXPECTED_RECEIVER_*)."""
    span = READ_DONE - BLOB_READ
    receipt_text = text.extract_text(
        data, mime, ocr, settings, progress=lambda done: progress(BLOB_READ + int(span * done))
    )
    progress(READ_DONE)
    # OCR'd text gets per-character evidence for the id; a PDF's text layer is exact.
    ocr_read = receipt_text.source == "ocr"
    pages = list(receipt_text.pages)
    with timeline.stage("extraction"):
        fields = extraction.extract_fields(
            receipt_text.lines,
            id_check=(lambda e2e_id, shown: evidence.check_id(e2e_id, pages, shown)) if ocr_read else None,
            amount_check=(lambda amount: evidence.amount_settled(amount, pages)) if ocr_read else None,
            respace=(lambda name: wordgaps.respace(name, pages)) if ocr_read else None,
        )
        other_document = extraction.non_pix_document(receipt_text.lines) if fields["transaction_id"] is None else None
    if other_document:  # boletos, bills and card slips show amounts too
        raise ReceiptUnreadable(
            "no_receipt_found", f"No PIX receipt found in the file: it looks like {other_document}."
        )
    if fields["amount"] is None and fields["transaction_id"] is None:
        raise ReceiptUnreadable(
            "no_receipt_found", "No PIX receipt found in the file: neither an amount nor a transaction id."
        )
    return {
        **fields,
        "validacao_recebedor": receiver.validate_receiver(fields["receiver"], fields["payer"], expected or settings),
        "text_source": receipt_text.source,
    }


def _extract(services, doc: job.Job, attempt: int) -> job.Result:
    settings, job_id = services.settings, doc["job_id"]
    store: jobstore.JobStore = services.jobs

    progress = _Progress(store, job_id, attempt, settings)

    with timeline.stage("blob_read"):
        data = services.blobs.get(doc["blob_name"])
    progress(BLOB_READ)
    tenant = job.tenant_of(doc)
    data_out = read_receipt(
        data, doc["content_type"], services.ocr, settings, progress, tenants.expected_receiver(settings, tenant)
    )
    # Before the duplicate check: the receiver's PSP may settle an id the receipt left ambiguous.
    with timeline.stage("confirmation"):
        payment = confirmation.check(services, doc, data_out)
    if payment is not None:
        data_out["validacao_pagamento"] = payment
    if data_out["transaction_id"]:
        # Atomic per end-to-end id and tenant: of two jobs of a tenant with one payment, exactly
        # one is the first; another tenant's job never is (its receipts are not this one's business).
        with timeline.stage("transaction_write"):
            first = store.record_transaction(
                data_out["transaction_id"],
                job_id,
                doc.get("pedido_id"),
                doc["created_at"],
                tenant=tenant,
                expires_at=doc.get("expires_at"),
            )
        if first["job_id"] != job_id:
            data_out["duplicate_of"] = {
                "job_id": first["job_id"],
                "pedido_id": first["pedido_id"],
                "first_seen_at": first["first_seen_at"],
            }
            extraction.flag(data_out, "duplicate_transaction")
    amount_check = receiver.validate_amount(data_out["amount"], doc.get("expected_amount"))
    if amount_check is not None:
        data_out["validacao_valor"] = amount_check
    return {"success": True, "data": data_out}
