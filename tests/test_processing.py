"""Running jobs through the OCR function: claim once, duplicate deliveries change nothing, and
unreadable receipts end failed with a clear message."""

import io

import pytest

from common import job, processing, services, validation


@pytest.fixture
def ocr(make_client):
    return make_client("ocr")


def queue_file(data: bytes, mime: str) -> dict:
    """A queued job whose blob is stored, as the upload leaves it with a non-inline queue."""
    app = services.get()
    sha = validation.calculate_file_hash(io.BytesIO(data))
    name = validation.generate_secure_filename(sha, mime)
    app.blobs.put(name, io.BytesIO(data), mime)
    doc, _ = app.jobs.create(job.new_job(sha256=sha, blob_name=name, content_type=mime, size=len(data)))
    return doc


def test_the_ocr_function_runs_a_queued_job(ocr, sample):
    doc = queue_file(sample["png"], "image/png")
    response = ocr.post("/", json={"job_id": doc["job_id"]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "finished"
    assert body["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
    assert body["attempts"] == 1


def test_a_duplicate_delivery_changes_nothing(ocr, sample):
    doc = queue_file(sample["pdf"], "application/pdf")
    first = ocr.post("/", json={"job_id": doc["job_id"]}).get_json()
    stored = services.get().jobs.get(doc["job_id"])
    again = ocr.post("/", json={"job_id": doc["job_id"]})
    assert again.status_code == 200 and again.get_json() == first
    assert services.get().jobs.get(doc["job_id"]) == stored


def test_a_job_held_by_a_live_attempt_is_left_alone(sample):
    doc = queue_file(sample["pdf"], "application/pdf")
    app = services.get()
    app.jobs.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))
    assert processing.run_job(app, doc["job_id"]) is None
    assert app.jobs.get(doc["job_id"])["status"] == "started"


def test_an_image_pdf_goes_through_ocr(sample):
    from tools import receipts

    doc = queue_file(receipts.render_image_pdf(sample["receipt"], "nubank"), "application/pdf")
    done = processing.run_job(services.get(), doc["job_id"])
    assert done["result"]["data"]["text_source"] == "ocr"
    assert done["result"]["data"]["amount"] == sample["receipt"].amount


def test_a_missing_blob_fails_the_job_clearly(sample):
    app = services.get()
    doc, _ = app.jobs.create(job.new_job(sha256="d" * 64, blob_name="d" * 64 + ".png", content_type="image/png", size=1))
    done = processing.run_job(app, doc["job_id"])
    assert done["status"] == "failed" and done["error_code"] == "blob_missing"


def test_a_pdf_without_receipt_text_fails_as_no_receipt_found():
    from PIL import Image

    page = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(page, "PDF")
    doc = queue_file(page.getvalue(), "application/pdf")
    done = processing.run_job(services.get(), doc["job_id"])
    assert done["status"] == "failed" and done["error_code"] == "no_receipt_found"
    assert "PIX" in done["error"]


@pytest.mark.parametrize("body", [None, {}, {"job_id": 5}, {"job_id": "nope"}, ["x"]])
def test_a_malformed_task_is_refused(ocr, body):
    response = ocr.post("/", json=body) if body is not None else ocr.post("/", data="not json")
    assert (response.status_code, response.get_json()["code"]) == (400, "invalid_task")


def test_a_task_for_an_unknown_job_is_404(ocr):
    response = ocr.post("/", json={"job_id": job.new_job_id()})
    assert (response.status_code, response.get_json()["code"]) == (404, "job_not_found")


@pytest.mark.parametrize("layout", ["nubank", "itau", "inter"])
@pytest.mark.parametrize("render, mime", [("render_png", "image/png"), ("render_pdf", "application/pdf")])
def test_every_bank_layout_gives_amount_id_and_time(layout, render, mime):
    from tools import receipts

    receipt = receipts.sample_receipt(3, layout=layout)
    doc = queue_file(getattr(receipts, render)(receipt, layout), mime)
    data = processing.run_job(services.get(), doc["job_id"])["result"]["data"]
    assert data["amount"] == receipt.amount
    assert data["transaction_id"] == receipt.transaction_id
    assert data["paid_at"][:16] == receipt.paid_at.isoformat()[:16]
    assert data["needs_review"] is False
