"""The command line, run as a user would: a real process from the repo root; `upload` against
the real upload and status functions and against a scripted busy server."""

import http.server
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from tests.helpers import ROOT, LocalFunctions, blank_png


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "common.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_the_console_command_of_pyproject_runs_the_same_cli(monkeypatch, capsys):
    import importlib
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        target = tomllib.load(f)["project"]["scripts"]["pix-receipts"]
    module, _, name = target.partition(":")
    command = getattr(importlib.import_module(module), name)
    monkeypatch.setattr(sys, "argv", ["pix-receipts", "--help"])
    with pytest.raises(SystemExit) as stopped:
        command()
    shown = capsys.readouterr().out
    assert (
        stopped.value.code == 0 and shown.startswith("usage: pix-receipts") and "{extract,upload,erase,review}" in shown
    )


def test_extract_prints_one_json_object_per_file(tmp_path, sample):
    png, pdf = tmp_path / "a.png", tmp_path / "b.pdf"
    png.write_bytes(sample["png"])
    pdf.write_bytes(sample["pdf"])
    done = run_cli("extract", "--json", str(png), str(pdf))
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["file"] for r in results] == [str(png), str(pdf)]
    for result in results:
        assert result["amount"] == sample["receipt"].amount
        assert result["transaction_id"] == sample["receipt"].transaction_id
        assert result["receiver"]["name"]
    assert results[1]["text_source"] == "pdf_text"


