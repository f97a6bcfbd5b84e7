"""Start and stop the local emulators on free ports: Cloud Storage (`gcp-storage-emulator`, pip),
Firestore (Google's Java emulator from `google-cloud-cli-firestore-emulator`), Cloud Tasks
(`gcloud-tasks-emulator`, in its own venv `.venv-tasks` because it pins protobuf<5) and Redis.

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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS_EMULATOR = os.path.join(ROOT, ".venv-tasks", "bin", "gcloud-tasks-emulator")
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


def http_ready(url: str, text: str | None = None):
    def ready() -> bool:
        with urllib.request.urlopen(url, timeout=2) as response:
            return text is None or text in response.read().decode(errors="replace")

    return ready


def tcp_ready(port: int):
    def ready() -> bool:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True

    return ready


def start_process(
    name: str, argv: list[str], ready, log_dir: str, env: dict | None = None, timeout: float = 60
) -> subprocess.Popen:
    """Start `argv` in its own process group, logging to LOG_DIR/NAME.log; wait until ready()."""
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, f"{name}.log")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=ROOT
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log_path}")
        try:
            if ready():
                return process
        except OSError:
            pass
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"{name} not ready after {timeout}s; see {log_path}")


def start_storage(log_dir: str, bucket: str) -> Emulator:
    port = free_port()
    executable = os.path.join(os.path.dirname(sys.executable), "gcp-storage-emulator")
    if not os.path.exists(executable):
        raise EmulatorUnavailable(
            "gcp-storage-emulator is not installed in this venv: pip install gcp-storage-emulator"
        )
    argv = [
        executable,
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--in-memory",
        "--default-bucket",
        bucket,
        "--quiet",
    ]
    process = start_process("storage-emulator", argv, http_ready(f"http://127.0.0.1:{port}/storage/v1/b"), log_dir)
    return Emulator("storage", f"127.0.0.1:{port}", process, os.path.join(log_dir, "storage-emulator.log"))


def firestore_jar() -> str:
    for jar in FIRESTORE_JARS:
        if os.path.exists(jar):
            return jar
    raise EmulatorUnavailable(
        "Google's Firestore emulator is not installed: apt-get install google-cloud-cli-firestore-emulator "
        "(from Google's Cloud SDK apt repository) and a Java runtime"
    )


def start_firestore(log_dir: str) -> Emulator:
    jar = firestore_jar()
    java = shutil.which("java")
    if not java:
        raise EmulatorUnavailable("the Firestore emulator needs Java: apt-get install default-jre-headless")
    port = free_port()
    argv = [
        java,
        "-cp",
        jar,
        "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
        "start",
        "--host=127.0.0.1",
        f"--port={port}",
    ]
    process = start_process("firestore-emulator", argv, http_ready(f"http://127.0.0.1:{port}/", "Ok"), log_dir)
    return Emulator("firestore", f"127.0.0.1:{port}", process, os.path.join(log_dir, "firestore-emulator.log"))


def reset_firestore(host: str, project: str) -> None:
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10).read()


def start_tasks(log_dir: str, queue_paths: list[str], max_retries: int = 200) -> Emulator:
    """The Cloud Tasks emulator with the given queues. It retries a failed task every 0.1 s, so
    `max_retries` bounds how long a task keeps coming back."""
    if not os.path.exists(TASKS_EMULATOR):
        raise EmulatorUnavailable("gcloud-tasks-emulator is not installed: make setup (it lives in .venv-tasks)")
    port = free_port()
    argv = [TASKS_EMULATOR, "start", "--port", str(port), "-r", str(max_retries)]
    for path in queue_paths:
        argv += ["-d", path]
    process = start_process("tasks-emulator", argv, tcp_ready(port), log_dir)
    return Emulator("tasks", f"127.0.0.1:{port}", process, os.path.join(log_dir, "tasks-emulator.log"))


def start_redis(log_dir: str, port: int | None = None) -> Emulator:
    executable = shutil.which("redis-server")
    if not executable:
        raise EmulatorUnavailable("redis-server is not installed: apt-get install redis-server")
    port = port or free_port()
    # No persistence: each stack and test session starts from an empty Redis.
    argv = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = start_process(f"redis-{port}", argv, tcp_ready(port), log_dir)
    return Emulator("redis", f"127.0.0.1:{port}", process, os.path.join(log_dir, f"redis-{port}.log"))
