"""Running jobs through the OCR function: claim once, duplicate deliveries change nothing, and
unreadable receipts end failed with a clear message."""

import io
import json

import pytest

from common import job, processing, services
from common.errors import ReceiptUnreadable
from tests.helpers import queue_file
from tools.faultproxy import FaultProxy


@pytest.fixture
def ocr(make_client):
    return make_client("ocr")


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


def test_a_job_held_by_a_live_attempt_is_left_alone(sample, ocr):
    doc = queue_file(sample["pdf"], "application/pdf")
    app = services.get()
    app.jobs.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))
    outcome = processing.run_job(app, doc["job_id"])
    assert outcome.retry and 55 < outcome.retry_after <= 60
    assert app.jobs.get(doc["job_id"])["status"] == "started"
    response = ocr.post("/", json={"job_id": doc["job_id"]})
    assert (response.status_code, response.get_json()["code"]) == (503, "job_in_progress")
    assert 55 <= int(response.headers["Retry-After"]) <= 60


def test_an_image_pdf_goes_through_ocr(sample):
    from tools import receipts

    doc = queue_file(receipts.render_image_pdf(sample["receipt"], "nubank"), "application/pdf")
    done = processing.run_job(services.get(), doc["job_id"]).doc
    assert done["result"]["data"]["text_source"] == "ocr"
    assert done["result"]["data"]["amount"] == sample["receipt"].amount


def test_a_missing_blob_fails_the_job_clearly(sample):
    app = services.get()
    doc, _ = app.jobs.create(
        job.new_job(sha256="d" * 64, blob_name="d" * 64 + ".png", content_type="image/png", size=1)
    )
    done = processing.run_job(app, doc["job_id"]).doc
    assert done["status"] == "failed" and done["error_code"] == "blob_missing"


def test_a_pdf_without_receipt_text_fails_as_no_receipt_found():
    from PIL import Image

    page = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(page, "PDF")
    doc = queue_file(page.getvalue(), "application/pdf")
    done = processing.run_job(services.get(), doc["job_id"]).doc
    assert done["status"] == "failed" and done["error_code"] == "no_receipt_found"
    assert "PIX" in done["error"]


class LinesOcr:
    """An OCR engine that reads the given lines from any image."""

    def __init__(self, lines):
        self._lines = lines

    def lines(self, image):
        return self._lines


def blank_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (60, 40), "white").save(out, "PNG")
    return out.getvalue()


def test_a_boleto_with_an_amount_is_no_pix_receipt(settings):
    boleto = [
        "Comprovante de pagamento de boleto",
        "34191.79001 01043.510047 91020.150008 1 96610000015000",
        "Beneficiário  Empresa Exemplo Ltda",
        "Valor pago  R$ 150,00",
    ]
    with pytest.raises(ReceiptUnreadable, match="boleto") as refused:
        processing.read_receipt(blank_png(), "image/png", LinesOcr(boleto), settings)
    assert refused.value.code == "no_receipt_found"
    pix = ["Pix enviado", "Valor  R$ 150", "Pague boletos pelo app"]
    assert processing.read_receipt(blank_png(), "image/png", LinesOcr(pix), settings)["amount"] == 150.0


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
    data = processing.run_job(services.get(), doc["job_id"]).doc["result"]["data"]
    assert data["amount"] == receipt.amount
    assert data["transaction_id"] == receipt.transaction_id
    assert data["paid_at"][:16] == receipt.paid_at.isoformat()[:16]
    assert data["needs_review"] is False


def multipage_image_pdf(receipt, pages: int) -> bytes:
    """A scanned-looking PDF: the receipt as an image on every page, no text layer."""
    from PIL import Image

    from tools import receipts

    image = Image.open(io.BytesIO(receipts.render_png(receipt, "nubank"))).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PDF", save_all=True, append_images=[image] * (pages - 1))
    return out.getvalue()


def recorded_updates(monkeypatch, app) -> list[tuple[str, int]]:
    """(status, progress) of each job-store update the job makes, as the store returns it."""
    seen = []
    update = app.jobs.update

    def recording_update(job_id, change):
        doc = update(job_id, change)
        seen.append((doc["status"], doc["progress"]))
        return doc

    monkeypatch.setattr(app.jobs, "update", recording_update)
    return seen


def test_a_quick_job_writes_only_its_claim_and_its_end(sample, monkeypatch):
    monkeypatch.setenv("PROGRESS_INTERVAL_MS", "60000")  # longer than the job takes on any machine
    services.reset()
    app = services.get()
    seen = recorded_updates(monkeypatch, app)
    doc = queue_file(sample["png"], "image/png")
    assert processing.run_job(app, doc["job_id"]).doc["status"] == "finished"
    assert seen == [("started", 0), ("finished", 100)]


