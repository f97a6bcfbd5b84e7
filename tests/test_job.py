import json
import os
import typing
from datetime import UTC, datetime, timedelta

import pytest

from common import job
from tests.helpers import ROOT

GOLDEN = os.path.join(ROOT, "tests", "golden", "job_documents.json")


def fresh() -> dict:
    return job.new_job(sha256="e" * 64, blob_name="e" * 64 + ".png", content_type="image/png", size=1)


def test_claim_starts_an_attempt_with_a_lease():
    at = job.now()
    doc = job.claim(fresh(), at, 30)
    assert doc["status"] == "started" and doc["attempts"] == 1
    assert doc["lease_until"] == job.iso(at + timedelta(seconds=30))


def test_an_old_attempt_cannot_overwrite_a_newer_one():
    at = job.now()
    first = job.claim(fresh(), at, 30)
    second = job.claim(first, at + timedelta(seconds=31), 30)
    with pytest.raises(job.NotClaimable):
        job.finish(second, 1, {}, at)
    assert job.finish(second, 2, {"success": True}, at)["status"] == "finished"


def test_ended_jobs_cannot_be_claimed_or_failed_again():
    at = job.now()
    done = job.finish(job.claim(fresh(), at, 30), 1, {}, at)
    for change in (lambda d: job.claim(d, at, 30), lambda d: job.fail(d, None, "x", "y", at)):
        with pytest.raises(job.NotClaimable):
            change(done)


def test_progress_is_clamped():
    doc = job.claim(fresh(), job.now(), 30)
    assert job.progress(doc, 1, 150, job.now(), 30)["progress"] == 100
    assert job.progress(doc, 1, -5, job.now(), 30)["progress"] == 0


def test_status_json_keeps_the_seed_fields_and_types():
    at = job.now()
    doc = job.fail(job.claim(fresh(), at, 30), 1, "no_receipt_found", "Erro ao processar OCR: x", at)
    body = job.status_json(doc)
    assert body["status"] == "failed" and body["error"] == "Erro ao processar OCR: x"
    assert {"job_id", "status", "error", "created_at", "started_at", "ended_at"} <= set(body)


def test_job_ids_are_validated_strictly():
    assert job.is_valid_job_id(job.new_job_id())
    for bad in ("", "A" * 32, "a" * 31, "a" * 32 + "\n", "../" + "a" * 29):
        assert not job.is_valid_job_id(bad)


def test_progress_renews_the_lease():
    at = job.now()
    doc = job.claim(fresh(), at, 30)
    later = at + timedelta(seconds=25)
    renewed = job.progress(doc, 1, 40, later, 30)
    assert renewed["lease_until"] == job.iso(later + timedelta(seconds=30))
    assert not job.lease_expired(renewed, at + timedelta(seconds=40))


def test_the_status_enum_keeps_the_original_strings_in_the_status_json():
    import json

    doc = fresh()
    assert doc["status"] is job.Status.QUEUED and isinstance(doc["status"], str)
    assert [status.value for status in job.Status] == ["queued", "started", "finished", "failed"]
    shown = json.loads(json.dumps(job.status_json(job.claim(doc, job.now(), 30))))
    assert shown["status"] == "started" and type(shown["status"]) is str


def test_every_task_has_one_outcome_type():
    from common import notify, processing

    assert processing.Outcome is job.Outcome
    assert notify.deliver.__annotations__["return"] in ("job.Outcome", job.Outcome)
    assert job.Outcome(retry_after=3.0).retry and not job.Outcome().retry


# --- the document and the status JSON, byte for byte ------------------------------------------


