"""The functions' real responses checked against openapi.yaml: each body must match the schema
documented for its path, method and status code, and an undocumented status code fails."""

from __future__ import annotations

import io
import os
import time

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from common import job, services
from tests.helpers import ROOT

with open(os.path.join(ROOT, "openapi.yaml")) as f:
    SPEC = yaml.safe_load(f)


def response_schema(path: str, method: str, status: int) -> dict:
    responses = SPEC["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answered {status}, which openapi.yaml does not document"
    response = responses[str(status)]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response["content"]["application/json"]["schema"]


def check(response, path: str, method: str = "get") -> dict:
    """Assert `response` (a Flask test response) matches openapi.yaml; return its JSON body."""
    schema = response_schema(path, method, response.status_code)
    assert response.is_json, response.data[:200]
    body = response.get_json()
    # Validate against the document itself as the root, so every "#/components/..." resolves.
    root = {**SPEC, "$ref": "#/x-checked-schema", "x-checked-schema": schema}
    errors = sorted(OAS30Validator(root).iter_errors(body), key=str)
    assert not errors, "\n".join(e.message for e in errors[:5])
    return body


def test_the_document_is_a_valid_openapi_3_0():
    from openapi_spec_validator import validate

    validate(SPEC)


def post(client, filename, content, **fields):
    return client.post(
        "/", data={"file": (io.BytesIO(content), filename), **fields}, content_type="multipart/form-data"
    )


def new_job(sha="c" * 64) -> dict:
    doc, _ = services.get().jobs.create(
        job.new_job(sha256=sha, blob_name=f"{sha}.png", content_type="image/png", size=3)
    )
    return doc


@pytest.fixture
def upload(make_client):
    return make_client("upload")


@pytest.fixture
def status(make_client):
    return make_client("status")


def test_upload_responses_match_the_document(upload, sample):
    body = check(post(upload, "r.png", sample["png"], pedido_id="PED-1", expected_amount="10,00"), "/", "post")
    assert body["status"] == "finished" and body["processing"] == "inline"
    assert check(post(upload, "again.png", sample["png"]), "/", "post")["duplicate"] is True
    assert check(post(upload, "evil.exe", b"MZ\x90\x00"), "/", "post")["code"] == "extension_not_allowed"
    big = sample["png"] + b"\0" * (16 * 1024 * 1024 + 1 - len(sample["png"]))
    assert check(post(upload, "big.png", big), "/", "post")["code"] == "file_too_large"
    assert check(post(upload, "r.png", sample["png"][:100]), "/", "post")["code"] == "unreadable_file"
    assert check(upload.post("/", data=b"x", content_type="text/plain"), "/", "post")["code"] == "not_multipart"


def test_upload_auth_errors_match_the_document(make_client, sample):
    import hashlib

    client = make_client("upload", REQUIRE_API_KEY="true", API_KEY_HASHES=hashlib.sha256(b"k").hexdigest())
    assert check(post(client, "r.png", sample["png"]), "/", "post")["code"] == "missing_api_key"
    response = client.post(
        "/",
        data={"file": (io.BytesIO(sample["png"]), "r.png")},
        content_type="multipart/form-data",
        headers={"X-API-Key": "wrong"},
    )
    assert check(response, "/", "post")["code"] == "invalid_api_key"


def test_a_queued_upload_matches_the_document(make_client, redis_server, sample):
    import uuid

    client = make_client(
        "upload", TASK_QUEUE="rq", REDIS_URL=f"redis://{redis_server.host}/0", RQ_QUEUE_NAME=f"q{uuid.uuid4().hex[:8]}"
    )
    response = post(client, "r.png", sample["png"])
    assert response.status_code == 202
    check(response, "/", "post")


STATUS = "/jobs/{job_id}/status"


def test_status_of_each_kind_of_job_matches_the_document(make_client, status, sample):
    from PIL import Image

    queued = new_job()
    assert check(status.get(f"/jobs/{queued['job_id']}/status"), STATUS)["status"] == "queued"

    started = new_job("d" * 64)
    store = services.get().jobs
    store.update(started["job_id"], lambda d: job.claim(d, job.now(), 60))
    store.update(started["job_id"], lambda d: job.progress(d, 1, 50, job.now(), 60))
    assert check(status.get(f"/jobs/{started['job_id']}/status"), STATUS)["status"] == "started"

    upload = make_client("upload")
    finished = post(upload, "r.png", sample["png"]).get_json()["job_id"]
    blank = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(blank, "PNG")
    failed = post(upload, "blank.png", blank.getvalue()).get_json()["job_id"]
    status = make_client("status")
    assert check(status.get(f"/jobs/{finished}/status"), STATUS)["status"] == "finished"
    assert check(status.get(f"/jobs/{failed}/status"), STATUS)["error_code"] == "no_receipt_found"

    assert check(status.get(f"/jobs/{job.new_job_id()}/status"), STATUS)["code"] == "job_not_found"
    assert check(status.get("/jobs/not-a-job/status"), STATUS)["code"] == "invalid_job_id"

    listing = check(status.get("/jobs"), "/jobs")
    assert listing["counts"] == {"queued": 1, "started": 1, "finished": 1, "failed": 1, "needs_review": 0}
    page = check(status.get("/jobs?limit=2"), "/jobs")
    assert len(page["jobs"]) == 2 and page["next_cursor"]
    check(status.get(f"/jobs?limit=2&cursor={page['next_cursor']}"), "/jobs")
    assert check(status.get("/jobs?status=failed"), "/jobs")["jobs"][0]["status"] == "failed"
    for query, code in (
        ("status=done", "invalid_status"),
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("cursor=garbage", "invalid_cursor"),
    ):
        assert check(status.get(f"/jobs?{query}"), "/jobs")["code"] == code


def test_a_job_with_a_webhook_matches_the_document(make_client, sample, webhook_receiver):
    upload = make_client(
        "upload", WEBHOOK_ALLOW_PRIVATE_URLS="true", WEBHOOK_SECRETS="*=openapi-test-secret", NOTIFY_MAX_ATTEMPTS="1"
    )
    for kind, script, expected in (("png", [200], "delivered"), ("jpeg", [500], "failed")):
        url = webhook_receiver.url("openapi", script)
        response = upload.post(
            "/",
            data={"file": (io.BytesIO(sample[kind]), f"r.{kind}"), "callback_url": url},
            content_type="multipart/form-data",
        )
        job_id = check(response, "/", "post")["job_id"]
        status, deadline = make_client("status"), time.monotonic() + 30
        while (body := check(status.get(f"/jobs/{job_id}/status"), STATUS))["notification"]["status"] == "pending":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert body["notification"]["status"] == expected
    bad = upload.post(
        "/",
        data={"file": (io.BytesIO(sample["pdf"]), "r.pdf"), "callback_url": "ftp://x/"},
        content_type="multipart/form-data",
    )
    assert check(bad, "/", "post")["code"] == "invalid_callback_url"


def test_status_auth_errors_match_the_document(make_client):
    import hashlib

    client = make_client("status", REQUIRE_API_KEY="true", API_KEY_HASHES=hashlib.sha256(b"k").hexdigest())
    assert check(client.get(f"/jobs/{job.new_job_id()}/status"), STATUS)["code"] == "missing_api_key"
    assert check(client.get("/jobs", headers={"X-API-Key": "nope"}), "/jobs")["code"] == "invalid_api_key"


JOB = "/jobs/{job_id}"


def check_empty(response, path: str, method: str) -> None:
    """Assert `response` is a status openapi.yaml documents for it without a body, and has none."""
    responses = SPEC["paths"][path][method]["responses"]
    assert str(response.status_code) in responses, f"{method.upper()} {path} answered {response.status_code}"
    assert "content" not in responses[str(response.status_code)] and response.data == b""


def test_erasure_responses_match_the_document(make_client, status, sample):
    import hashlib

    job_id = post(make_client("upload"), "r.png", sample["png"]).get_json()["job_id"]
    status = make_client("status")
    check_empty(status.delete(f"/jobs/{job_id}"), JOB, "delete")
    assert check(status.delete(f"/jobs/{job_id}"), JOB, "delete")["code"] == "job_not_found"
    assert check(status.get(f"/jobs/{job_id}/status"), STATUS)["code"] == "job_not_found"
    assert check(status.delete("/jobs/not-a-job"), JOB, "delete")["code"] == "invalid_job_id"
    keyed = make_client("status", REQUIRE_API_KEY="true", API_KEY_HASHES=hashlib.sha256(b"k").hexdigest())
    assert check(keyed.delete(f"/jobs/{job_id}"), JOB, "delete")["code"] == "missing_api_key"
    assert check(keyed.delete(f"/jobs/{job_id}", headers={"X-API-Key": "no"}), JOB, "delete")["code"] == (
        "invalid_api_key"
    )


REVIEW = "/jobs/{job_id}/review"


def test_the_review_queue_and_a_review_match_the_document(make_client, sample):
    from tools import receipts

    upload = make_client("upload")
    post(upload, "r.pdf", sample["pdf"])
    flagged = post(upload, "other.pdf", receipts.render_pdf(sample["receipt"], "inter")).get_json()["job_id"]
    waiting = new_job()
    status = make_client("status")
    listed = check(status.get("/jobs?needs_review=true"), "/jobs")
    assert [j["job_id"] for j in listed["jobs"]] == [flagged] and listed["counts"]["needs_review"] == 1
    assert check(status.get("/jobs?needs_review=1"), "/jobs")["code"] == "invalid_needs_review"
    path = f"/jobs/{flagged}/review"
    for body, code in (
        ({"decision": "correct", "data": {"amount": 0}}, "invalid_amount"),
        ({"decision": "correct", "data": {"nome": "x"}}, "unknown_field"),
        ({"decision": "nope"}, "invalid_decision"),
    ):
        assert check(status.post(path, json=body), REVIEW, "post")["code"] == code
    assert check(status.post(f"/jobs/{waiting['job_id']}/review", json={"decision": "approve"}), REVIEW, "post")[
        "code"
    ] == ("job_not_finished")
    assert check(status.post(f"/jobs/{job.new_job_id()}/review", json={}), REVIEW, "post")["code"] == "job_not_found"
    assert check(status.get(path), REVIEW, "post")["code"] == "method_not_allowed"
    corrected = {"decision": "correct", "data": {"amount": 9.9, "receiver": {"name": "Loja Exemplo"}}, "note": "ok"}
    body = check(status.post(path, json=corrected), REVIEW, "post")
    assert body["review"]["changes"]["amount"][1] == 9.9
    again = check(status.post(path, json={"decision": "reject"}), REVIEW, "post")
    assert len(again["review"]["history"]) == 1
    assert check(status.get(f"/jobs/{flagged}/status"), STATUS)["review"]["decision"] == "reject"


def test_an_undocumented_status_code_fails_the_check(status):
    response = status.post("/jobs")  # 405 is not part of the documented API
    with pytest.raises(AssertionError, match="does not document"):
        check(response, "/jobs")


def test_an_off_schema_body_fails_the_check(status):
    class Fake:
        status_code, is_json, data = 200, True, b""

        @staticmethod
        def get_json():
            return {"job_id": "x", "status": "queued"}

    with pytest.raises(AssertionError):
        check(Fake, STATUS)


# ---- schemathesis: bounded fuzzing of each documented operation against its WSGI app ----------


@pytest.mark.parametrize(
    "function, label",
    [
        ("status", "GET /jobs/{job_id}/status"),
        ("status", "GET /jobs"),
        ("status", "DELETE /jobs/{job_id}"),
        ("status", "GET /jobs/{job_id}/file"),
        ("status", "POST /jobs/{job_id}/review"),
        ("upload", "POST /"),
    ],
)
def test_schemathesis_finds_no_server_error_and_no_response_off_the_schema(make_client, function, label):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import checks

    app = make_client(function).application
    schema = schemathesis.openapi.from_path(os.path.join(ROOT, "openapi.yaml"))
    operation = next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)
    statuses = []

    @settings(
        max_examples=30,
        deadline=2000,
        database=None,
        derandomize=True,  # repeatable in CI
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(operation.as_strategy())
    def run(case):
        response = case.call(app=app)
        statuses.append(response.status_code)
        # A schema-valid cursor or file can still be refused (an opaque cursor, random bytes):
        # what matters is no 5xx, a documented status and a body matching its schema.
        case.validate_response(
            response,
            checks=[
                checks.not_a_server_error,
                checks.status_code_conformance,
                checks.content_type_conformance,
                checks.response_schema_conformance,
            ],
        )

    run()
    assert statuses and all(s < 500 for s in statuses)


def test_the_psp_webhook_and_a_job_confirmed_by_it_match_the_document(make_client, sample, tmp_path):
    from tools import fakepsp

    psp = fakepsp.FakePsp(str(tmp_path / "psp")).start()
    try:
        secret = "openapi-secret-0123456789"
        upload = make_client("upload", PIX_WEBHOOK_SECRET=secret, **psp.env())
        done = check(post(upload, "r.pdf", sample["pdf"]), "/", "post")
        assert done["result"]["data"]["validacao_pagamento"]["confirmed"] is True
        path = "/pix-webhook/{secret}/pix"
        pix = fakepsp.pix_of(sample["receipt"])
        assert check(upload.post(f"/pix-webhook/{secret}/pix", json={"pix": [pix]}), path, "post")["received"] == 1
        check(upload.post(f"/pix-webhook/{secret}/pix", json={"pix": [{"valor": "1"}]}), path, "post")
        check(upload.post("/pix-webhook/wrong-secret-xxxxxxxxx/pix", json={"pix": []}), path, "post")
        status = make_client("status", **psp.env())
        body = check(status.get(f"/jobs/{done['job_id']}/status"), STATUS)
        assert body["result"]["data"]["validacao_pagamento"]["source"] == "api_pix"
    finally:
        psp.stop()
