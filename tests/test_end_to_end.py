"""End to end with real processes: `scripts/run_local.py` (what `make run` calls) starts the
upload and status functions under functions-framework and takes a receipt through them; and the
real HTTP server refuses oversized bodies with JSON while staying up."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from common import blobstore, job, jobstore, validation
from tests.helpers import ROOT, LocalFunctions, post_file
from tools import emulators, receipts


def run_local(tmp_path, path, *args, **env):
    full_env = {
        **os.environ,
        "INLINE_RECOVERY_SECONDS": "30",
        "LOCAL_BLOB_DIR": str(tmp_path / "blobs"),
        "SQLITE_PATH": str(tmp_path / "jobs.sqlite3"),
        **env,
    }
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "run_local.py"), str(path), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


@pytest.mark.slow  # make run: two functions as real processes and OCR
def test_run_local_prints_the_finished_status_of_a_receipt(tmp_path, sample):
    path = tmp_path / "comprovante.png"
    path.write_bytes(sample["png"])
    receiver_key = sample["receipt"].receiver_pix_key
    upload_log = os.path.join(ROOT, "var", "upload.log")
    logged_before = os.path.getsize(upload_log) if os.path.exists(upload_log) else 0
    done = run_local(tmp_path, path, "--pedido-id", "PED-1", EXPECTED_RECEIVER_PIX_KEYS=receiver_key)
    assert done.returncode == 0, done.stderr
    with open(upload_log, errors="replace") as f:
        f.seek(logged_before)
        assert "upload_rejected" not in f.read()  # the readiness probe sends no request
    status = json.loads(done.stdout)
    assert status["status"] == "finished" and status["pedido_id"] == "PED-1"
    assert status["result"]["data"]["amount"] == sample["receipt"].amount
    assert status["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
    assert status["result"]["data"]["validacao_recebedor"]["valid"] is True


def test_run_local_reports_a_rejected_file_and_fails(tmp_path):
    path = tmp_path / "malware.exe"
    path.write_bytes(b"MZ\x90\x00")
    done = run_local(tmp_path, path)
    assert done.returncode == 1
    assert json.loads(done.stdout)["code"] == "extension_not_allowed"


def test_the_bundled_sample_is_what_the_generator_makes():
    made = receipts.render_png(receipts.sample_receipt(0, layout="nubank"), "nubank")
    with open(os.path.join(ROOT, "samples", "receipt.png"), "rb") as f:
        assert f.read() == made, "samples/ is stale: run `make samples`"


@pytest.mark.parametrize(
    "size, chunked, code",
    [
        (16 * 1024 * 1024 + 1, False, "file_too_large"),
        (20 * 1024 * 1024, False, "request_too_large"),
        (20 * 1024 * 1024, True, "file_too_large"),
    ],
)
def test_the_real_server_refuses_oversized_bodies_with_json(upload_server, tmp_path, size, chunked, code):
    status, body = post_file(upload_server, size, chunked)
    assert (status, body["code"]) == (413, code)
    assert not (tmp_path / "blobs").exists() or os.listdir(tmp_path / "blobs") == []
    # ...and is still up for the next request.
    assert post_file(upload_server, 10) == (
        415,
        {"error": "The content is application/octet-stream, not a JPEG, PNG or PDF.", "code": "mime_not_allowed"},
    )


def _group_alive(pgid: int) -> list[int]:
    """The PIDs still in process group `pgid` (what a terminal's Ctrl-C signals)."""
    alive = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                alive.append(int(entry))
    return alive


def _start_run_local(tmp_path, path, **env):
    full_env = {
        **os.environ,
        "LOCAL_BLOB_DIR": str(tmp_path / "blobs"),
        "SQLITE_PATH": str(tmp_path / "jobs.sqlite3"),
        **env,
    }
    # Its own process group, as a terminal runs `make run`: SIGINT to the group is Ctrl-C.
    return subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "scripts", "run_local.py"), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        start_new_session=True,
    )