def test_extract_reports_a_bad_file_and_exits_non_zero(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    done = run_cli("extract", str(bad), str(tmp_path / "missing.png"))
    assert done.returncode == 1
    decoder, text, results = json.JSONDecoder(), done.stdout, []
    while text.strip():
        obj, end = decoder.raw_decode(text.lstrip())
        results.append(obj)
        text = text.lstrip()[end:]
    assert [r["code"] for r in results] == ["mime_not_allowed", "unreadable_file"]


# --- upload: against the real functions, and against a scripted busy server ------------------


def run_upload(*args, **env):
    full_env = {**os.environ, "UPLOAD_URL": "", "API_KEY": "", **env}
    return subprocess.run(
        [sys.executable, "-m", "common.cli", "upload", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=full_env,
    )


@pytest.fixture(scope="module")
def functions(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cli")
    running = LocalFunctions(str(workdir))
    # status_url is then the status function's own URL, as in a deployment.
    running.env["STATUS_BASE_URL"] = running.urls["status"]
    yield running.start()
    running.stop()


def test_upload_two_files_and_wait_prints_their_final_status(functions, tmp_path, sample):
    png, pdf = tmp_path / "a.png", tmp_path / "b.pdf"
    png.write_bytes(sample["png"])
    pdf.write_bytes(sample["pdf"])
    done = run_upload(str(png), str(pdf), "--wait", "--json", UPLOAD_URL=functions.urls["upload"] + "/")
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["file"] for r in results] == [str(png), str(pdf)]
    for result in results:
        assert result["status"] == "finished"
        assert result["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
        assert "processing" not in result  # the status function's answer, not the upload's
    assert results[0]["job_id"] != results[1]["job_id"]
    assert "a.png" in done.stderr and "100% finished" in done.stderr


def test_upload_reports_a_refused_file_and_a_failed_job_and_exits_non_zero(functions, tmp_path):
    bad, blank = tmp_path / "virus.exe", tmp_path / "blank.png"
    bad.write_bytes(b"MZ\x90\x00")
    blank.write_bytes(blank_png())
    done = run_upload(str(bad), str(blank), "--url", functions.urls["upload"], "--wait", "--json")
    assert done.returncode == 1
    refused, failed = [json.loads(line) for line in done.stdout.splitlines()]
    assert refused["file"] == str(bad) and refused["code"] == "extension_not_allowed" and refused["error"]
    assert failed["status"] == "failed" and failed["error_code"] == "no_receipt_found" and failed["error"]
    without_wait = run_upload(str(bad), "--url", functions.urls["upload"])
    assert without_wait.returncode == 1 and json.loads(without_wait.stdout)["code"] == "extension_not_allowed"


def test_erase_deletes_a_job_and_its_receipt_and_reports_an_unknown_one(functions, tmp_path, sample):
    import hashlib
    import urllib.error
    import urllib.request

    jpeg = tmp_path / "e.jpg"
    jpeg.write_bytes(sample["jpeg"])
    job_id = json.loads(run_upload(str(jpeg), "--json", UPLOAD_URL=functions.urls["upload"] + "/").stdout)["job_id"]
    blob = f"{hashlib.sha256(sample['jpeg']).hexdigest()}.jpg"
    assert blob in os.listdir(functions.env["LOCAL_BLOB_DIR"])
    unknown = "0" * 32
    done = run_cli("erase", job_id, unknown, "--status-base", functions.urls["status"])
    assert done.returncode == 1, done.stderr
    erased, missing = [json.loads(line) for line in done.stdout.splitlines()]
    assert erased == {"job_id": job_id, "erased": True}
    assert missing["job_id"] == unknown and missing["erased"] is False and missing["code"] == "job_not_found"
    assert blob not in os.listdir(functions.env["LOCAL_BLOB_DIR"])
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(f"{functions.urls['status']}/jobs/{job_id}/status", timeout=10)
    assert gone.value.code == 404
    assert run_cli("erase", job_id).returncode == 2  # no status function URL


def test_review_lists_the_queue_and_corrects_approves_and_refuses(functions, tmp_path):
    from tools import receipts

    receipt = receipts.sample_receipt(7, layout="nubank")
    first, second = tmp_path / "first.pdf", tmp_path / "second.pdf"
    first.write_bytes(receipts.render_pdf(receipt, "nubank"))
    second.write_bytes(receipts.render_pdf(receipt, "inter"))  # the same payment: flagged duplicate_transaction
    uploaded = run_upload(str(first), str(second), "--json", UPLOAD_URL=functions.urls["upload"] + "/")
    job_id = [json.loads(line) for line in uploaded.stdout.splitlines()][1]["job_id"]
    base = ("--status-base", functions.urls["status"])
    listed = run_cli("review", "list", *base)
    assert listed.returncode == 0, listed.stderr
    queue = {line["job_id"]: line for line in map(json.loads, listed.stdout.splitlines())}
    assert queue[job_id]["review_reasons"] == ["duplicate_transaction"]
    assert queue[job_id]["amount"] == receipt.amount and queue[job_id]["transaction_id"] == receipt.transaction_id
    refused = run_cli("review", "correct", job_id, "--amount", "-1", *base)
    assert refused.returncode == 1 and json.loads(refused.stdout)["code"] == "invalid_amount"
    assert run_cli("review", "approve", job_id, "--amount", "3", *base).returncode == 2  # approve takes no field
    assert run_cli("review", "approve", *base).returncode == 2  # no job
    done = run_cli(
        "review", "correct", job_id, "--amount", "1.234,50", "--receiver-name", "Loja Exemplo", "--note", "ok", *base
    )
    assert done.returncode == 0, done.stdout + done.stderr
    shown = json.loads(done.stdout)
    assert shown["result"]["data"]["amount"] == 1234.5 and shown["result"]["data"]["receiver"]["name"] == "Loja Exemplo"
    assert shown["review"]["changes"]["amount"] == [receipt.amount, 1234.5] and shown["review"]["note"] == "ok"
    again = run_cli("review", "reject", job_id, "--reviewer", "ana", "--json", *base)
    assert json.loads(again.stdout)["review"]["history"][0]["decision"] == "correct"
    after = [json.loads(line)["job_id"] for line in run_cli("review", "list", *base).stdout.splitlines()]
    assert job_id not in after
    assert run_cli("review", "list").returncode == 2  # no status function URL


def test_upload_needs_a_url():
    done = run_upload("samples/receipt.png")
    assert done.returncode == 2 and "UPLOAD_URL" in done.stderr


class Scripted(http.server.BaseHTTPRequestHandler):
    """A busy pipeline: the upload answers 429 once, then 202; the status answers queued, 503,
    started 50%, finished. Each answer's time and API key are recorded."""

    job_id = "f" * 32
    script: dict[str, list] = {}
    seen: list[tuple[str, float, str | None]] = []

    def _answer(self):
        self.seen.append((self.command, time.monotonic(), self.headers.get("X-API-Key")))
        code, body, headers = self.script[self.command].pop(0)
        data = json.dumps(body).encode()
        self.send_response(code)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer()

    do_GET = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def busy_server():
    status_url = f"/jobs/{Scripted.job_id}/status"
    base = {"job_id": Scripted.job_id, "created_at": "2026-01-01T00:00:00.000+00:00"}
    Scripted.seen = []
    Scripted.script = {
        "POST": [
            (429, {"error": "slow down", "code": "rate_limited"}, {"Retry-After": "1"}),
            (202, {**base, "status": "queued", "status_url": status_url}, {"Location": status_url}),
        ],
        "GET": [
            (200, {**base, "status": "queued"}, {}),
            (503, {"error": "busy", "code": "backend_unavailable"}, {"Retry-After": "1"}),
            (200, {**base, "status": "started", "progress": 50}, {}),
            (200, {**base, "status": "finished", "result": {"success": True, "data": {"amount": 1.5}}}, {}),
        ],
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_upload_retries_busy_answers_after_retry_after_and_follows_the_job(busy_server, tmp_path, sample):
    png = tmp_path / "a.png"
    png.write_bytes(sample["png"])
    done = run_upload(
        str(png), "--wait", "--json", UPLOAD_URL=busy_server, API_KEY="k-123", STATUS_BASE_URL=busy_server
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "finished"
    methods = [m for m, _, _ in Scripted.seen]
    assert methods == ["POST", "POST", "GET", "GET", "GET", "GET"]
    times = [t for _, t, _ in Scripted.seen]
    assert times[1] - times[0] >= 0.95 and times[4] - times[3] >= 0.95  # Retry-After: 1 both times
    assert {key for _, _, key in Scripted.seen} == {"k-123"}
    assert "rate_limited: trying again in 1 s" in done.stderr
    assert " 50% started" in done.stderr and "100% finished" in done.stderr


def test_upload_cannot_follow_a_path_status_url_without_the_status_functions_url(busy_server, tmp_path, sample):
    png = tmp_path / "a.png"
    png.write_bytes(sample["png"])
    Scripted.script["POST"].pop(0)  # straight to the 202 with status_url as a path
    done = run_upload(str(png), "--wait", "--json", "--url", busy_server)
    assert done.returncode == 1
    answer = json.loads(done.stdout)
    assert answer["code"] == "no_status_base" and "--status-base" in answer["error"] and answer["status"] == "queued"
