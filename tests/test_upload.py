"""The upload function through its HTTP interface: accepted receipts, duplicates, and every kind
of rejected upload answered with its own JSON error and nothing stored."""

import io
import json
import time
from datetime import timedelta

import pytest

from common import blobstore, config, job, jobstore, services, upload
from common.errors import ApiError
from tests.helpers import nothing_stored, post, queue_file

MIB = 1024 * 1024


@pytest.fixture
def client(make_client):
    return make_client("upload")


def test_a_receipt_is_processed_inline_and_answers_its_finished_status(client, sample):
    response = post(client, "comprovante.png", sample["png"], pedido_id="PED-7", expected_amount="1.234,56")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "finished" and body["duplicate"] is False
    assert body["pedido_id"] == "PED-7"
    assert body["status_url"] == f"/jobs/{body['job_id']}/status"
    data = body["result"]["data"]
    assert data["amount"] == sample["receipt"].amount
    assert data["transaction_id"] == sample["receipt"].transaction_id
    assert data["validacao_valor"]["expected"] == 1234.56
    assert response.headers["Cache-Control"] == "no-store"


def test_the_same_bytes_again_return_the_first_job(client, sample):
    first = post(client, "a.png", sample["png"]).get_json()
    again = post(client, "another-name.png", sample["png"])
    assert again.status_code == 200
    assert again.get_json()["job_id"] == first["job_id"]
    assert again.get_json()["duplicate"] is True
    assert len(jobstore.from_settings(config.from_env()).list()) == 1