def life_cycle() -> dict[str, job.Job]:
    """One job through every status, at fixed times and with fixed ids (the random ones replaced)."""
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    queued = job.new_job(
        sha256="e" * 64,
        blob_name="e" * 64 + ".png",
        content_type="image/png",
        size=1234,
        pedido_id="P-1",
        expected_amount=10.5,
        callback_url="https://erp.example/hook",
        callback_key="*",
        created=t0,
        trace="projects/p/traces/t",
    )
    queued["job_id"] = "a" * 32
    started = job.progress(job.claim(queued, t0 + timedelta(seconds=1), 30), 1, 50, t0 + timedelta(seconds=2), 30)
    result: job.Result = {"success": True, "data": {"amount": 10.5, "transaction_id": "E" + "1" * 31}}
    finished = job.finish(started, 1, result, t0 + timedelta(seconds=3))
    released = job.release(started, 1, "backend down", t0 + timedelta(seconds=3))
    failed = job.fail(released, None, "no_receipt_found", "No PIX receipt", t0 + timedelta(seconds=4))
    for ended in (finished, failed):
        assert ended["notification"] is not None
        ended["notification"]["delivery_id"] = "d" * 32
    # A person corrected the amount (common.review): the finished job gains `review` and owes a
    # new webhook, marked as the review's (issue 17: the one state added to the pinned ones).
    data = {**result["data"], "amount": 10.0}
    record = {
        "decision": "correct",
        "reviewed_at": job.iso(t0 + timedelta(seconds=5)),
        "reviewer": "api-key:0123456789ab",
        "changes": {"amount": [10.5, 10.0]},
        "note": "conferido",
    }
    reviewed = job.reviewed(finished, data, record, t0 + timedelta(seconds=5))
    assert reviewed["notification"] is not None
    reviewed["notification"]["delivery_id"] = "r" * 32
    return {"queued": queued, "started": started, "finished": finished, "failed": failed, "reviewed": reviewed}


def test_the_stored_document_and_the_status_json_are_byte_identical_to_the_pinned_ones():
    # tests/golden/job_documents.json was written by the code before the job had a type (plus
    # the document's `tenant` and `expires_at`, issue 16; the reviewed job, issue 17): the stored document, the
    # status JSON and the webhook body of each status, keys in order.
    with open(GOLDEN, encoding="utf-8") as f:
        golden = json.load(f)
    for name, doc in life_cycle().items():
        shown = {"doc": doc, "status_json": job.status_json(doc), "webhook_json": job.webhook_json(doc)}
        for part, value in shown.items():
            assert json.dumps(value) == json.dumps(golden[name][part]), f"{name} {part} changed"


def test_the_job_type_names_every_key_of_the_document_in_order():
    doc = life_cycle()["finished"]
    # `confirmation` only once the receiver's PSP could not be asked (common.confirmation),
    # `review` once a person reviewed the job (common.review): the reviewed document ends with it.
    optional = ["confirmation", "review"]
    assert list(typing.get_type_hints(job.Job)) == list(doc) + optional
    assert list(life_cycle()["reviewed"])[-1] == "review"
    assert not set(optional) & set(
        doc
    )  # NotRequired: mypy knows; the runtime's key sets do not (postponed annotations)
    # `event` only on a notification sent again after the end (a review's, a payment's).
    assert list(typing.get_type_hints(job.Notification)) == [*(doc["notification"] or {}), "event"]
    assert list(life_cycle()["reviewed"]["notification"] or {})[-1] == "event"
    assert list(typing.get_type_hints(job.Result)) == list(doc["result"] or {})


def test_a_reviewed_job_goes_back_to_the_queue_only_for_news_from_the_bank():
    reviewed = life_cycle()["reviewed"]
    at = datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
    seen = {**reviewed["result"]["data"], "review_reasons": ["id_ambiguous"], "needs_review": False}
    reviewed["result"]["data"] = seen
    # The bank confirms it: the reason the reviewer already saw does not re-queue the job.
    confirmed = job.payment_known(reviewed, {**seen, "validacao_pagamento": {"confirmed": True}}, at)
    assert confirmed["result"]["data"]["needs_review"] is False
    # The bank never received it: that is news, and a person must look again.
    news = {**seen, "review_reasons": ["id_ambiguous", "payment_not_found"], "needs_review": True}
    assert job.payment_known(reviewed, news, at)["result"]["data"]["needs_review"] is True
    # Not yet reviewed: the reasons decide, as extraction left them.
    unreviewed = life_cycle()["finished"]
    flagged = {**unreviewed["result"]["data"], "review_reasons": ["id_ambiguous"], "needs_review": True}
    assert job.payment_known(unreviewed, flagged, at)["result"]["data"]["needs_review"] is True
