"""`make package`: deterministic zips, and each zip serves its function under functions-framework
in a clean virtualenv built from nothing but the zip's own requirements.txt."""

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile

import pytest

from tests.helpers import ROOT
from tools.emulators import free_port

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import package  # noqa: E402

pytestmark = pytest.mark.slow  # builds the zips and a clean virtualenv per function


def test_packaging_twice_gives_byte_identical_zips(tmp_path):
    digests = []
    for attempt in ("a", "b"):
        out = tmp_path / attempt
        out.mkdir()
        subprocess.run(
            [sys.executable, os.path.join(ROOT, "scripts", "package.py"), str(out)], check=True, capture_output=True
        )
        digests.append({f: hashlib.sha256((out / f).read_bytes()).hexdigest() for f in sorted(os.listdir(out))})
    assert digests[0] == digests[1] and set(digests[0]) == {"upload.zip", "ocr.zip", "status.zip"}
    with zipfile.ZipFile(tmp_path / "a" / "status.zip") as archive:
        names = archive.namelist()
        assert names == sorted(names) and "main.py" in names and "common/config.py" in names
        assert "static/index.html" in names and "static/page.js" in names  # the page ships with its function
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert {info.date_time for info in archive.infolist()} == {package.EPOCH}


def call(url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "package.py"), str(out)], check=True, capture_output=True
    )
    return out


@pytest.mark.parametrize(
    "function, target", [("status", "job_status"), ("ocr", "run_ocr_job"), ("upload", "upload_receipt")]
)
def test_each_zip_serves_its_function_from_a_clean_venv(packaged, tmp_path, sample, function, target):
    source = tmp_path / "src"
    with zipfile.ZipFile(packaged / f"{function}.zip") as archive:
        archive.extractall(source)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # uv (requirements-dev.txt) resolves the zip's requirements as pip would, from PyPI, in
    # seconds where pip takes 30-90 s per function on 2 cores (it compiles every module).
    installed = subprocess.run(
        [sys.executable, "-m", "uv", "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
        + ["-r", str(source / "requirements.txt")],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "REQUIRE_API_KEY": "false",
        "LOCAL_BLOB_DIR": str(tmp_path / "blobs"),
        "SQLITE_PATH": str(tmp_path / "jobs.sqlite3"),
    }
    server = subprocess.Popen(
        [
            str(venv / "bin" / "functions-framework"),
            "--target",
            target,
            "--source",
            str(source / "main.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=source,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()[-2000:]
                time.sleep(0.1)
        if function == "status":
            status, body = call(f"{url}/jobs/{'a' * 32}/status")
            assert (status, body["code"]) == (404, "job_not_found")
            for path, mimetype in (("/", "text/html"), ("/static/page.js", "text/javascript")):
                with urllib.request.urlopen(url + path, timeout=10) as response:
                    assert response.headers.get_content_type() == mimetype and response.read()
        elif function == "ocr":
            status, body = call(
                url + "/", json.dumps({"job_id": "b" * 32}).encode(), {"Content-Type": "application/json"}
            )
            assert (status, body["code"]) == (404, "job_not_found")
        else:
            boundary = uuid.uuid4().hex
            data = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="r.png"\r\n\r\n'.encode()
                + sample["png"]
                + f"\r\n--{boundary}--\r\n".encode()
            )
            status, body = call(url + "/", data, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
            assert status == 200 and body["status"] == "finished"
            assert body["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
    finally:
        server.terminate()
        server.wait(10)
