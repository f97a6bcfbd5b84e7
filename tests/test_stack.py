"""End to end on the full local stack (tools/stack.py, what `make up` runs): the Cloud Storage
and Firestore emulators, the three functions under functions-framework, the reconciler, and
either the Cloud Tasks emulator or a real Redis with `worker.py`. Each queue mode gets its own
stack for the module; the test that stops the queue runs last."""

import concurrent.futures
import io
import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.helpers import TEST_OUTPUT, need
from tools import receipts
from tools.stack import Stack

pytestmark = [pytest.mark.emulator, pytest.mark.slow]  # the whole local stack, each queue mode
LEASE_SECONDS = 6  # short, so that taking over a dead worker's job takes seconds
WEBHOOK_SECRET = "stack-webhook-secret-0123"


@pytest.fixture(scope="module", params=["cloudtasks", "rq"])
def stack(request):
    state_dir = os.path.join(TEST_OUTPUT, f"stack-{request.param}-{uuid.uuid4().hex[:6]}")
    overrides = {
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "RECONCILE_QUEUED_AFTER_SECONDS": "5",
        "WEBHOOK_SECRETS": f"*={WEBHOOK_SECRET}",
        "NOTIFY_MAX_ATTEMPTS": "3",
        "NOTIFY_BACKOFF_SECONDS": "1",
    }
    stack = need(lambda: Stack(state_dir, request.param, overrides, reconcile_every=1).up())
    yield stack
    stack.down()


def call(url, data=None, headers=None, timeout=120):
    request = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.load(e)


