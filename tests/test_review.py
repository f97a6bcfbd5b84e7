"""The review loop (issue 17) through the real upload and status functions: a reviewer sees the
receipt itself (GET /jobs/<id>/file), only the tenant's own, on the embedded stores and on the
Firestore and Cloud Storage emulators."""

from __future__ import annotations

import hashlib
import io

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
