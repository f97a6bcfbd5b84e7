"""The review loop (issue 17) through the real upload and status functions: a reviewer sees the
receipt itself (GET /jobs/<id>/file), only the tenant's own, on the embedded stores and on the
Firestore and Cloud Storage emulators."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from common import job, services

KEY_A, KEY_B = "review-key-a-0123456789", "review-key-b-0123456789"
DIGESTS = ",".join(hashlib.sha256(k.encode()).hexdigest() for k in (KEY_A, KEY_B))


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def stack(request) -> dict:
    """The embedded stores, or Firestore and Cloud Storage."""
    if request.param == "sqlite":
        return {}
    return {**request.getfixturevalue("firestore_env"), **request.getfixturevalue("gcs_env")}


@pytest.fixture
def functions(make_client, stack):
    env = {"REQUIRE_API_KEY": "true", "API_KEY_HASHES": DIGESTS, **stack}
    return make_client("upload", **env), make_client("status", **env)


def upload(client, key: str, data: bytes, name: str) -> dict:
    response = client.post(
        "/", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data", headers={"X-API-Key": key}
    )
    assert response.status_code in (200, 202), response.get_json()
    return response.get_json()


@pytest.mark.parametrize("kind, mime", [("png", "image/png"), ("pdf", "application/pdf")])
def test_the_receipt_itself_is_served_to_its_tenant_and_runs_nothing(functions, sample, kind, mime):
    up, status = functions
    body = upload(up, KEY_A, sample[kind], f"r.{kind}")
    response = status.get(f"/jobs/{body['job_id']}/file", headers={"X-API-Key": KEY_A})
    assert response.status_code == 200
    assert response.data == sample[kind]  # the very bytes uploaded
    assert response.mimetype == mime
    assert response.headers["Content-Disposition"] == "inline"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_the_file_needs_the_key_and_another_tenant_gets_404(functions, sample):
    up, status = functions
    body = upload(up, KEY_A, sample["png"], "r.png")
    path = f"/jobs/{body['job_id']}/file"
    assert (status.get(path).status_code, status.get(path).get_json()["code"]) == (401, "missing_api_key")
    wrong = status.get(path, headers={"X-API-Key": "not-a-key"})
    assert (wrong.status_code, wrong.get_json()["code"]) == (403, "invalid_api_key")
    theirs = status.get(path, headers={"X-API-Key": KEY_B})
    unknown = status.get(f"/jobs/{job.new_job_id()}/file", headers={"X-API-Key": KEY_B})
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.get_json()["code"] == unknown.get_json()["code"] == "job_not_found"
    assert status.get("/jobs/not-an-id/file", headers={"X-API-Key": KEY_A}).get_json()["code"] == "invalid_job_id"
    posted = status.post(path, headers={"X-API-Key": KEY_A})
    assert (posted.status_code, posted.get_json()["code"]) == (405, "method_not_allowed")


def test_a_file_already_gone_is_a_clear_404(functions, sample):
    up, status = functions
    body = upload(up, KEY_A, sample["png"], "r.png")
    doc = services.get().jobs.get(body["job_id"])
    services.get().blobs.delete(doc["blob_name"])
    response = status.get(f"/jobs/{body['job_id']}/file", headers={"X-API-Key": KEY_A})
    assert (response.status_code, response.get_json()["code"]) == (404, "file_not_found")


# --- the queue and the review (POST /jobs/<id>/review) ----------------------------------------------

NEW_ID = "E00000000202511281530AbCdEf12345"  # a valid end-to-end id no receipt here shows


def flagged_job(up, status, sample, key: str = KEY_A) -> tuple[dict, dict]:
    """(the first job of the sample's payment, a second one: the same payment in another bank's
    PDF, which extraction flags `duplicate_transaction`), both finished, inline."""
    from tools import receipts

    first = upload(up, key, sample["pdf"], "r.pdf")
    second = upload(up, key, receipts.render_pdf(sample["receipt"], "inter"), "other.pdf")
    shown = [status.get(f"/jobs/{b['job_id']}/status", headers={"X-API-Key": key}).get_json() for b in (first, second)]
    assert not shown[0]["result"]["data"]["needs_review"]
    assert shown[1]["result"]["data"]["review_reasons"] == ["duplicate_transaction"]
    return shown[0], shown[1]


def review(status, job_id: str, body, key: str = KEY_A):
    return status.post(f"/jobs/{job_id}/review", json=body, headers={"X-API-Key": key})


def queue(status, key: str = KEY_A) -> dict:
    response = status.get("/jobs?needs_review=true", headers={"X-API-Key": key})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_flagged_job_is_queued_a_bad_correction_refused_and_a_good_one_recorded(functions, sample):
    up, status = functions
    first, flagged = flagged_job(up, status, sample)
    listed = queue(status)
    assert [j["job_id"] for j in listed["jobs"]] == [flagged["job_id"]]
    assert listed["counts"]["needs_review"] == 1 and listed["counts"]["finished"] == 2
    assert queue(status, KEY_B)["jobs"] == [] and queue(status, KEY_B)["counts"]["needs_review"] == 0
    path = f"/jobs/{flagged['job_id']}/file"
    assert status.get(path, headers={"X-API-Key": KEY_A}).status_code == 200
    assert status.get(path, headers={"X-API-Key": KEY_B}).status_code == 404
    before = services.get().jobs.get(flagged["job_id"])
    for body, code in [
        ({"decision": "correct", "data": {"amount": -5}}, "invalid_amount"),
        ({"decision": "correct", "data": {"amount": "12,50"}}, "invalid_amount"),
        ({"decision": "correct", "data": {"amount": 1.234}}, "invalid_amount"),
        ({"decision": "correct", "data": {"transaction_id": "E123"}}, "invalid_transaction_id"),
        ({"decision": "correct", "data": {"transaction_id": NEW_ID.replace("2025", "2019")}}, "invalid_transaction_id"),
        ({"decision": "correct", "data": {"paid_at": "ontem"}}, "invalid_paid_at"),
        ({"decision": "correct", "data": {"payer": {"document": "123.456.789-00"}}}, "invalid_document"),
    ]:
        response = review(status, flagged["job_id"], body)
        assert (response.status_code, response.get_json()["code"]) == (422, code), body
    for body, code in [
        ({"decision": "correct", "data": {"pedido_id": "X"}}, "unknown_field"),
        ({"decision": "correct"}, "nothing_to_correct"),
        ({"decision": "approve", "data": {"amount": 1}}, "data_not_allowed"),
        ({"decision": "maybe"}, "invalid_decision"),
        ({"decision": "approve", "note": 5}, "invalid_note"),
        (["approve"], "invalid_review"),
    ]:
        response = review(status, flagged["job_id"], body)
        assert (response.status_code, response.get_json()["code"]) == (400, code), body
    assert services.get().jobs.get(flagged["job_id"]) == before  # nothing stored
    body = {"decision": "correct", "data": {"amount": 12.5, "transaction_id": NEW_ID}, "note": "conferido"}
    response = review(status, flagged["job_id"], body)
    assert response.status_code == 200, response.get_json()
    shown = response.get_json()
    data = shown["result"]["data"]
    assert (data["amount"], data["transaction_id"], data["needs_review"]) == (12.5, NEW_ID, False)
    assert "duplicate_of" not in data and data["review_reasons"] == []  # the new id is nobody else's
    assert data["confidence"]["amount"] == data["confidence"]["transaction_id"] == 1.0
    old = flagged["result"]["data"]
    assert shown["review"] == {
        "decision": "correct",
        "reviewed_at": shown["review"]["reviewed_at"],
        "reviewer": "api-key:" + hashlib.sha256(KEY_A.encode()).hexdigest()[:12],
        "changes": {"amount": [old["amount"], 12.5], "transaction_id": [old["transaction_id"], NEW_ID]},
        "note": "conferido",
        "history": [],
    }
    # The original fields are untouched: still finished, same times, same shape.
    assert {k: v for k, v in shown.items() if k not in ("result", "review")} == {
        k: v for k, v in flagged.items() if k != "result"
    }
    assert status.get(f"/jobs/{flagged['job_id']}/status", headers={"X-API-Key": KEY_A}).get_json() == shown
    assert queue(status)["jobs"] == [] and queue(status)["counts"]["needs_review"] == 0
    assert "review" not in status.get(f"/jobs/{first['job_id']}/status", headers={"X-API-Key": KEY_A}).get_json()


def test_a_corrected_id_is_checked_for_duplicates_again(functions, sample):
    up, status = functions
    first, flagged = flagged_job(up, status, sample)
    # The first job's id corrected away: its payment's record goes, the second becomes the first.
    moved = review(status, first["job_id"], {"decision": "correct", "data": {"transaction_id": NEW_ID}})
    assert moved.status_code == 200 and "duplicate_of" not in moved.get_json()["result"]["data"]
    shown = flagged["result"]["data"]["transaction_id"]
    assert services.get().jobs.transactions(shown) == []
    # The second corrected to the id the first now has: a duplicate, said so, and out of the queue.
    again = review(status, flagged["job_id"], {"decision": "correct", "data": {"transaction_id": NEW_ID}})
    data = again.get_json()["result"]["data"]
    assert data["duplicate_of"]["job_id"] == first["job_id"] and data["review_reasons"] == ["duplicate_transaction"]
    assert data["needs_review"] is False and queue(status)["counts"]["needs_review"] == 0


def test_approve_then_reject_keeps_the_history_and_refuses_the_receipt(functions, sample):
    up, status = functions
    _, flagged = flagged_job(up, status, sample)
    approved = review(status, flagged["job_id"], {"decision": "approve", "reviewer": "ana@loja"}).get_json()
    assert approved["review"]["decision"] == "approve" and approved["review"]["changes"] == {}
    assert approved["review"]["reviewer"] == "ana@loja"
    assert approved["result"]["data"]["needs_review"] is False
    rejected = review(status, flagged["job_id"], {"decision": "reject", "note": "comprovante adulterado"}).get_json()
    check = rejected["result"]["data"]["validacao_recebedor"]
    assert check["valid"] is False and check["reason"] == "rejected by review: comprovante adulterado"
    assert rejected["review"]["decision"] == "reject"
    assert rejected["review"]["changes"] == {"validacao_recebedor.valid": [None, False]}  # nothing was configured
    assert [r["decision"] for r in rejected["review"]["history"]] == ["approve"]
    assert "history" not in rejected["review"]["history"][0]
    assert rejected["status"] == "finished"


def test_only_a_visible_finished_job_can_be_reviewed(functions, sample):
    from tests.helpers import queue_file

    up, status = functions
    _, flagged = flagged_job(up, status, sample)
    theirs = review(status, flagged["job_id"], {"decision": "approve"}, key=KEY_B)
    unknown = review(status, job.new_job_id(), {"decision": "approve"})
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.get_json()["code"] == unknown.get_json()["code"] == "job_not_found"
    waiting = queue_file(sample["png"], "image/png", tenant=hashlib.sha256(KEY_A.encode()).hexdigest())
    busy = review(status, waiting["job_id"], {"decision": "approve"})
    assert (busy.status_code, busy.get_json()["code"]) == (409, "job_not_finished")
    path = f"/jobs/{flagged['job_id']}/review"
    assert status.post(path, json={"decision": "approve"}).status_code == 401
    text = status.post(path, data="approve", headers={"X-API-Key": KEY_A})
    assert (text.status_code, text.get_json()["code"]) == (400, "invalid_review")
    got = status.get(path, headers={"X-API-Key": KEY_A})
    assert (got.status_code, got.headers["Allow"]) == (405, "POST")
    bad = status.get("/jobs?needs_review=yes", headers={"X-API-Key": KEY_A})
    assert (bad.status_code, bad.get_json()["code"]) == (400, "invalid_needs_review")
    none = status.get("/jobs?needs_review=true&status=queued", headers={"X-API-Key": KEY_A}).get_json()
    assert none["jobs"] == [] and none["counts"]["needs_review"] == 1


def test_a_review_sends_one_signed_webhook_the_documented_receiver_verifies(make_client, sample, webhook_receiver):
    from tests.helpers import documented_receiver, wait_for_notification
    from tools import receipts

    secret = "review-webhook-secret-0123"
    env = {
        "REQUIRE_API_KEY": "true",
        "API_KEY_HASHES": DIGESTS,
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "NOTIFY_BACKOFF_SECONDS": "0",
        "WEBHOOK_SECRETS": f"{hashlib.sha256(KEY_A.encode()).hexdigest()}={secret}",
    }
    up, status = make_client("upload", **env), make_client("status", **env)
    url = webhook_receiver.url("review", [200])
    upload(up, KEY_A, sample["pdf"], "r.pdf")
    second = receipts.render_pdf(sample["receipt"], "inter")
    response = up.post(
        "/",
        data={"file": (io.BytesIO(second), "r.pdf"), "callback_url": url},
        content_type="multipart/form-data",
        headers={"X-API-Key": KEY_A},
    )
    job_id = response.get_json()["job_id"]
    first_delivery = wait_for_notification(job_id)["notification"]
    assert first_delivery["status"] == "delivered"
    reviewed = review(status, job_id, {"decision": "correct", "data": {"amount": 7.25}}).get_json()
    assert reviewed["notification"]["status"] == "pending"
    done = wait_for_notification(job_id)["notification"]
    assert done["status"] == "delivered" and done["delivery_id"] != first_delivery["delivery_id"]
    deliveries = webhook_receiver.received(url)
    assert [d["headers"]["X-Event"] for d in deliveries] == ["job.ended", "job.reviewed"]  # once per review
    last = deliveries[-1]
    body = json.loads(last["body"])
    assert body["review"]["changes"]["amount"][1] == 7.25 and body["result"]["data"]["amount"] == 7.25
    assert "notification" not in body
    receiver = documented_receiver(secret)
    forward = {
        k: last["headers"][k] for k in ("X-Timestamp", "X-Signature", "X-Delivery-Id", "X-Event", "Content-Type")
    }
    assert receiver.post("/pix-webhook", data=last["body"], headers=forward).status_code == 204
    forged = last["body"].replace(b"7.25", b"7.26")
    assert receiver.post("/pix-webhook", data=forged, headers=forward).status_code == 401


def test_a_job_erased_while_it_is_reviewed_is_404_and_leaves_no_record_of_the_new_id(functions, sample):
    from common import review
    from common.errors import ApiError

    up, status = functions
    _, flagged = flagged_job(up, status, sample)
    app = services.get()
    doc = app.jobs.get(flagged["job_id"])
    assert app.jobs.delete(doc["job_id"])  # DELETE /jobs/<id> got there first
    with pytest.raises(ApiError) as refused:
        review.review_job(app, doc, {"decision": "correct", "data": {"transaction_id": NEW_ID}})
    assert (refused.value.status, refused.value.code) == (404, "job_not_found")
    assert app.jobs.transactions(NEW_ID) == []
