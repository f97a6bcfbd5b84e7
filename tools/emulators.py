"""Start and stop the local emulators on free ports: Cloud Storage (`gcp-storage-emulator`, pip)
and Firestore (Google's Java emulator from `google-cloud-cli-firestore-emulator`).

Used by the test session and the local stack. Each server runs in its own process group so that
stopping it also stops the children (the Firestore wrapper's java outlives it otherwise).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

FIRESTORE_JARS = (
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
    "/usr/share/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
)


class EmulatorUnavailable(RuntimeError):
    """The emulator is not installed here; the message says how to install it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Emulator:
    name: str
    host: str  # host:port
    process: subprocess.Popen
    log_path: str

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def _start(name: str, argv: list[str], ready_url: str, log_dir: str, ready_text: str | None = None,
           timeout: float = 60) -> subprocess.Popen:
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, f"{name}.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as response:
                if ready_text is None or ready_text in response.read().decode(errors="replace"):
                    return process
        except OSError:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"{name} not ready after {timeout}s; see {log_path}")


def start_storage(log_dir: str, bucket: str) -> Emulator:
    port = free_port()
    executable = os.path.join(os.path.dirname(sys.executable), "gcp-storage-emulator")
    if not os.path.exists(executable):
        raise EmulatorUnavailable("gcp-storage-emulator is not installed in this venv: pip install gcp-storage-emulator")
    argv = [executable, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory",
            "--default-bucket", bucket, "--quiet"]
    process = _start("storage-emulator", argv, f"http://127.0.0.1:{port}/storage/v1/b", log_dir)
    return Emulator("storage", f"127.0.0.1:{port}", process, os.path.join(log_dir, "storage-emulator.log"))


def firestore_jar() -> str:
    for jar in FIRESTORE_JARS:
        if os.path.exists(jar):
            return jar
    raise EmulatorUnavailable(
        "Google's Firestore emulator is not installed: apt-get install google-cloud-cli-firestore-emulator "
        "(from Google's Cloud SDK apt repository) and a Java runtime")


def start_firestore(log_dir: str) -> Emulator:
    jar = firestore_jar()
    java = shutil.which("java")
    if not java:
        raise EmulatorUnavailable("the Firestore emulator needs Java: apt-get install default-jre-headless")
    port = free_port()
    argv = [java, "-cp", jar, "com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
            "--host=127.0.0.1", f"--port={port}"]
    process = _start("firestore-emulator", argv, f"http://127.0.0.1:{port}/", log_dir, ready_text="Ok")
    return Emulator("firestore", f"127.0.0.1:{port}", process, os.path.join(log_dir, "firestore-emulator.log"))


def reset_firestore(host: str, project: str) -> None:
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10).read()
