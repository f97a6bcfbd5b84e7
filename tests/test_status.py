"""The status function: the original system's JSON for each of the four statuses, and errors."""

import io
import re
from datetime import datetime

import pytest

from common import job, services

ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


@pytest.fixture
def client(make_client):
    return make_client("status")


def create_job(sha="c" * 64) -> dict:
    doc, _ = services.get().jobs.create(
        job.new_job(sha256=sha, blob_name=f"{sha}.png", content_type="image/png", size=3)
    )
    return doc


def get_status(client, job_id):
    response = client.get(f"/jobs/{job_id}/status")
    assert response.headers["Cache-Control"] == "no-store"
    return response


def assert_iso(*values):
    for value in values:
        assert ISO.match(value), value
        datetime.fromisoformat(value)


def test_queued(client):
    doc = create_job()
    response = get_status(client, doc["job_id"])
    assert response.status_code == 200
    body = response.get_json()
    assert list(body)[:3] == ["job_id", "status", "created_at"]
    assert body["status"] == "queued" and body["job_id"] == doc["job_id"]
    assert "progress" not in body and "result" not in body and "error" not in body and "started_at" not in body
    assert_iso(body["created_at"])


def test_started_has_progress(client):
    doc = create_job()
    store = services.get().jobs
    store.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))
    store.update(doc["job_id"], lambda d: job.progress(d, 1, 50, job.now(), 60))
    body = get_status(client, doc["job_id"]).get_json()
    assert body["status"] == "started" and body["progress"] == 50
    assert_iso(body["created_at"], body["started_at"])
    assert "ended_at" not in body and "result" not in body


def test_finished_has_the_result(make_client, sample):
    upload = make_client("upload")
    job_id = upload.post(
        "/", data={"file": (io.BytesIO(sample["png"]), "r.png")}, content_type="multipart/form-data"
    ).get_json()["job_id"]
    body = get_status(make_client("status"), job_id).get_json()
    assert body["status"] == "finished"
    assert body["result"]["success"] is True
    data = body["result"]["data"]
    assert isinstance(data["amount"], float) and data["amount"] == sample["receipt"].amount
    assert data["transaction_id"] == sample["receipt"].transaction_id
    assert isinstance(data["validacao_recebedor"], dict)
    assert_iso(body["created_at"], body["started_at"], body["ended_at"])
    assert "error" not in body


def test_failed_has_the_error_message(make_client):
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(blank, "PNG")
    upload = make_client("upload")
    job_id = upload.post(
        "/", data={"file": (io.BytesIO(blank.getvalue()), "blank.png")}, content_type="multipart/form-data"
    ).get_json()["job_id"]
    body = get_status(make_client("status"), job_id).get_json()
    assert body["status"] == "failed"
    assert isinstance(body["error"], str) and body["error"]
    assert body["error_code"] == "no_receipt_found"
    assert_iso(body["created_at"], body["started_at"], body["ended_at"])
    assert "result" not in body


def test_unknown_job_is_404_json(client):
    response = get_status(client, job.new_job_id())
    assert (response.status_code, response.get_json()["code"]) == (404, "job_not_found")


@pytest.mark.parametrize("job_id", ["abc", "Z" * 32, "../" * 11, "a" * 33, "%2Fetc%2Fpasswd", "a" * 10_000])
def test_malformed_job_id_is_400_json(client, job_id):
    response = client.get(f"/jobs/{job_id}/status")
    assert (response.status_code, response.get_json()["code"]) == (400, "invalid_job_id")


def test_other_paths_and_methods(client):
    assert client.get("/no-such-page").get_json()["code"] == "not_found"
    assert client.get("/").mimetype == "text/html"  # the upload page (tests/test_web.py)
    assert client.get("/favicon.ico").is_json
    response = client.post(f"/jobs/{job.new_job_id()}/status")
    assert (response.status_code, response.get_json()["code"]) == (405, "method_not_allowed")
