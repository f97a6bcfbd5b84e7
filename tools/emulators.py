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


class PortLost(RuntimeError):
    """The server exited at start because another process took its port first (free_port picks a
    free port, the server binds it later): start it again on another one."""


# Each function's entry point in functions/<name>/main.py, as Terraform deploys it.
FUNCTION_TARGETS = {"upload": "upload_receipt", "status": "job_status", "ocr": "run_ocr_job"}


def function_argv(name: str, port: int | str, python: str = sys.executable) -> list[str]:
    """The command that serves one function with functions-framework (as in production) on
    127.0.0.1:`port`, from the venv of `python`."""
    return [
        os.path.join(os.path.dirname(python), "functions-framework"),
        "--target",
        FUNCTION_TARGETS[name],
        "--source",
        os.path.join(ROOT, "functions", name, "main.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


# How servers say their port is taken: Java's BindException, Python's EADDRINUSE, redis, gunicorn.
PORT_TAKEN = ("address already in use", "connection in use", "can't connect to", "failed to bind", "errno 98")
PORT_ATTEMPTS = 4


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
    name: str,
    argv: list[str],
    ready,
    log_dir: str,
    env: dict | None = None,
    timeout: float = 60,
    on_spawn=None,
) -> subprocess.Popen:
    """Start `argv` in its own process group, logging to LOG_DIR/NAME.log; wait until ready().

    `on_spawn(process)` is called as soon as the process exists, before it is ready, with Ctrl-C
    held back in between: whoever records it (the local stack's stack.json) then always knows
    every process there is to stop. Raises PortLost when the server exited because its port was
    taken."""
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, f"{name}.log")
    with open(log_path, "ab") as log:
        start = log.tell()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=ROOT
            )
            if on_spawn:
                on_spawn(process)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if port_taken(log_path, start):
                raise PortLost(f"{name} lost its port to another process; see {log_path}")
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log_path}")
        try:
            if ready():
                return process
        except OSError:
            pass
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"{name} not ready after {timeout}s; see {log_path}")


def port_taken(log_path: str, since: int) -> bool:
    with open(log_path, "rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace").lower()
    return any(sign in text for sign in PORT_TAKEN)


def start_on_free_port(name: str, command, log_dir: str, env: dict | None = None, timeout: float = 60, on_spawn=None):
    """Start a server on a free port, and on another one when it loses that port at start:
    `command(port) -> (argv, ready)`. Returns (process, port)."""
    for attempt in range(PORT_ATTEMPTS):
        port = free_port()
        argv, ready = command(port)
        try:
            return start_process(name, argv, ready, log_dir, env, timeout, on_spawn), port
        except PortLost:
            if attempt == PORT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def start_storage(log_dir: str, bucket: str, on_spawn=None) -> Emulator:
    executable = os.path.join(os.path.dirname(sys.executable), "gcp-storage-emulator")
    if not os.path.exists(executable):
        raise EmulatorUnavailable(
            "gcp-storage-emulator is not installed in this venv: pip install gcp-storage-emulator"
        )

    def command(port: int):
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
        return argv, http_ready(f"http://127.0.0.1:{port}/storage/v1/b")

    process, port = start_on_free_port("storage-emulator", command, log_dir, on_spawn=on_spawn)
    return Emulator("storage", f"127.0.0.1:{port}", process, os.path.join(log_dir, "storage-emulator.log"))


def firestore_jar() -> str:
    for jar in FIRESTORE_JARS:
        if os.path.exists(jar):
            return jar
    raise EmulatorUnavailable(
        "Google's Firestore emulator is not installed: apt-get install google-cloud-cli-firestore-emulator "
        "(from Google's Cloud SDK apt repository) and a Java runtime"
    )


def start_firestore(log_dir: str, on_spawn=None) -> Emulator:
    jar = firestore_jar()
    java = shutil.which("java")
    if not java:
        raise EmulatorUnavailable("the Firestore emulator needs Java: apt-get install default-jre-headless")

    def command(port: int):
        argv = [
            java,
            "-cp",
            jar,
            "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
            "start",
            "--host=127.0.0.1",
            f"--port={port}",
        ]
        return argv, http_ready(f"http://127.0.0.1:{port}/", "Ok")

    process, port = start_on_free_port("firestore-emulator", command, log_dir, on_spawn=on_spawn)
    return Emulator("firestore", f"127.0.0.1:{port}", process, os.path.join(log_dir, "firestore-emulator.log"))


def reset_firestore(host: str, project: str) -> None:
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10).read()


def start_tasks(log_dir: str, queue_paths: list[str], max_retries: int = 200, on_spawn=None) -> Emulator:
    """The Cloud Tasks emulator with the given queues. It retries a failed task every 0.1 s, so
    `max_retries` bounds how long a task keeps coming back."""
    if not os.path.exists(TASKS_EMULATOR):
        raise EmulatorUnavailable("gcloud-tasks-emulator is not installed: make setup (it lives in .venv-tasks)")

    def command(port: int):
        argv = [TASKS_EMULATOR, "start", "--port", str(port), "-r", str(max_retries)]
        for path in queue_paths:
            argv += ["-d", path]
        return argv, tcp_ready(port)

    process, port = start_on_free_port("tasks-emulator", command, log_dir, on_spawn=on_spawn)
    return Emulator("tasks", f"127.0.0.1:{port}", process, os.path.join(log_dir, "tasks-emulator.log"))


def start_redis(log_dir: str, port: int | None = None, on_spawn=None) -> Emulator:
    executable = shutil.which("redis-server")
    if not executable:
        raise EmulatorUnavailable("redis-server is not installed: apt-get install redis-server")

    def argv(port: int) -> list[str]:
        # No persistence: each stack and test session starts from an empty Redis.
        return [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    if port:  # a given port (a restart on the same address): no other to try
        name = f"redis-{port}"
        process = start_process(name, argv(port), tcp_ready(port), log_dir, on_spawn=on_spawn)
    else:
        name = "redis"
        process, port = start_on_free_port(name, lambda p: (argv(p), tcp_ready(p)), log_dir, on_spawn=on_spawn)
    return Emulator("redis", f"127.0.0.1:{port}", process, os.path.join(log_dir, f"{name}.log"))