def test_with_no_interval_every_step_is_written_once(sample, monkeypatch):
    monkeypatch.setenv("PROGRESS_INTERVAL_MS", "0")
    services.reset()
    app = services.get()
    seen = recorded_updates(monkeypatch, app)
    doc = queue_file(sample["pdf"], "application/pdf")  # a text layer: read at once, 80 reported twice
    assert processing.run_job(app, doc["job_id"]).doc["status"] == "finished"
    # 80 (the text is read) is never written: the job's end follows it within milliseconds.
    assert seen == [("started", 0), ("started", 20), ("finished", 100)]


def test_a_job_logs_its_timeline(sample, capsys):
    doc = queue_file(sample["png"], "image/png")
    processing.run_job(services.get(), doc["job_id"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (event,) = [line for line in lines if line["event"] == "job_timeline"]
    assert event["job_id"] == doc["job_id"] and event["attempt"] == 1 and event["queue_wait_ms"] >= 0
    stages = [s["stage"] for s in event["stages"]]
    for name in ("read", "claim_write", "blob_read", "decode", "ocr", "extraction", "finish_write", "notify"):
        assert name in stages, stages
    assert stages.index("decode") < stages.index("ocr") < stages.index("extraction") < stages.index("finish_write")
    ocr_ms = next(s["ms"] for s in event["stages"] if s["stage"] == "ocr")
    assert 0 < ocr_ms <= event["total_ms"]


def test_the_ocr_function_hands_the_document_it_read_to_the_job(ocr, sample, capsys):
    doc = queue_file(sample["png"], "image/png")
    assert ocr.post("/", json={"job_id": doc["job_id"]}).status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (event,) = [line for line in lines if line["event"] == "job_timeline"]
    assert "read" not in [s["stage"] for s in event["stages"]]  # no second read of the job


@pytest.mark.slow  # OCR of every page of a multi-page image PDF
def test_progress_rises_page_by_page(sample, monkeypatch):
    monkeypatch.setenv("PROGRESS_INTERVAL_MS", "0")  # every page's report written
    services.reset()
    seen = []
    app = services.get()
    update = app.jobs.update

    def recording_update(job_id, change):
        doc = update(job_id, change)
        seen.append((doc["status"], doc["progress"]))
        return doc

    monkeypatch.setattr(app.jobs, "update", recording_update)
    doc = queue_file(multipage_image_pdf(sample["receipt"], 3), "application/pdf")
    assert processing.run_job(app, doc["job_id"]).doc["status"] == "finished"
    progress = [p for status, p in seen if status == "started"]
    assert progress == sorted(progress) and len(set(progress)) >= 4  # 0, 20, 40, 60
    assert len(progress) == len(set(progress))  # none written twice


def test_a_job_over_its_timeout_fails_clearly(sample, monkeypatch):
    monkeypatch.setenv("JOB_TIMEOUT_SECONDS", "1")
    services.reset()
    doc = queue_file(multipage_image_pdf(sample["receipt"], 6), "application/pdf")
    done = processing.run_job(services.get(), doc["job_id"]).doc
    assert done["status"] == "failed" and done["error_code"] == "timeout"
    assert "1 s" in done["error"]


@pytest.fixture
def flaky_storage(gcs_env, storage_emulator, make_client):
    """The OCR function on Cloud Storage (emulator) behind a proxy that can fail media reads."""
    proxy = FaultProxy(storage_emulator.host).start()
    client = make_client("ocr", **gcs_env, STORAGE_EMULATOR_HOST=proxy.url, STORAGE_RETRY_SECONDS=0)
    yield proxy, client
    proxy.stop()


def media_read(method, path):
    return method == "GET" and "alt=media" in path


def test_a_transient_storage_failure_is_retried_then_succeeds(flaky_storage, sample):
    proxy, ocr = flaky_storage
    doc = queue_file(sample["pdf"], "application/pdf")
    proxy.fail(times=1, status=503, when=media_read)

    first = ocr.post("/", json={"job_id": doc["job_id"]}, headers={"X-CloudTasks-TaskRetryCount": "0"})
    assert (first.status_code, first.get_json()["code"]) == (503, "backend_unavailable")
    assert int(first.headers["Retry-After"]) > 0
    waiting = services.get().jobs.get(doc["job_id"])
    assert waiting["status"] == "queued" and "503" in waiting["last_error"]

    second = ocr.post("/", json={"job_id": doc["job_id"]}, headers={"X-CloudTasks-TaskRetryCount": "1"})
    assert second.status_code == 200
    body = second.get_json()
    assert body["status"] == "finished" and body["attempts"] == 2
    assert body["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
    assert [status for method, path, status in proxy.requests if media_read(method, path)] == [503, 200]


def test_the_last_delivery_of_a_transient_failure_ends_the_job(flaky_storage, sample, capsys):
    proxy, ocr = flaky_storage
    doc = queue_file(sample["pdf"], "application/pdf")
    proxy.fail(times=2, status=503, when=media_read)
    first = ocr.post("/", json={"job_id": doc["job_id"]}, headers={"X-CloudTasks-TaskRetryCount": "0"})
    assert first.status_code == 503
    assert first.get_json()["error"] == "The job could not be run now; try again later."  # no storage URL
    last = ocr.post("/", json={"job_id": doc["job_id"]}, headers={"X-CloudTasks-TaskRetryCount": "4"})
    assert last.status_code == 200
    body = last.get_json()
    assert body["status"] == "failed" and body["error_code"] == "backend_unavailable" and body["attempts"] == 2
    assert body["error"] == "Gave up after 2 attempts: a storage backend was unavailable."
    # The storage's host and the object's path are in the log, for the operator, not in the job.
    host = proxy.url.removeprefix("http://")
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [failed] = [e for e in logged if e["event"] == "job_failed"]
    assert "503" in failed["error"] and host not in json.dumps(body)


def test_a_permanent_failure_is_answered_2xx_once_and_not_retried(ocr):
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(blank, "PNG")
    doc = queue_file(blank.getvalue(), "image/png")
    first = ocr.post("/", json={"job_id": doc["job_id"]})
    assert first.status_code == 200 and first.get_json()["error_code"] == "no_receipt_found"
    again = ocr.post("/", json={"job_id": doc["job_id"]})
    assert again.status_code == 200 and again.get_json()["attempts"] == 1


@pytest.mark.parametrize(
    "render, mime, path",
    [
        ("render_png", "image/png", "/v1/images:annotate"),
        ("render_image_pdf", "application/pdf", "/v1/files:annotate"),
    ],
)
def test_a_job_read_by_cloud_vision_gives_its_amount_and_id(fake_vision, monkeypatch, render, mime, path):
    from tools import receipts
    from tools.fakevision import receipt_lines

    monkeypatch.setenv("OCR_ENGINE", "vision")
    monkeypatch.setenv("VISION_API_ENDPOINT", fake_vision.url)
    services.reset()
    receipt = receipts.sample_receipt(7, layout="itau")
    fake_vision.answer(receipt_lines(receipt, "itau"))
    doc = queue_file(getattr(receipts, render)(receipt, "itau"), mime)
    done = processing.run_job(services.get(), doc["job_id"]).doc
    assert done["status"] == "finished"
    data = done["result"]["data"]
    assert (data["amount"], data["transaction_id"]) == (receipt.amount, receipt.transaction_id)
    assert data["text_source"] == "ocr" and data["needs_review"] is False
    assert [request.path for request in fake_vision.requests] == [path]


def test_cloud_vision_down_sends_the_job_back_to_the_queue(fake_vision, monkeypatch, sample):
    from tools.fakevision import receipt_lines

    monkeypatch.setenv("OCR_ENGINE", "vision")
    monkeypatch.setenv("VISION_API_ENDPOINT", fake_vision.url)
    services.reset()
    fake_vision.fail(times=100, status=503)
    doc = queue_file(sample["png"], "image/png")
    outcome = processing.run_job(services.get(), doc["job_id"])
    assert outcome.retry and outcome.doc["status"] == "queued" and "Cloud Vision" in outcome.doc["last_error"]
    fake_vision.reset()
    fake_vision.answer(receipt_lines(sample["receipt"], "nubank"))
    done = processing.run_job(services.get(), doc["job_id"]).doc
    assert done["status"] == "finished" and done["attempts"] == 2
    assert done["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id


def test_one_payment_in_two_files_is_flagged_as_a_duplicate_with_the_first_order(sample, make_client):
    """A screenshot and the PDF of the same payment, sent for two orders."""
    upload = make_client("upload")
    first = upload.post(
        "/",
        data={"file": (io.BytesIO(sample["png"]), "a.png"), "pedido_id": "PED-1"},
        content_type="multipart/form-data",
    ).get_json()
    second = upload.post(
        "/",
        data={"file": (io.BytesIO(sample["pdf"]), "a.pdf"), "pedido_id": "PED-2"},
        content_type="multipart/form-data",
    ).get_json()
    assert first["job_id"] != second["job_id"]
    assert "duplicate_of" not in first["result"]["data"]
    duplicate = second["result"]["data"]["duplicate_of"]
    assert duplicate["job_id"] == first["job_id"] and duplicate["pedido_id"] == "PED-1"
    assert second["result"]["data"]["needs_review"] is True
    assert second["result"]["data"]["review_reasons"] == ["duplicate_transaction"]
