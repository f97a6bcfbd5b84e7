"""Running one job: claim it, read its receipt, extract the PIX fields, record the outcome.

Safe to call more than once for the same job (a task delivered twice): only the call that
claims the job works on it; the others return without touching anything.
"""

from __future__ import annotations

import traceback

from common import extraction, job, log, receiver, text
from common.blobstore import BlobNotFound
from common.errors import ReceiptUnreadable


def run_job(services, job_id: str) -> dict | None:
    """Process the job if it can be claimed now; returns its final document, or None if skipped."""
    store = services.jobs
    try:
        doc = store.update(job_id, lambda d: job.claim(d, job.now(), services.settings.job_lease_seconds))
    except job.NotClaimable as e:
        log.event("job_skipped", job_id=job_id, reason=str(e))
        return None
    attempt = doc["attempts"]
    log.event("job_started", job_id=job_id, attempt=attempt)

    def progress(percent: int) -> None:
        store.update(job_id, lambda d: job.progress(d, attempt, percent))

    try:
        try:
            result = _extract(services, doc, progress)
        except ReceiptUnreadable as e:
            return _fail(store, doc, attempt, e.code, e.message)
        except BlobNotFound:
            return _fail(store, doc, attempt, "blob_missing", "The stored receipt file is missing.")
        except job.NotClaimable:
            raise
        except Exception as e:
            log.event("job_error", severity="ERROR", job_id=job_id, attempt=attempt, error=repr(e),
                      stack=traceback.format_exc())
            return _fail(store, doc, attempt, "processing_error", f"Erro ao processar OCR: {type(e).__name__}")
        finished = store.update(job_id, lambda d: job.finish(d, attempt, result, job.now()))
    except job.NotClaimable as e:
        # Our lease ran out and a newer attempt took the job over: its outcome wins.
        log.event("job_lease_lost", severity="WARNING", job_id=job_id, attempt=attempt, reason=str(e))
        return None
    log.event("job_finished", job_id=job_id, attempt=attempt)
    return finished


def _fail(store, doc: dict, attempt: int, code: str, message: str) -> dict:
    log.event("job_failed", severity="WARNING", job_id=doc["job_id"], attempt=attempt, error_code=code)
    return store.update(doc["job_id"], lambda d: job.fail(d, attempt, code, message, job.now()))


def _extract(services, doc: dict, progress) -> dict:
    settings = services.settings
    data = services.blobs.get(doc["blob_name"])
    progress(20)
    receipt_text = text.extract_text(data, doc["content_type"], services.ocr, settings)
    progress(80)
    fields = extraction.extract_fields(receipt_text.lines)
    if fields["amount"] is None and fields["transaction_id"] is None:
        raise ReceiptUnreadable("no_receipt_found", "No PIX receipt found in the file: neither an amount nor a transaction id.")
    data_out = {
        **fields,
        "validacao_recebedor": receiver.validate_receiver(receipt_text.lines, settings),
        "text_source": receipt_text.source,
        "needs_review": fields["amount"] is None or fields["transaction_id"] is None,
    }
    amount_check = receiver.validate_amount(fields["amount"], doc.get("expected_amount"))
    if amount_check is not None:
        data_out["validacao_valor"] = amount_check
    return {"success": True, "data": data_out}