def _wait_for(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow  # make run, stopped with Ctrl-C while the job runs, then run again
def test_ctrl_c_during_make_run_then_make_run_again_processes_the_file(tmp_path, sample):
    path = tmp_path / "comprovante.png"
    path.write_bytes(sample["png"])
    store_path = tmp_path / "jobs.sqlite3"

    def started():
        return store_path.exists() and bool(jobstore.SqliteJobStore(str(store_path)).list(status="started"))

    running = _start_run_local(tmp_path, path)
    assert _wait_for(started), "the job never started"
    os.killpg(running.pid, signal.SIGINT)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "interrupted (Ctrl-C)" in err
    assert _group_alive(running.pid) == []  # neither function is left running
    # The stopped upload function either ended the job on its way out, or run_local marked it
    # failed (interrupted): nothing is left queued or started for a lease to hold up.
    [stopped] = jobstore.SqliteJobStore(str(store_path)).list()
    assert stopped["status"] == "finished" or (stopped["status"], stopped["error_code"]) == ("failed", "interrupted")
    assert ("marked failed (interrupted)" in err) == (stopped["status"] == "failed")

    again = run_local(tmp_path, path)
    assert again.returncode == 0, again.stderr
    status = json.loads(again.stdout)
    assert status["status"] == "finished"
    assert status["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.3, 1.5])  # while the functions start, while it waits for them
def test_ctrl_c_before_the_upload_leaves_nothing_running_and_no_traceback(tmp_path, sample, after):
    path = tmp_path / "comprovante.png"
    path.write_bytes(sample["png"])
    running = _start_run_local(tmp_path, path)
    time.sleep(after)
    os.killpg(running.pid, signal.SIGINT)
    _, err = running.communicate(timeout=60)
    assert running.returncode == 130, err
    assert "Traceback" not in err and "interrupted (Ctrl-C)" in err
    assert _wait_for(lambda: _group_alive(running.pid) == [], 15)


def test_make_run_of_a_mistyped_file_says_so_and_starts_nothing(tmp_path):
    done = run_local(tmp_path, tmp_path / "recibo.pgn")
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"make run: no such file: {tmp_path / 'recibo.pgn'} (FILE= takes a .jpg, .jpeg, .png or .pdf)"
    )
    assert not (tmp_path / "jobs.sqlite3").exists()


def test_make_run_with_keys_required_but_none_set_says_so_in_one_line(tmp_path, sample):
    path = tmp_path / "comprovante.png"
    path.write_bytes(sample["png"])
    done = run_local(tmp_path, path, REQUIRE_API_KEY="true", API_KEY_HASHES="")
    assert done.returncode == 1
    assert done.stderr.strip().startswith(
        "make run: REQUIRE_API_KEY is true but API_KEY_HASHES and TENANTS name no key"
    )
    assert "Traceback" not in done.stderr


def test_make_run_stack_local_without_a_running_stack_says_so(tmp_path, sample):
    path = tmp_path / "comprovante.png"
    path.write_bytes(sample["png"])
    state = tmp_path / "stack"
    state.mkdir()
    # What `make down` leaves: the state of a stack whose processes are gone.
    (state / "stack.json").write_text(
        json.dumps({"queue": "cloudtasks", "urls": {"upload": "http://127.0.0.1:9"}, "processes": {}, "env": {}})
    )
    done = run_local(tmp_path, path, "--stack", str(state))
    assert (done.returncode, done.stderr.strip()) == (1, "no local stack is running: start it with `make up`")


@pytest.mark.slow  # the upload function as a real process, with the embedded mode's recovery thread
def test_the_embedded_mode_runs_a_stopped_job_again_by_itself(tmp_path, sample):
    functions = LocalFunctions(str(tmp_path), INLINE_RECOVERY_SECONDS="1", JOB_LEASE_SECONDS="30")
    store = functions.store()
    blobs = blobstore.LocalBlobStore(functions.env["LOCAL_BLOB_DIR"])
    sha = validation.calculate_file_hash(io.BytesIO(sample["png"]))
    name = validation.generate_secure_filename(sha, "image/png")
    blobs.put(name, io.BytesIO(sample["png"]), "image/png")
    doc, _ = store.create(job.new_job(sha256=sha, blob_name=name, content_type="image/png", size=len(sample["png"])))
    stopped = job.now() - timedelta(seconds=31)
    store.update(doc["job_id"], lambda d: job.claim(d, stopped, 30))  # an attempt killed 31 s ago
    functions.start()
    try:
        assert _wait_for(lambda: store.get(doc["job_id"])["status"] == "finished", 120)
        done = store.get(doc["job_id"])
        assert done["attempts"] == 2 and done["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
    finally:
        functions.stop()
    with open(os.path.join(functions.logs, "web-upload.log")) as f:
        assert '"taken_over": 1' in f.read()


@pytest.mark.slow  # make run of every bundled sample, one after the other, in one embedded store
def test_every_sample_in_a_row_is_a_payment_of_its_own(tmp_path):
    seen = set()
    for name in sorted(os.listdir(os.path.join(ROOT, "samples"))):
        done = run_local(tmp_path, os.path.join(ROOT, "samples", name))
        assert done.returncode == 0, (name, done.stderr)
        status = json.loads(done.stdout)
        data = status["result"]["data"]
        assert "duplicate_of" not in data and "note:" not in done.stderr, (name, done.stderr)
        seen.add(data["transaction_id"])
    assert len(seen) == 5
    # Once more: the same file again is said to be a duplicate, and why.
    again = run_local(tmp_path, os.path.join(ROOT, "samples", "receipt.png"))
    assert "note: these exact bytes were uploaded before" in again.stderr


@pytest.mark.slow
def test_a_second_file_of_one_payment_is_said_to_be_why_it_is_flagged(tmp_path, sample):
    (tmp_path / "a.png").write_bytes(sample["png"])
    (tmp_path / "a.pdf").write_bytes(sample["pdf"])
    first = run_local(tmp_path, tmp_path / "a.png")
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_local(tmp_path, tmp_path / "a.pdf")
    assert json.loads(second.stdout)["result"]["data"]["duplicate_of"]
    assert "note: the same payment (end-to-end id) was already seen in job" in second.stderr


@pytest.mark.parametrize("name, target", [("upload", "upload_receipt"), ("status", "job_status")])
def test_a_function_started_by_hand_with_keys_required_but_none_set_says_so_in_one_line(name, target):
    """The README's commands start the functions by hand: a setting they cannot use stops them with
    its message, not a traceback ending in it."""
    framework = os.path.join(os.path.dirname(sys.executable), "functions-framework")
    source = os.path.join(ROOT, "functions", name, "main.py")
    argv = [framework, "--target", target, "--source", source, "--host", "127.0.0.1", "--port", "0"]
    env = {**os.environ, "PYTHONPATH": ROOT, "REQUIRE_API_KEY": "true", "API_KEY_HASHES": ""}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "configuration error: REQUIRE_API_KEY is true but API_KEY_HASHES and TENANTS name no key: set the"
        " SHA-256 of your API keys, or REQUIRE_API_KEY=false for a local run"
    ]


def test_make_run_starts_a_function_that_lost_its_port_again_on_another(tmp_path, monkeypatch):
    import importlib.util
    import socket

    spec = importlib.util.spec_from_file_location("run_local", os.path.join(ROOT, "scripts", "run_local.py"))
    run_local_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_local_module)
    taken = socket.socket()  # another process got the upload function's port first
    taken.bind(("127.0.0.1", 0))
    lost = taken.getsockname()[1]
    picks = iter([lost])
    monkeypatch.setattr(run_local_module, "free_port", lambda: next(picks, None) or emulators.free_port())
    env = {**os.environ, "PYTHONPATH": ROOT, "SQLITE_PATH": str(tmp_path / "j.db"), "LOCAL_BLOB_DIR": str(tmp_path)}
    processes = {}
    try:
        ports = run_local_module.start_functions(env, processes)
        assert ports["upload"] != lost
        for port in ports.values():
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        taken.close()
        run_local_module.stop(processes)
