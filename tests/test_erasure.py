"""Erasure and retention through the real functions, on both stacks: SQLite with the local blob
folder, and Google's Firestore emulator with the Cloud Storage emulator. `DELETE /jobs/<id>`
erases the job, its transaction and hash index records and its blob (unless another job refers to
the same bytes); the reconciler's sweep drops expired jobs on SQLite and leaves Firestore's to its
TTL policy, whose field every document carries as a timestamp."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest

from common import erasure, job, jobstore, notify, reconcile, services
from tests.conftest import PROJECT
from tests.helpers import blank_png, post, queue_file


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def stack(request) -> dict:
    """The environment of the functions: the embedded stores, or Firestore and Cloud Storage."""
    if request.param == "sqlite":
        return {}
    return {**request.getfixturevalue("firestore_env"), **request.getfixturevalue("gcs_env")}


@pytest.fixture
def functions(make_client, stack):
    upload = make_client("upload", **stack)
    status = make_client("status", **stack)
    return upload, status


def blob_names() -> list[str]:
    return services.get().blobs.names()


def upload_ok(upload, content: bytes, **fields) -> dict:
    response = post(upload, "r.png", content, **fields)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def first_job_of(transaction_id: str) -> str:
    """Who the transaction index names as the first job with this payment (a job id nobody has
    asks without adding a record when one exists)."""
    return services.get().jobs.record_transaction(transaction_id, "f" * 32, None, job.iso(job.now()))["job_id"]


def test_delete_erases_the_job_its_index_records_and_its_blob(functions, sample):
    upload, status = functions
    body = upload_ok(upload, sample["png"], pedido_id="PED-9")
    job_id, transaction_id = body["job_id"], body["result"]["data"]["transaction_id"]
    blob = f"{body['sha256']}.png"
    assert blob_names() == [blob]
    assert services.get().jobs.record_transaction(transaction_id, "e" * 32, None, job.iso(job.now()))["job_id"] == (
        job_id
    )

    response = status.delete(f"/jobs/{job_id}")
    assert response.status_code == 204 and response.data == b""
    assert response.headers["Cache-Control"] == "no-store"

    gone = status.get(f"/jobs/{job_id}/status")
    assert (gone.status_code, gone.get_json()["code"]) == (404, "job_not_found")
    assert blob_names() == []
    assert services.get().jobs.list() == []
    assert first_job_of(transaction_id) == "f" * 32  # its transaction record went with it
    again = status.delete(f"/jobs/{job_id}")
    assert (again.status_code, again.get_json()["code"]) == (404, "job_not_found")

    # The hash index forgot it too: the same bytes make a new job, not a duplicate of the erased one.
    reupload = upload_ok(upload, sample["png"])
    assert reupload["duplicate"] is False and reupload["job_id"] != job_id
    assert blob_names() == [blob]


def test_the_blob_stays_while_another_job_refers_to_the_same_bytes(functions):
    upload, status = functions
    data = blank_png()
    first = upload_ok(upload, data)
    second = upload_ok(upload, data)  # the first failed, so the same bytes make a second job
    assert first["status"] == second["status"] == "failed"
    assert second["job_id"] != first["job_id"] and second["duplicate"] is False
    blob = f"{hashlib.sha256(data).hexdigest()}.png"

    assert status.delete(f"/jobs/{first['job_id']}").status_code == 204
    assert blob_names() == [blob]  # the second job still refers to it
    assert status.get(f"/jobs/{second['job_id']}/status").get_json()["status"] == "failed"
    assert status.get(f"/jobs/{first['job_id']}/status").status_code == 404

    assert status.delete(f"/jobs/{second['job_id']}").status_code == 204
    assert blob_names() == []


def test_unknown_and_malformed_ids_and_other_methods(functions):
    _, status = functions
    unknown = status.delete(f"/jobs/{job.new_job_id()}")
    assert (unknown.status_code, unknown.get_json()["code"]) == (404, "job_not_found")
    for bad in ("abc", "Z" * 32, "a" * 33):
        response = status.delete(f"/jobs/{bad}")
        assert (response.status_code, response.get_json()["code"]) == (400, "invalid_job_id")
    doc = queue_file(b"\x89PNG not decoded here", "image/png")
    response = status.get(f"/jobs/{doc['job_id']}")
    assert (response.status_code, response.headers["Allow"]) == (405, "DELETE")
    response = status.delete(f"/jobs/{doc['job_id']}/status")
    assert (response.status_code, response.get_json()["code"]) == (405, "method_not_allowed")
    assert status.delete("/jobs/a/b/c").get_json()["code"] == "not_found"
    assert status.get(f"/jobs/{doc['job_id']}/status").status_code == 200  # none of these erased it


def test_delete_needs_a_valid_api_key(make_client, stack):
    key = "erasure-test-key"
    digest = hashlib.sha256(key.encode()).hexdigest()  # the key's tenant
    status = make_client("status", **stack, REQUIRE_API_KEY="true", API_KEY_HASHES=digest)
    doc = queue_file(b"\x89PNG bytes", "image/png", tenant=digest)
    assert status.delete(f"/jobs/{doc['job_id']}").get_json()["code"] == "missing_api_key"
    assert status.delete(f"/jobs/{doc['job_id']}", headers={"X-API-Key": "wrong"}).get_json()["code"] == (
        "invalid_api_key"
    )
    assert services.get().jobs.get(doc["job_id"]) is not None and blob_names() != []
    assert status.delete(f"/jobs/{doc['job_id']}", headers={"X-API-Key": key}).status_code == 204
    assert services.get().jobs.get(doc["job_id"]) is None and blob_names() == []


def test_a_page_elsewhere_may_send_the_delete(make_client):
    status = make_client("status", CORS_ALLOWED_ORIGINS="https://erp.example")
    preflight = status.options(
        f"/jobs/{job.new_job_id()}",
        headers={"Origin": "https://erp.example", "Access-Control-Request-Method": "DELETE"},
    )
    assert preflight.status_code == 204
    assert "DELETE" in preflight.headers["Access-Control-Allow-Methods"]


# --- retention -----------------------------------------------------------------------------------


def test_uploaded_jobs_expire_after_retention_days(make_client, stack, sample):
    upload = make_client("upload", **stack, RETENTION_DAYS="30")
    body = upload_ok(upload, sample["png"])
    doc = services.get().jobs.get(body["job_id"])
    created, expires = datetime.fromisoformat(doc["created_at"]), datetime.fromisoformat(doc["expires_at"])
    assert expires - created == timedelta(days=30)
    assert "expires_at" not in body  # the status JSON is unchanged


def test_the_sweep_deletes_expired_jobs_and_their_blobs_on_sqlite(make_client, sample):
    upload, status = make_client("upload"), make_client("status")
    body = upload_ok(upload, sample["png"])
    failed = upload_ok(upload, blank_png())
    app = services.get()
    doc = app.jobs.get(body["job_id"])
    # Another job of the blank's bytes (the first failed), made a day later: it expires a day later.
    blank = app.jobs.get(failed["job_id"])
    later, created = app.jobs.create(
        job.new_job(
            **{k: blank[k] for k in ("sha256", "blob_name", "content_type", "size")},
            created=job.now() + timedelta(days=1),
            retention_days=app.settings.retention_days,
        )
    )
    assert created
    assert reconcile.reconcile_once(app)["expired"] == 0  # nothing is old yet

    at = datetime.fromisoformat(doc["expires_at"]) + timedelta(minutes=1)
    assert reconcile.reconcile_once(app, at=at)["expired"] == 2
    assert status.get(f"/jobs/{body['job_id']}/status").status_code == 404
    assert status.get(f"/jobs/{failed['job_id']}/status").status_code == 404
    assert status.get(f"/jobs/{later['job_id']}/status").status_code == 200
    assert blob_names() == [later["blob_name"]]  # the receipt's blob went; the blank's is still used
    assert first_job_of(body["result"]["data"]["transaction_id"]) == "f" * 32

    assert reconcile.reconcile_once(app, at=at + timedelta(days=2))["expired"] == 1
    assert blob_names() == [] and app.jobs.list() == []


def test_firestore_documents_carry_the_ttl_field(make_client, firestore_env, sample):
    """The TTL policy (terraform/firestore.tf) deletes a document once its `expires_at`, a
    timestamp, has passed; the emulator has no TTL, so this checks what the policy acts on."""
    from google.cloud import firestore

    upload = make_client("upload", **firestore_env)
    body = upload_ok(upload, sample["png"])
    doc = services.get().jobs.get(body["job_id"])
    client = firestore.Client(project=PROJECT)
    scoped = lambda key: jobstore.FirestoreJobStore.scoped_id(job.DEFAULT_TENANT, key)  # noqa: E731
    stored = {
        "jobs": client.collection("jobs").document(body["job_id"]).get(),
        "jobs_by_sha256": client.collection("jobs_by_sha256").document(scoped(body["sha256"])).get(),
        "jobs_transactions": client.collection("jobs_transactions")
        .document(scoped(body["result"]["data"]["transaction_id"]))
        .get(),
    }
    for collection, snapshot in stored.items():
        expires_at = snapshot.get("expires_at")
        assert isinstance(expires_at, datetime), collection
        assert job.iso(expires_at) == doc["expires_at"], collection
    # The sweep leaves Firestore to its TTL policy: it deletes nothing there, and does no harm.
    later = datetime.fromisoformat(doc["expires_at"]) + timedelta(days=1)
    assert reconcile.reconcile_once(services.get(), at=later)["expired"] == 0
    assert services.get().jobs.get(body["job_id"]) == doc


# --- a job erased while it is being worked on --------------------------------------------------


def test_an_attempt_whose_job_is_erased_stops_quietly(sample):
    import threading
    import time

    app = services.get()
    doc = queue_file(sample["png"], "image/png")
    outcomes = []
    worker = threading.Thread(target=lambda: outcomes.append(app.run_job(doc["job_id"])))
    worker.start()
    deadline = time.monotonic() + 30
    while app.jobs.get(doc["job_id"])["status"] != job.STARTED:  # claimed: OCR is under way
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert erasure.erase_job(app, doc["job_id"])
    worker.join(60)
    assert outcomes and outcomes[0].doc is None and not outcomes[0].retry
    assert app.jobs.get(doc["job_id"]) is None and blob_names() == []


def test_a_task_for_an_erased_job_does_nothing(sample):
    app = services.get()
    doc = queue_file(sample["png"], "image/png")
    assert erasure.erase_job(app, doc["job_id"])  # erased while its task waited in the queue
    outcome = app.run_job(doc["job_id"])
    assert outcome.doc is None and not outcome.retry
    assert app.jobs.get(doc["job_id"]) is None


def test_an_erased_jobs_webhook_is_dropped():
    outcome = notify.deliver(services.get(), job.new_job_id())
    assert not outcome.retry


def test_erase_job_reports_a_missing_job():
    assert erasure.erase_job(services.get(), job.new_job_id()) is False


def test_the_backfill_command_gives_older_jobs_an_expiry(make_client, stack, capsys):
    make_client("status", **stack, RETENTION_DAYS="45")
    legacy = queue_file(b"\x89PNG stored before retention", "image/png")  # no expires_at
    assert legacy["expires_at"] is None
    assert erasure.main(["--backfill"]) == 0
    assert "documents given an expiry (45 days after creation)" in capsys.readouterr().out
    expires_at = services.get().jobs.get(legacy["job_id"])["expires_at"]
    assert datetime.fromisoformat(expires_at) - datetime.fromisoformat(legacy["created_at"]) == timedelta(days=45)
    assert erasure.main([]) == 2  # nothing asked: the usage
