"""End to end on the full local stack (tools/stack.py, what `make up` runs): the Cloud Storage
and Firestore emulators, the three functions under functions-framework, the reconciler, and
either the Cloud Tasks emulator or a real Redis with `worker.py`. Each queue mode gets its own
stack for the module; the test that stops the queue runs last."""

import concurrent.futures
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.helpers import ROOT, TEST_OUTPUT, need
from tools import emulators, receipts
from tools.stack import Stack

pytestmark = [pytest.mark.emulator, pytest.mark.slow]  # the whole local stack, each queue mode
LEASE_SECONDS = (
    15  # short, so a dead worker's job is taken over in seconds; long enough for a page of OCR on a busy machine
)
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


def test_make_up_pix_fake_confirms_the_sample_and_not_the_unpaid_one(tmp_path):
    """`make up PIX=fake` then `make run STACK=local FILE=...` (issue 18's first Must show), and
    the unpaid sample's Pix arriving later through the fake PSP's webhook."""
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


# --- `make up` interrupted, `make down`, and the next `make up` ----------------------------------


def _holding(log_dir: str) -> list[int]:
    """The PIDs of every process with a file open in the stack's log folder: each process the
    stack starts (and the children it forks, java under its wrapper) writes its log there."""
    holders = []
    real = os.path.realpath(log_dir)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(real + os.sep):
                holders.append(int(pid))
                break
    return holders


def _stack_command(*args: str, **kwargs) -> subprocess.Popen:
    # `make up` runs this; in its own process group, as a terminal runs it, so a SIGINT to the
    # group is a Ctrl-C (the stack's own processes are in groups of their own).
    return subprocess.Popen(
        [sys.executable, "-m", "tools.stack", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,
    )


def _make_down(state_dir: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "-C", ROOT, "down", f"STACK_DIR={state_dir}"], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def state_dir():
    path = os.path.join(TEST_OUTPUT, f"stack-sigint-{uuid.uuid4().hex[:6]}")
    yield path
    if os.path.exists(os.path.join(path, "stack.json")):
        Stack.load(path).down()


@pytest.mark.parametrize("after", [0.5, 1.5, 3, 6, 10])  # from the first emulator to the functions
def test_ctrl_c_at_any_moment_of_make_up_then_make_down_leaves_no_process(state_dir, after):
    need(emulators.firestore_jar)
    log_dir = os.path.join(state_dir, "logs")
    up = _stack_command("up", "--state-dir", state_dir)
    time.sleep(after)
    spawned = set(_holding(log_dir)) if os.path.isdir(log_dir) else set()
    os.killpg(up.pid, signal.SIGINT)
    out, err = up.communicate(timeout=120)
    assert "Traceback" not in err, err
    if up.returncode == 130:
        assert "interrupted (Ctrl-C)" in err
    else:  # it was up before the signal came
        assert up.returncode == 0, err
    down = _make_down(state_dir)
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 15
    while _holding(log_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _holding(log_dir) == [], f"still running after make down (seen before the signal: {sorted(spawned)})"
    assert not any(os.path.exists(f"/proc/{pid}") and _holding(log_dir) for pid in spawned)


def test_after_an_interrupted_make_up_the_next_one_starts_and_signs_webhooks(state_dir, webhook_receiver, monkeypatch):
    from common import notify

    need(emulators.firestore_jar)
    monkeypatch.delenv("WEBHOOK_SECRETS", raising=False)  # as a newcomer runs it: no secret exported
    up = _stack_command("up", "--state-dir", state_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # interrupt it once the Firestore emulator is recorded
        path = os.path.join(state_dir, "stack.json")
        if os.path.exists(path) and "firestore-emulator" in open(path).read():
            break
        time.sleep(0.05)
    os.killpg(up.pid, signal.SIGINT)
    up.communicate(timeout=120)
    assert _make_down(state_dir).returncode == 0
    again = _stack_command("up", "--state-dir", state_dir)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    stack = Stack.load(state_dir)
    assert call(stack.urls["status"] + "/jobs")[0] == 200
    [secret] = re.findall(r"signed with this stack's secret: (\S+)", out)
    # A webhook works out of the box, signed with the secret `make up` printed.
    url = webhook_receiver.url("newcomer", [200])
    receipt = receipts.sample_receipt(33, layout="itau")
    status, _, body = upload(stack, receipts.render_pdf(receipt, "itau"), "r.pdf", callback_url=url)
    assert status == 202, body
    deadline = time.monotonic() + 120
    while not webhook_receiver.received(url):
        assert time.monotonic() < deadline, call(body["status_url"])[2]
        time.sleep(0.2)
    [delivery] = webhook_receiver.received(url)
    headers = delivery["headers"]
    assert notify.verify(secret, headers["X-Timestamp"], delivery["body"], headers["X-Signature"])
    down = _make_down(state_dir)
    assert (down.returncode, down.stdout.strip()) == (0, "stack stopped")
    assert _holding(os.path.join(state_dir, "logs")) == []


# --- the stack's page, in a browser ---------------------------------------------------------------


PAGE_RECEIPT = receipts.sample_receipt(31, layout="inter")


def test_the_stacks_page_uploads_a_receipt_and_shows_its_result(stack, browser):
    from playwright.sync_api import expect

    if stack.queue != "cloudtasks":
        pytest.skip("one queue mode is enough for the page")
    context = browser.new_context(viewport={"width": 900, "height": 1000}, locale="pt-BR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(stack.urls["status"] + "/")
        expect(page.locator("#not-configured")).to_be_hidden()
        page.get_by_label("Escolha ou arraste o comprovante").set_input_files(
            {"name": "stack.png", "mimeType": "image/png", "buffer": receipts.render_png(PAGE_RECEIPT, "inter")}
        )
        page.get_by_role("button", name="Enviar").click()
        expect(page.locator("#job-state")).to_have_text("Concluído", timeout=180_000)
        expect(page.locator("#f-transaction")).to_have_text(PAGE_RECEIPT.transaction_id)
        page.screenshot(path=os.path.join(TEST_OUTPUT, "stack-page-finished.png"), full_page=True)
    finally:
        context.close()
    assert not errors, errors


def test_ctrl_c_during_make_run_stack_local_says_so_without_a_traceback(stack, tmp_path):
    _, pdf = scanned_pdf(35, pages=6)  # OCR of six scanned pages: the job runs well after the upload
    path = tmp_path / "scan.pdf"
    path.write_bytes(pdf)
    running = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "scripts", "run_local.py"), str(path), "--stack", stack.state_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen = ""
    while "202:" not in seen:  # interrupted once it has uploaded and follows the job
        line = running.stderr.readline()
        assert line, f"it ended before following the job: {seen}"
        seen += line
    os.killpg(running.pid, signal.SIGINT)
    _, err = running.communicate(timeout=60)
    err = seen + err
    assert running.returncode == 130, err
    assert "Traceback" not in err and "interrupted (Ctrl-C)" in err
    assert stack.running()  # the stack is not the command's to stop


# Last in the module: it stops the shared stack's queue, which every later test would run without.
def test_with_the_queue_stopped_the_upload_falls_back_to_inline(stack):
    stack.kill("redis" if stack.queue == "rq" else "tasks-emulator")
    receipt, pdf = scanned_pdf(13, pages=1)
    status, _, body = upload(stack, pdf, "scan.pdf")
    assert status == 200 and body["processing"] == "inline_fallback"
    assert body["status"] == "finished"
    assert body["result"]["data"]["transaction_id"] == receipt.transaction_id
    assert '"event": "queue_unavailable_fallback"' in stack.log("upload")
