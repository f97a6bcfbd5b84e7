"""The human in the loop: a reviewer approves, corrects or rejects a finished job's reading.

`POST /jobs/<job_id>/review` with `{"decision": "approve" | "correct" | "reject", "data": {...},
"note": "...", "reviewer": "..."}`. `parse` checks the request (400 for its shape, 422 for a
corrected value extraction itself would never give: an amount that is not a positive number of
cents, an end-to-end id that breaks the id's rules, a date that is not a date, a document with
wrong check digits); `review_job` applies it as one change of the job (common.job.reviewed).

After a review the job stays `finished`: `result.data` holds the corrected values (each corrected
key field's confidence 1.0: a person vouched for it), `needs_review` is false and `review` records
the decision, when, by whom, the changes `{field: [before, after]}` and the note; the earlier
reviews are kept in `review.history`. A correction re-runs the receiver check (`validacao_recebedor`)
and the amount check (`validacao_valor`), and a corrected id the duplicate-transaction check (the
old id's record, if this job was its first, is forgotten). `reject` marks the receipt refused:
`validacao_recebedor.valid` false with the reviewer's reason. A job with a `callback_url` is owed
one new webhook per review (`X-Event: job.reviewed`).
"""

from __future__ import annotations

import copy
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from common import documents, extraction, job, jobstore, notify, pix, receiver, tenants
from common.errors import ApiError

APPROVE, CORRECT, REJECT = "approve", "correct", "reject"
DECISIONS = (APPROVE, CORRECT, REJECT)
PARTY_FIELDS = ("name", "document", "bank", "pix_key")
# The fields a correction may set: `payer.*` and `receiver.*` are each party's fields.
FIELDS = ("amount", "transaction_id", "paid_at", *(f"{p}.{f}" for p in ("payer", "receiver") for f in PARTY_FIELDS))
MAX_AMOUNT = 1_000_000_000.0  # a billion reais: beyond any receipt, short of float trouble
MAX_TEXT = 200  # a name, a bank, a key
MAX_NOTE = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refuse(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, code, message)