def upload(stack, content: bytes, filename: str, **fields):
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return call(stack.urls["upload"] + "/", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def follow(status_url: str, timeout: float = 120) -> list[dict]:
    """Poll the status endpoint until the job ends; every distinct answer, in order."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, _, body = call(status_url)
        if not seen or (body["status"], body.get("progress")) != (seen[-1]["status"], seen[-1].get("progress")):
            seen.append(body)
        if body["status"] in ("finished", "failed"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the job did not end in {timeout}s: {seen[-1]}")


def scanned_pdf(seed: int, pages: int) -> bytes:
    """A receipt scanned into a PDF of `pages` image pages: OCR page by page, progress rises."""
    from PIL import Image

    receipt = receipts.sample_receipt(seed, layout="nubank")
    page = Image.open(io.BytesIO(receipts.render_png(receipt, "nubank"))).convert("RGB")
    out = io.BytesIO()
    page.save(out, "PDF", save_all=True, append_images=[page] * (pages - 1))
    return receipt, out.getvalue()


def started_count(stack, job_id: str) -> int:
    logs = stack.log("ocr") + stack.log("worker") + stack.log("worker-2")
    return sum(1 for line in logs.splitlines() if '"job_started"' in line and job_id in line)


def test_upload_answers_202_and_the_job_goes_queued_started_finished(stack):
    receipt, pdf = scanned_pdf(10, pages=3)
    status, headers, body = upload(stack, pdf, "scan.pdf")
    assert status == 202 and body["status"] == "queued" and body["processing"] == "queued"
    assert headers["Location"] == body["status_url"]
    seen = follow(body["status_url"])
    started = [s["progress"] for s in seen if s["status"] == "started"]
    assert len(started) >= 2 and started == sorted(started), seen
    final = seen[-1]
    assert final["status"] == "finished", final
    assert final["result"]["data"]["amount"] == receipt.amount
    assert final["result"]["data"]["transaction_id"] == receipt.transaction_id
    assert final["attempts"] == 1


def test_the_stack_serves_prometheus_metrics_where_jobs_run(stack):
    receipt = receipts.sample_receipt(12, layout="itau")
    _, _, body = upload(stack, receipts.render_png(receipt, "itau"), "r.png")
    assert follow(body["status_url"])[-1]["status"] == "finished"
    # The job ran in the RQ worker or in the OCR function (Cloud Tasks): that process counts it.
    runner = stack.urls["worker-metrics"] if stack.queue == "rq" else stack.urls["ocr"] + "/metrics"
    with urllib.request.urlopen(runner, timeout=10) as response:
        ran = response.read().decode()
    assert re.search(r"^receipts_jobs_finished_total [1-9]", ran, re.MULTILINE), ran
    assert re.search(r"^receipts_job_duration_seconds_count [1-9]", ran, re.MULTILINE)
    with urllib.request.urlopen(stack.urls["upload"] + "/metrics", timeout=10) as response:
        uploaded = response.read().decode()
    assert re.search(r"^receipts_jobs_queued_total [1-9]", uploaded, re.MULTILINE)
    assert re.search(r"^receipts_queue_depth \d", uploaded, re.MULTILINE)


def test_the_same_task_delivered_five_times_at_once_is_processed_once(stack):
    receipt, pdf = scanned_pdf(11, pages=2)
    _, _, body = upload(stack, pdf, "scan.pdf")
    job_id = body["job_id"]
    task = json.dumps({"job_id": job_id}).encode()
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        answers = list(
            pool.map(lambda _: call(stack.urls["ocr"] + "/", task, {"Content-Type": "application/json"}), range(5))
        )
    codes = sorted(status for status, _, _ in answers)
    assert set(codes) <= {200, 503}, answers
    for status, headers, answer in answers:
        if status == 503:
            assert answer["code"] == "job_in_progress" and int(headers["Retry-After"]) >= 1
    final = follow(body["status_url"])[-1]
    assert final["status"] == "finished" and final["attempts"] == 1
    assert final["result"]["data"]["transaction_id"] == receipt.transaction_id
    assert started_count(stack, job_id) == 1
    # A delivery after the end changes nothing and says so with 200.
    status, _, again = call(stack.urls["ocr"] + "/", task, {"Content-Type": "application/json"})
    assert status == 200 and again == final


def test_a_permanent_failure_fails_once_and_is_not_retried(stack):
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (500, 300), (250, 250, 250)).save(blank, "PNG")
    _, _, body = upload(stack, blank.getvalue(), "blank.png")
    final = follow(body["status_url"])[-1]
    assert final["status"] == "failed" and final["error_code"] == "no_receipt_found"
    assert "PIX" in final["error"]
    time.sleep(2)  # a retry, if there were one, would have come by now
    _, _, later = call(body["status_url"])
    assert later["attempts"] == 1 and started_count(stack, body["job_id"]) == 1


def test_a_worker_killed_mid_job_is_taken_over_after_the_lease(stack):
    victim = "worker" if stack.queue == "rq" else "ocr"
    receipt, pdf = scanned_pdf(12, pages=6)
    status, _, body = upload(stack, pdf, "scan.pdf")
    assert status == 202, body
    deadline = time.monotonic() + 60
    while call(body["status_url"])[2]["status"] != "started":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stack.kill(victim)
    time.sleep(1)
    _, _, orphan = call(body["status_url"])
    assert orphan["status"] == "started"  # nobody works on it, but its lease still runs
    stack.start(victim)
    final = follow(body["status_url"], timeout=180)[-1]
    assert final["status"] == "finished", final
    assert final["attempts"] == 2
    assert final["result"]["data"]["transaction_id"] == receipt.transaction_id


def test_webhooks_arrive_once_signed_are_retried_and_never_touch_the_ocr_result(stack, webhook_receiver):
    from common import notify

    scripts = {"ok": [200], "flaky": [500, 502, 200], "down": [503]}
    urls = {name: webhook_receiver.url(f"stack-{name}", script) for name, script in scripts.items()}
    jobs = {}
    for seed, (name, url) in enumerate(urls.items(), start=20):
        receipt, pdf = scanned_pdf(seed, pages=1)
        status, _, body = upload(stack, pdf, "scan.pdf", callback_url=url, pedido_id=f"order-{name}")
        assert status == 202, body
        jobs[name] = (receipt, body["status_url"])
    finals = {}
    for name, (receipt, status_url) in jobs.items():
        deadline = time.monotonic() + 120
        while True:
            _, _, final = call(status_url)
            if final.get("notification", {}).get("status") in ("delivered", "failed"):
                break
            assert time.monotonic() < deadline, final
            time.sleep(0.2)
        assert final["status"] == "finished" and final["result"]["data"]["transaction_id"] == receipt.transaction_id
        finals[name] = final
    time.sleep(1.5)  # a stray extra delivery, if any, would land now
    [ok] = webhook_receiver.received(urls["ok"])
    headers = ok["headers"]
    assert notify.verify(WEBHOOK_SECRET, headers["X-Timestamp"], ok["body"], headers["X-Signature"])
    status_json = {k: v for k, v in finals["ok"].items() if k != "notification"}
    assert json.loads(ok["body"]) == status_json
    assert finals["ok"]["notification"] == {
        "status": "delivered",
        "attempts": 1,
        "last_status_code": 200,
        "delivered_at": finals["ok"]["notification"]["delivered_at"],
    }
    flaky = webhook_receiver.received(urls["flaky"])
    assert len(flaky) == 3 and len({r["headers"]["X-Delivery-Id"] for r in flaky}) == 1
    assert finals["flaky"]["notification"]["status"] == "delivered" and finals["flaky"]["notification"]["attempts"] == 3
    assert len(webhook_receiver.received(urls["down"])) == 3
    assert finals["down"]["notification"] == {
        "status": "failed",
        "attempts": 3,
        "last_status_code": 503,
        "delivered_at": None,
    }


def test_with_the_queue_stopped_the_upload_falls_back_to_inline(stack):
    stack.kill("redis" if stack.queue == "rq" else "tasks-emulator")
    receipt, pdf = scanned_pdf(13, pages=1)
    status, _, body = upload(stack, pdf, "scan.pdf")
    assert status == 200 and body["processing"] == "inline_fallback"
    assert body["status"] == "finished"
    assert body["result"]["data"]["transaction_id"] == receipt.transaction_id
    assert '"event": "queue_unavailable_fallback"' in stack.log("upload")


def test_make_up_pix_fake_confirms_the_sample_and_not_the_unpaid_one(tmp_path):
    """`make up PIX=fake` then `make run STACK=local FILE=...` (issue 18's first Must show), and
    the unpaid sample's Pix arriving later through the fake PSP's webhook."""
    import subprocess
    import sys

    from tests.helpers import ROOT
    from tools import fakepsp

    state_dir = os.path.join(TEST_OUTPUT, f"stack-pix-{uuid.uuid4().hex[:6]}")
    stack = need(lambda: Stack(state_dir, "cloudtasks", pix="fake").up())
    try:

        def run(path: str) -> dict:
            out = subprocess.run(
                [sys.executable, os.path.join(ROOT, "scripts", "run_local.py"), path, "--stack", state_dir],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert out.returncode == 0, out.stderr[-2000:]
            return json.loads(out.stdout)

        paid = run("samples/receipt.png")
        assert paid["status"] == "finished"
        assert paid["result"]["data"]["validacao_pagamento"]["confirmed"] is True
        unpaid = run("samples/receipt_inter.png")
        data = unpaid["result"]["data"]
        assert data["validacao_pagamento"]["confirmed"] is False
        assert data["needs_review"] is True and "payment_not_found" in data["review_reasons"]
        pushed = fakepsp.arrive(os.path.join(state_dir, "fakepsp"), "inter", 0)
        assert pushed["callbacks"] == [{"status": 200}]
        _, _, status = call(f"{stack.urls['status']}/jobs/{unpaid['job_id']}/status")
        assert status["result"]["data"]["validacao_pagamento"]["confirmed"] is True
    finally:
        stack.down()
