"""Accepting an upload: check the form and the file, then blob, then job, then task (in that
order, so a job never points at a missing blob and no queued job is left without a task)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from common import job, log, notify, tenants, timeline, validation
from common.errors import ApiError, QueueUnavailable
from common.spool import HashingSpool

_PEDIDO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_AMOUNT_FORMS = (
    (re.compile(r"\d{1,12}(?:\.\d{1,2})?"), lambda s: s),  # 1234.56
    (re.compile(r"\d{1,12}(?:,\d{1,2})?"), lambda s: s.replace(",", ".")),  # 1234,56
    (re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?"), lambda s: s.replace(".", "").replace(",", ".")),  # 1.234,56
)
MAX_EXPECTED_AMOUNT = 1_000_000_000


@dataclass(frozen=True)
class Accepted:
    """What the upload accepted: the job, and how it is being processed."""

    job: job.Job
    duplicate: bool
    # "queued", "inline", "inline_fallback" (the queue was down), "duplicate", or "taken_over" (a
    # duplicate of a job nothing was working on any more, handed over again)
    processing: str


def parse_pedido_id(value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    if not _PEDIDO_ID.fullmatch(value.strip()):
        raise ApiError(
            400,
            "invalid_pedido_id",
            "pedido_id must be 1-64 letters, digits or . _ : - (starting with a letter or digit).",
        )
    return value.strip()


def parse_expected_amount(value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    text = value.strip().removeprefix("R$").strip()
    for pattern, to_decimal in _AMOUNT_FORMS:
        if pattern.fullmatch(text):
            amount = float(to_decimal(text))
            if 0 < amount <= MAX_EXPECTED_AMOUNT:
                return amount
            break
    raise ApiError(
        400, "invalid_expected_amount", "expected_amount must be a positive amount such as 1234.56 or 1.234,56."
    )


def parse_callback(form, settings, tenant: str) -> tuple[str | None, str | None]:
    """The optional `callback_url` and which WEBHOOK_SECRETS entry will sign its deliveries."""
    url = notify.parse_callback_url(form.get("callback_url"), settings)
    if url is None:
        return None, None
    entry = tenants.webhook_secret(settings, tenant)
    if entry is None:
        raise ApiError(
            400,
            "webhooks_not_configured",
            "callback_url needs a webhook secret for your API key's tenant (WEBHOOK_SECRETS); none is configured.",
        )
    return url, entry[0]


def accept_upload(services, files, form, tenant: str = tenants.DEFAULT) -> Accepted:
    """`files` and `form` are the request's parsed multipart parts (werkzeug MultiDicts);
    `tenant` is the caller's (common.tenants): the job is its, and so is the duplicate check."""
    parts = files.getlist("file")
    if not parts:
        raise ApiError(400, "missing_file", "The multipart field 'file' is required.")
    if len(parts) > 1:
        raise ApiError(400, "multiple_files", "Send exactly one 'file' per upload.")
    pedido_id = parse_pedido_id(form.get("pedido_id"))
    expected_amount = parse_expected_amount(form.get("expected_amount"))
    callback_url, callback_key = parse_callback(form, services.settings, tenant)

    part = parts[0]
    spool = part.stream
    if not isinstance(spool, HashingSpool):
        raise TypeError("uploads must be parsed by common.http.UploadRequest")
    with timeline.stage("validate"):
        checked = validation.validate_upload(part.filename, spool, spool.size, spool.sha256, services.settings)

    with timeline.stage("blob_put"):
        services.blobs.put(checked.blob_name, spool, checked.mime)
    with timeline.stage("job_create"):
        doc, created = services.jobs.create(
            job.new_job(
                sha256=checked.sha256,
                blob_name=checked.blob_name,
                content_type=checked.mime,
                size=checked.size,
                pedido_id=pedido_id,
                expected_amount=expected_amount,
                callback_url=callback_url,
                callback_key=callback_key,
                trace=log.bound("trace"),
                tenant=tenant,
                retention_days=services.settings.retention_days,
            )
        )
    if not created:
        if job.abandoned(doc, job.now(), services.settings.reconcile_queued_after_seconds):
            return _take_over(services, doc)
        log.event("upload_duplicate", job_id=doc["job_id"])
        return Accepted(doc, duplicate=True, processing="duplicate")
    return _hand_over(services, doc, checked)


def _take_over(services, doc: job.Job) -> Accepted:
    """The same bytes again, for a job whose attempt died (its lease ran out) or whose task never
    came: hand it over again, as the reconciler would. Only one delivery can claim it, so two such
    uploads at once are harmless; with the inline queue it runs here, before the answer."""
    job_id = doc["job_id"]
    log.event("upload_takes_over", job_id=job_id, status=doc["status"], attempts=doc["attempts"])
    if doc["status"] == job.QUEUED:
        try:
            services.jobs.update(job_id, lambda d: job.requeued(d, job.now()))
        except job.NotClaimable:
            pass  # it started meanwhile: the task below finds it busy and does nothing
    try:
        services.queue.enqueue(job_id)
    except QueueUnavailable as e:
        if not services.settings.sync_fallback:
            message = "The processing queue is unavailable; try again shortly."
            raise ApiError(503, "queue_unavailable", message, {"Retry-After": "30"}) from None
        log.event("queue_unavailable_fallback", severity="WARNING", job_id=job_id, error=str(e))
        services.run_job(job_id, last_attempt=True)
    return Accepted(services.jobs.get(job_id) or doc, duplicate=True, processing="taken_over")


def _hand_over(services, doc: job.Job, checked) -> Accepted:
    """Enqueue the new job; if the queue is down, run it here or refuse, never strand it."""
    job_id = doc["job_id"]
    queued = lambda: log.event("job_queued", job_id=job_id, size=checked.size, content_type=checked.mime)  # noqa: E731
    if services.queue.runs_inline:
        queued()  # before it runs: the log reads in the order things happened
    try:
        with timeline.stage("enqueue" if not services.queue.runs_inline else "inline_job"):
            services.queue.enqueue(job_id)
    except QueueUnavailable as e:
        if not services.settings.sync_fallback:
            log.event("queue_unavailable", severity="ERROR", job_id=job_id, error=str(e))
            failed = services.jobs.update(
                job_id,
                lambda d: job.fail(d, None, "queue_unavailable", "The task queue was unavailable.", job.now()),
            )
            notify.job_ended(services, failed)
            raise ApiError(
                503,
                "queue_unavailable",
                "The processing queue is unavailable; try again shortly.",
                {"Retry-After": "30"},
            ) from None
        log.event("queue_unavailable_fallback", severity="WARNING", job_id=job_id, error=str(e))
        services.run_job(job_id, last_attempt=True)
        return Accepted(services.jobs.get(job_id), duplicate=False, processing="inline_fallback")
    if services.queue.runs_inline:
        return Accepted(services.jobs.get(job_id), duplicate=False, processing="inline")
    queued()
    return Accepted(doc, duplicate=False, processing="queued")
