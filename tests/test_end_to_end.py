"""End to end with real processes: `scripts/run_local.py` (what `make run` calls) starts the
upload and status functions under functions-framework and takes a receipt through them; and the
real HTTP server refuses oversized bodies with JSON while staying up."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, post_file
from tools import receipts


def run_local(tmp_path, path, *args, **env):
    full_env = {
        **os.environ,
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
    done = run_local(tmp_path, path, "--pedido-id", "PED-1", EXPECTED_RECEIVER_PIX_KEYS=receiver_key)
    assert done.returncode == 0, done.stderr
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