def test_two_different_files_make_two_jobs(client, sample):
    a = post(client, "a.png", sample["png"]).get_json()
    b = post(client, "b.pdf", sample["pdf"]).get_json()
    assert a["job_id"] != b["job_id"]
    assert b["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
    assert b["result"]["data"]["text_source"] == "pdf_text"
    assert len(blobstore.from_settings(config.from_env()).names()) == 2


def test_job_ids_are_128_bit_random_hex(client, sample):
    job_id = post(client, "a.png", sample["png"]).get_json()["job_id"]
    assert len(job_id) == 32 and int(job_id, 16) >= 0


HTML = b"<!DOCTYPE html><html><head><title>x</title></head><body><script>alert(1)</script></body></html>"


@pytest.mark.parametrize(
    "case, filename, make_content, status, code",
    [
        ("wrong extension", "receipt.exe", lambda s: s["png"], 415, "extension_not_allowed"),
        ("double extension", "receipt.png.php", lambda s: s["png"], 415, "extension_not_allowed"),
        ("no extension", "receipt", lambda s: s["png"], 415, "extension_not_allowed"),
        ("png content named jpg", "receipt.jpg", lambda s: s["png"], 415, "mime_mismatch"),
        ("pdf content named png", "receipt.png", lambda s: s["pdf"], 415, "mime_mismatch"),
        ("html renamed pdf", "receipt.pdf", lambda s: HTML, 415, "mime_not_allowed"),
        ("empty file", "receipt.png", lambda s: b"", 400, "empty_file"),
        ("truncated png", "receipt.png", lambda s: s["png"][: len(s["png"]) // 2], 422, "unreadable_file"),
        ("truncated jpeg", "receipt.jpg", lambda s: s["jpeg"][: len(s["jpeg"]) // 2], 422, "unreadable_file"),
        ("truncated pdf", "receipt.pdf", lambda s: s["pdf"][:200], 422, "unreadable_file"),
        (
            "16 MB + 1 byte",
            "receipt.png",
            lambda s: s["png"] + b"\0" * (16 * MIB + 1 - len(s["png"])),
            413,
            "file_too_large",
        ),
    ],
)
def test_bad_uploads_get_their_own_json_error_and_store_nothing(
    client, sample, case, filename, make_content, status, code
):
    response = post(client, filename, make_content(sample))
    assert response.status_code == status, case
    assert response.is_json
    assert response.get_json()["code"] == code
    assert response.get_json()["error"]
    assert nothing_stored()


def test_missing_file_field(client):
    response = post(client, pedido_id="1")
    assert (response.status_code, response.get_json()["code"]) == (400, "missing_file")
    assert nothing_stored()


def test_two_file_fields(client, sample):
    response = client.post(
        "/",
        data={"file": [(io.BytesIO(sample["png"]), "a.png"), (io.BytesIO(sample["pdf"]), "b.pdf")]},
        content_type="multipart/form-data",
    )
    assert (response.status_code, response.get_json()["code"]) == (400, "multiple_files")
    assert nothing_stored()


def test_non_multipart_body(client, sample):
    response = client.post("/", data=sample["png"], content_type="image/png")
    assert (response.status_code, response.get_json()["code"]) == (400, "not_multipart")
    response = client.post("/", json={"file": "x"})
    assert (response.status_code, response.get_json()["code"]) == (400, "not_multipart")
    assert nothing_stored()


def test_wrong_method(client):
    response = client.get("/")
    assert (response.status_code, response.get_json()["code"]) == (405, "method_not_allowed")


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("pedido_id", "../../etc", "invalid_pedido_id"),
        ("pedido_id", "x" * 65, "invalid_pedido_id"),
        ("expected_amount", "-5", "invalid_expected_amount"),
        ("expected_amount", "abc", "invalid_expected_amount"),
        ("expected_amount", "0", "invalid_expected_amount"),
        ("expected_amount", "1,2,3", "invalid_expected_amount"),
    ],
)
def test_bad_form_fields_are_refused_before_anything_is_stored(client, sample, field, value, code):
    response = post(client, "a.png", sample["png"], **{field: value})
    assert (response.status_code, response.get_json()["code"]) == (400, code)
    assert nothing_stored()


def test_a_huge_form_field_is_refused(client, sample):
    response = post(client, "a.png", sample["png"], pedido_id="x" * 2_000_000)
    assert response.status_code == 413 and response.is_json
    assert nothing_stored()


@pytest.mark.parametrize(
    "text, amount",
    [
        ("1234.56", 1234.56),
        ("1234,56", 1234.56),
        ("1.234,56", 1234.56),
        ("R$ 19,50", 19.5),
        ("7", 7.0),
        ("1.234", 1234.0),
    ],
)
def test_expected_amount_accepts_brazilian_and_plain_forms(text, amount):
    assert upload.parse_expected_amount(text) == amount


def test_expected_amount_refuses_garbage():
    with pytest.raises(ApiError):
        upload.parse_expected_amount("1e9")


@pytest.fixture
def stopped_redis(tmp_path):
    """A real Redis that was running and has just been stopped: its port now refuses."""
    from tools import emulators

    redis = emulators.start_redis(str(tmp_path / "logs"))
    redis.stop()
    return redis


def test_with_redis_down_the_upload_falls_back_to_inline(make_client, stopped_redis, sample, capsys):
    client = make_client("upload", TASK_QUEUE="rq", REDIS_URL=f"redis://{stopped_redis.host}/0", SYNC_FALLBACK="true")
    response = post(client, "a.png", sample["png"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["processing"] == "inline_fallback" and body["status"] == "finished"
    assert body["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
    assert '"event": "queue_unavailable_fallback"' in capsys.readouterr().out


def test_with_redis_down_and_no_fallback_the_upload_is_refused_and_nothing_stays_queued(
    make_client, stopped_redis, sample
):
    client = make_client("upload", TASK_QUEUE="rq", REDIS_URL=f"redis://{stopped_redis.host}/0", SYNC_FALLBACK="false")
    response = post(client, "a.png", sample["png"])
    assert (response.status_code, response.get_json()["code"]) == (503, "queue_unavailable")
    assert int(response.headers["Retry-After"]) > 0
    jobs = jobstore.from_settings(config.from_env()).list()
    assert [j["status"] for j in jobs] == ["failed"] and jobs[0]["error_code"] == "queue_unavailable"
    # What the client reads (the answer, the job's status JSON) names no host and quotes no error.
    status = make_client("status", TASK_QUEUE="rq").get(f"/jobs/{jobs[0]['job_id']}/status").get_json()
    assert status["error"] == "The task queue was unavailable."
    for text in (response.get_data(as_text=True), json.dumps(status)):
        assert stopped_redis.host.split(":")[0] not in text and "Error" not in text and "Redis" not in text
    # Once the queue is back, the same file makes a new job.
    client = make_client("upload", TASK_QUEUE="inline")
    assert post(client, "a.png", sample["png"]).get_json()["duplicate"] is False


def test_a_queued_upload_answers_202_with_location(make_client, redis_server, sample):
    import uuid

    client = make_client(
        "upload", TASK_QUEUE="rq", REDIS_URL=f"redis://{redis_server.host}/0", RQ_QUEUE_NAME=f"q{uuid.uuid4().hex[:8]}"
    )
    response = post(client, "a.png", sample["png"])
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued" and body["processing"] == "queued" and body["duplicate"] is False
    assert response.headers["Location"] == body["status_url"] == f"/jobs/{body['job_id']}/status"
    assert set(body) >= {"job_id", "status", "status_url", "created_at", "sha256"}


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store_env(request):
    """The job store adapters: the upload's take-over holds on each."""
    return request.getfixturevalue("firestore_env") if request.param == "firestore" else {"JOB_STORE": "sqlite"}


def test_a_duplicate_of_a_job_whose_run_was_stopped_takes_it_over(make_client, store_env, sample):
    client = make_client("upload", **store_env)
    app = services.get()
    doc = queue_file(sample["png"], "image/png")
    stopped = job.now() - timedelta(seconds=app.settings.job_lease_seconds + 1)
    app.jobs.update(doc["job_id"], lambda d: job.claim(d, stopped, app.settings.job_lease_seconds))  # then Ctrl-C
    response = post(client, "again.png", sample["png"])
    body = response.get_json()
    assert response.status_code == 200
    assert (body["job_id"], body["duplicate"], body["processing"]) == (doc["job_id"], True, "taken_over")
    assert body["status"] == "finished" and body["attempts"] == 2
    assert body["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id


def test_a_duplicate_of_a_job_still_running_is_not_taken_over(make_client, store_env, sample):
    client = make_client("upload", **store_env)
    app = services.get()
    doc = queue_file(sample["png"], "image/png")
    app.jobs.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))  # a live attempt
    body = post(client, "again.png", sample["png"]).get_json()
    assert (body["job_id"], body["processing"], body["status"], body["attempts"]) == (
        doc["job_id"],
        "duplicate",
        "started",
        1,
    )


def test_a_duplicate_of_a_job_queued_too_long_runs_it(make_client, store_env, sample):
    client = make_client("upload", RECONCILE_QUEUED_AFTER_SECONDS="1", **store_env)
    doc = queue_file(sample["png"], "image/png")  # its task never came
    young = post(client, "again.png", sample["png"]).get_json()
    assert (young["processing"], young["status"]) == ("duplicate", "queued")
    time.sleep(1.1)
    body = post(client, "again.png", sample["png"]).get_json()
    assert (body["job_id"], body["processing"], body["status"]) == (doc["job_id"], "taken_over", "finished")


@pytest.mark.parametrize("kind", ["png", "pdf"])  # read by OCR, and from a PDF's text layer
def test_a_matching_pix_key_beside_another_receivers_name_does_not_pass(make_client, sample, kind):
    receipt = sample["receipt"]
    client = make_client(
        "upload", EXPECTED_RECEIVER_PIX_KEYS=receipt.receiver_pix_key, EXPECTED_RECEIVER_NAME="Outra Pessoa Qualquer"
    )
    body = post(client, f"r.{kind}", sample[kind]).get_json()
    check = body["result"]["data"]["validacao_recebedor"]
    assert (check["valid"], check["matched"], check["mismatched"]) == (False, ["pix_key"], ["name"])


def test_inline_mode_logs_job_queued_before_the_job_runs(client, sample, capsys):
    post(client, "a.png", sample["png"])
    events = [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    ours = [e for e in events if e in ("job_queued", "job_started", "job_finished")]
    assert ours == ["job_queued", "job_started", "job_finished"]