def _text(value: Any, field: str, limit: int, code: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or _CONTROL.search(value):
        raise _refuse(422, code, f"{field} must be a non-empty string of at most {limit} characters on one line.")
    return value.strip()


def _amount(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refuse(422, "invalid_amount", "amount must be a number of reais, e.g. 19.5.")
    if not 0 < value <= MAX_AMOUNT:
        raise _refuse(422, "invalid_amount", f"amount must be positive and at most {MAX_AMOUNT:.0f}.")
    if abs(value * 100 - round(value * 100)) > 1e-6:
        raise _refuse(422, "invalid_amount", "amount has at most two decimal places (cents).")
    return round(float(value), 2)


def _transaction_id(value: Any) -> str:
    # Exactly as typed: a person's correction is not an OCR reading, so no look-alike is fixed.
    if not isinstance(value, str) or pix.normalize(value) != value:
        raise _refuse(
            422,
            "invalid_transaction_id",
            "transaction_id must be an end-to-end id: E (or D) + 8-digit ISPB + yyyyMMddHHmm (UTC,"
            " since PIX began) + 11 letters or digits, 32 characters.",
        )
    return value


def _paid_at(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _refuse(422, "invalid_paid_at", "paid_at must be an ISO 8601 date and time with its offset.")
    if not pix.PIX_START <= moment <= datetime.now(UTC) + timedelta(days=2):
        raise _refuse(422, "invalid_paid_at", "paid_at must be a moment since PIX began, not in the future.")
    return moment.astimezone(extraction.BRASILIA).isoformat()


def _document(value: Any, field: str) -> str:
    text = _text(value, field, 40, "invalid_document")
    kind = documents.kind(text)
    full_ok = {"cpf": documents.cpf_valid, "cnpj": documents.cnpj_valid}
    if kind is None or (not documents.is_masked(text) and not full_ok[kind](text)):
        raise _refuse(422, "invalid_document", f"{field} must be a CPF or CNPJ (masked as on the receipt, or valid).")
    return documents.format_document(text)


def _party_value(field: str, value: Any) -> str | None:
    if value is None:
        return None  # the receipt does not show it
    name = field.split(".", 1)[1]
    if name == "document":
        return _document(value, field)
    return _text(value, field, MAX_TEXT, f"invalid_{name}")


def _corrections(data: Any) -> dict[str, Any]:
    """`data` as {field: value} over FIELDS; parties nested (`{"payer": {"name": …}}`) or dotted."""
    if not isinstance(data, dict):
        raise _refuse(400, "invalid_review", "data must be an object of the fields to correct.")
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("payer", "receiver") and isinstance(value, dict):
            for name, inner in value.items():
                flat[f"{key}.{name}"] = inner
        else:
            flat[key] = value
    unknown = [key for key in flat if key not in FIELDS]
    if unknown:
        raise _refuse(400, "unknown_field", f"data may only correct {', '.join(FIELDS)}; not {unknown[0][:60]!r}.")
    checked: dict[str, Any] = {}
    for field, value in flat.items():
        if field == "amount":
            checked[field] = _amount(value)
        elif field == "transaction_id":
            checked[field] = _transaction_id(value)
        elif field == "paid_at":
            checked[field] = _paid_at(value)
        else:
            checked[field] = _party_value(field, value)
    return checked


def parse(body: Any) -> dict[str, Any]:
    """The request, checked: {decision, data (the corrections, flat), note, reviewer}."""
    if not isinstance(body, dict):
        raise _refuse(400, "invalid_review", 'Send a JSON object: {"decision": "approve" | "correct" | "reject", …}.')
    unknown = [key for key in body if key not in ("decision", "data", "note", "reviewer")]
    if unknown:
        raise _refuse(400, "invalid_review", f"Unknown member {unknown[0][:60]!r}: use decision, data, note, reviewer.")
    decision = body.get("decision")
    if decision not in DECISIONS:
        raise _refuse(400, "invalid_decision", f"decision must be one of {', '.join(DECISIONS)}.")
    data = _corrections(body.get("data") or {}) if body.get("data") is not None else {}
    if decision == CORRECT and not data:
        raise _refuse(400, "nothing_to_correct", "A correction needs data with at least one field.")
    if decision != CORRECT and data:
        raise _refuse(400, "data_not_allowed", f"Only decision correct takes data; {decision} takes none.")
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise _refuse(400, "invalid_note", f"note must be a string of at most {MAX_NOTE} characters.")
    reviewer = body.get("reviewer")
    if reviewer is not None:
        if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > 100 or _CONTROL.search(reviewer):
            raise _refuse(400, "invalid_reviewer", "reviewer must be a non-empty string of at most 100 characters.")
        reviewer = reviewer.strip()
    return {"decision": decision, "data": data, "note": (note or "").strip() or None, "reviewer": reviewer}


def _get(data: dict, field: str) -> Any:
    if "." in field:
        party, name = field.split(".", 1)
        return (data.get(party) or {}).get(name)
    return data.get(field)


def _set(data: dict, field: str, value: Any) -> None:
    if "." in field:
        party, name = field.split(".", 1)
        data[party] = {**dict.fromkeys(PARTY_FIELDS), **(data.get(party) or {}), name: value}
    else:
        data[field] = value


def _corrected(doc: job.Job, request: dict, settings) -> tuple[dict, dict]:
    """The new `result.data` and the changes {field: [before, after]}, without the duplicate
    check (it needs the store: `review_job`)."""
    data = copy.deepcopy((doc["result"] or {"data": {}})["data"])
    changes: dict[str, list] = {}
    for field, value in request["data"].items():
        before = _get(data, field)
        if before != value:
            changes[field] = [before, value]
            _set(data, field, value)
    confidence = data.get("confidence")
    if isinstance(confidence, dict):
        for field in changes:
            key = field.split(".", 1)[0]
            if key in confidence:
                confidence[key] = 1.0
    if "transaction_id" in changes:
        new_id = data["transaction_id"]
        data["bank"] = pix.institution(new_id)
        data["refund"] = pix.is_refund(new_id)
        data.pop("transaction_id_candidates", None)
    if changes:  # the checks that follow from the fields
        expected = tenants.expected_receiver(settings, job.tenant_of(doc))
        data["validacao_recebedor"] = receiver.validate_receiver(
            data.get("receiver") or {}, data.get("payer") or {}, expected
        )
        amount_check = receiver.validate_amount(data.get("amount"), doc.get("expected_amount"))
        if amount_check is not None:
            data["validacao_valor"] = amount_check
    if request["decision"] == REJECT:
        before = (data.get("validacao_recebedor") or {}).get("valid")
        reason = f"rejected by review: {request['note']}" if request["note"] else "rejected by review"
        data["validacao_recebedor"] = {**(data.get("validacao_recebedor") or {"matched": []}), "valid": False}
        data["validacao_recebedor"]["reason"] = reason
        if before is not False:
            changes["validacao_recebedor.valid"] = [before, False]
    data["needs_review"] = False
    return data, changes


def _reviewer(request: dict, caller: str | None) -> str:
    return request["reviewer"] or caller or "anonymous"


def review_job(services, doc: job.Job, body: Any, caller: str | None = None) -> job.Job:
    """Apply the review request `body` to the visible job `doc`; the reviewed job. `caller`
    names the API key that sent it (the reviewer when the body names none). ApiError: 400/422
    for the request (nothing is changed), 409 for a job that has not finished."""
    request = parse(body)
    if doc["status"] != job.FINISHED:
        raise ApiError(409, "job_not_finished", f"Only a finished job can be reviewed; this one is {doc['status']}.")
    store: jobstore.JobStore = services.jobs
    settings = services.settings
    job_id, tenant = doc["job_id"], job.tenant_of(doc)
    result = doc["result"]
    old_id = result["data"].get("transaction_id") if result else None
    new_id = request["data"].get("transaction_id")
    duplicate: dict | None = None
    if new_id and new_id != old_id:
        # Atomic per end-to-end id and tenant, as at extraction: of two jobs with one payment,
        # exactly one is the first.
        first = store.record_transaction(
            new_id, job_id, doc.get("pedido_id"), doc["created_at"], tenant=tenant, expires_at=doc.get("expires_at")
        )
        if first["job_id"] != job_id:
            duplicate = {k: first[k] for k in ("job_id", "pedido_id", "first_seen_at")}  # type: ignore[literal-required]

    def change(current: job.Job) -> job.Job:
        if current["status"] != job.FINISHED:
            raise job.NotClaimable(current["status"])
        data, changes = _corrected(current, request, settings)
        if new_id and new_id != old_id:
            data.pop("duplicate_of", None)
            if "duplicate_transaction" in data.get("review_reasons", []):
                data["review_reasons"] = [r for r in data["review_reasons"] if r != "duplicate_transaction"]
            if duplicate:
                data["duplicate_of"] = duplicate
                extraction.flag(data, "duplicate_transaction")
                data["needs_review"] = False  # a person saw it: the reason stays, the queue lets go
        at = job.now()
        review = {
            "decision": request["decision"],
            "reviewed_at": job.iso(at),
            "reviewer": _reviewer(request, caller),
            "changes": changes,
            "note": request["note"],
        }
        return job.reviewed(current, data, review, at)

    try:
        reviewed = store.update(job_id, change)
    except (job.NotClaimable, jobstore.JobNotFound) as e:
        if new_id and not duplicate:  # the record made above names a job that did not take the id
            store.forget_transaction(new_id, job_id, tenant=tenant)
        if isinstance(e, jobstore.JobNotFound):  # erased meanwhile
            raise ApiError(404, "job_not_found", f"No job {job_id}.") from None
        raise ApiError(409, "job_not_finished", "Only a finished job can be reviewed.") from None
    if new_id and new_id != old_id and old_id:
        store.forget_transaction(old_id, job_id, tenant=tenant)  # it never showed that payment
    notify.job_ended(services, reviewed)
    return reviewed


def caller_name(digest: str | None) -> str | None:
    """Who sent a review when its body names no reviewer: the API key, by its digest's first 12
    hexadecimal digits (never the key itself)."""
    return f"api-key:{digest[:12]}" if digest else None
