"""Structured logs: one JSON object per line, and nothing secret or personal in them."""

import hashlib
import io
import json

import pytest

from common import documents


def test_a_processed_receipt_leaves_no_key_name_or_document_in_the_logs(make_client, sample, capsys):
    key = "chave-secreta-de-teste-123"
    env = {"REQUIRE_API_KEY": "true", "API_KEY_HASHES": hashlib.sha256(key.encode()).hexdigest()}
    upload, status = make_client("upload", **env), make_client("status", **env)
    body = upload.post(
        "/",
        data={"file": (io.BytesIO(sample["png"]), "r.png"), "pedido_id": "PED-9"},
        content_type="multipart/form-data",
        headers={"X-API-Key": key},
    ).get_json()
    assert body["status"] == "finished"
    status.get(f"/jobs/{body['job_id']}/status", headers={"X-API-Key": key})
    status.get(f"/jobs/{body['job_id']}/status", headers={"X-API-Key": "wrong-" + key})
    out = capsys.readouterr().out
    receipt = sample["receipt"]
    secrets = [
        key,
        receipt.payer_name,
        receipt.receiver_name,
        receipt.receiver_pix_key,
        documents.visible(receipt.payer_document),
        documents.visible(receipt.receiver_document),
    ]
    for secret in secrets:
        assert secret not in out, f"{secret!r} leaked into the logs"
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert {"job_queued", "job_started", "job_finished", "request_rejected"} <= {r["event"] for r in records}
    assert all(r["severity"] and r["message"] for r in records)


TRACE_ID = "105445aa7843bc8bf206b12000100000"
TRACE = f"projects/receipts-test/traces/{TRACE_ID}"


def records_of(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def by_event(records: list[dict], name: str) -> dict:
    found = [r for r in records if r["event"] == name]
    assert len(found) == 1, f"expected one {name} line, got {len(found)}"
    return found[0]


def assert_cloud_logging_shape(record: dict) -> None:
    assert record["severity"] in ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")
    assert record["message"] == record["event"]
    assert record["time"].endswith("+00:00")


def upload(make_client, data: bytes, filename: str, trace_header: str | None = None):
    client = make_client("upload", GOOGLE_CLOUD_PROJECT="receipts-test")
    headers = {"X-Cloud-Trace-Context": trace_header} if trace_header else {}
    return client.post(
        "/", data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data", headers=headers
    )


def test_a_finished_job_logs_queued_started_finished_with_the_upload_trace(make_client, sample, capsys):
    response = upload(make_client, sample["png"], "r.png", f"{TRACE_ID}/1;o=1")
    job_id = response.get_json()["job_id"]
    records = records_of(capsys.readouterr().out)
    for name in ("job_queued", "job_started", "job_finished"):
        record = by_event(records, name)
        assert_cloud_logging_shape(record)
        assert record["severity"] == "INFO"
        assert record["job_id"] == job_id
        assert record["logging.googleapis.com/trace"] == TRACE
    assert by_event(records, "job_started")["attempt"] == 1
    finished = by_event(records, "job_finished")
    assert finished["attempt"] == 1 and isinstance(finished["duration_ms"], int)
    from common import services

    assert services.get().jobs.get(job_id)["trace"] == TRACE  # stored, so a queued job's OCR carries it


def test_a_failed_job_logs_job_failed_with_its_error_code_and_trace(make_client, capsys):
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(blank, "PNG")
    response = upload(make_client, blank.getvalue(), "blank.png", f"{TRACE_ID};o=1")
    assert response.get_json()["status"] == "failed"
    failed = by_event(records_of(capsys.readouterr().out), "job_failed")
    assert_cloud_logging_shape(failed)
    assert failed["severity"] == "WARNING"
    assert failed["error_code"] == "no_receipt_found"
    assert failed["attempt"] == 1 and isinstance(failed["duration_ms"], int)
    assert failed["logging.googleapis.com/trace"] == TRACE


def test_a_refused_upload_logs_upload_rejected_with_its_code(make_client, capsys):
    response = upload(make_client, b"MZ\x90\x00", "tool.exe", TRACE_ID)
    assert response.status_code == 415
    rejected = by_event(records_of(capsys.readouterr().out), "upload_rejected")
    assert rejected["severity"] == "NOTICE"
    assert (rejected["code"], rejected["status"]) == ("extension_not_allowed", 415)
    assert rejected["logging.googleapis.com/trace"] == TRACE


def test_without_the_header_lines_carry_no_trace(make_client, sample, capsys):
    upload(make_client, sample["png"], "r.png")
    assert all("logging.googleapis.com/trace" not in r for r in records_of(capsys.readouterr().out))


def test_the_job_trace_reaches_the_processing_lines_and_the_cloud_task():
    from common import config, log, taskqueue

    assert log.trace_from_header(f"{TRACE_ID}/42;o=1", "p") == f"projects/p/traces/{TRACE_ID}"
    assert log.trace_from_header("not a trace", "p") is None
    assert log.trace_from_header("", "p") is None
    settings = config.from_env({"TASK_QUEUE": "cloudtasks", "OCR_FUNCTION_URL": "https://ocr.example.run.app"})
    with log.context(trace=TRACE):
        task = taskqueue.http_task(settings, "a" * 32)
    assert task["http_request"]["headers"]["X-Cloud-Trace-Context"] == TRACE_ID
    assert "X-Cloud-Trace-Context" not in taskqueue.http_task(settings, "a" * 32)["http_request"]["headers"]


def test_a_queued_job_is_processed_under_the_trace_stored_at_upload(make_client, sample, capsys):
    """The OCR of a queued job (RQ, or a Cloud Tasks request without the header) logs the
    upload's trace, read from the job document."""
    from common import job, processing, services

    app = services.get()
    digest = hashlib.sha256(sample["png"]).hexdigest()
    app.blobs.put(f"{digest}.png", io.BytesIO(sample["png"]), "image/png")
    doc, _ = app.jobs.create(
        job.new_job(
            sha256=digest, blob_name=f"{digest}.png", content_type="image/png", size=len(sample["png"]), trace=TRACE
        )
    )
    assert processing.run_job(app, doc["job_id"]).doc["status"] == "finished"
    records = records_of(capsys.readouterr().out)
    for name in ("job_started", "job_finished"):
        assert by_event(records, name)["logging.googleapis.com/trace"] == TRACE


@pytest.mark.parametrize(
    "url, shown",
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("redis://:s3cr3t-pw@10.0.0.7:6379/0", "redis://:***@10.0.0.7:6379/0"),
        ("rediss://default:s3cr3t-pw@cache.example.com:6380/1", "rediss://default:***@cache.example.com:6380/1"),
        ("redis://user:p@ss@host/0", "redis://user:***@host/0"),
        ("redis://host:6379/0?password=s3cr3t-pw&db=2", "redis://host:6379/0?password=***&db=2"),
        ("redis://[::1", "<unparsable URL>"),
    ],
)
def test_a_url_is_shown_without_its_password(url, shown):
    from common import log

    assert log.redact_url(url) == shown
