"""The full local stack, no cloud account: the Cloud Storage and Firestore emulators, the task
queue (the Cloud Tasks emulator, or Redis + `worker.py`), the three functions under
functions-framework, and the reconciler, all on free loopback ports.

    python -m tools.stack up [--queue cloudtasks|rq] [--pix none|fake] [--state-dir var/stack]
    python -m tools.stack down [--state-dir var/stack]

Every process runs in its own process group; `down` stops them by the PIDs recorded in
STATE_DIR/stack.json (and checks each PID still runs the command it started, so a recycled PID
is never killed). Each process is recorded there as soon as it is spawned, before it is ready, so
Ctrl-C at any moment of `up` leaves nothing `down` does not know. A server that loses its free
port to another process at start is started again on another one. Logs are in STATE_DIR/logs/.

The status function's page uploads to the stack's upload function (UPLOAD_URL, and its origin in
CORS_ALLOWED_ORIGINS), and webhooks are signed with a secret generated for the stack unless
WEBHOOK_SECRETS is set (it is printed, and kept in stack.json's env).

`--pix fake` also starts tools/fakepsp.py (mutual TLS, its CA and certificates in
STATE_DIR/fakepsp/) and points the functions at it: every job gets `validacao_pagamento`, and the
fake's webhook calls the upload function back for the keys of the bundled samples.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tools import emulators

ROOT = emulators.ROOT
PROJECT = "receipts-local"
BUCKET = "receipts-local"
LOCATION = "us-central1"
FUNCTIONS = tuple(emulators.FUNCTION_TARGETS)
DEFAULT_STATE_DIR = os.path.join(ROOT, "var", "stack")


def _function_ready(url: str):
    def ready() -> bool:
        try:
            urllib.request.urlopen(url, timeout=2)
        except urllib.error.HTTPError:
            pass  # any HTTP answer means it is serving
        return True

    return ready


class Stack:
    def __init__(
        self,
        state_dir: str = DEFAULT_STATE_DIR,
        queue: str = "cloudtasks",
        overrides: dict | None = None,
        reconcile_every: float = 30,
        pix: str = "none",
    ):
        if queue not in ("cloudtasks", "rq"):
            raise ValueError(f"queue must be cloudtasks or rq, not {queue!r}")
        self.state_dir = state_dir
        self.log_dir = os.path.join(state_dir, "logs")
        self.queue = queue
        self.overrides = overrides or {}
        self.reconcile_every = reconcile_every
        if pix not in ("none", "fake"):
            raise ValueError(f"pix must be none or fake, not {pix!r}")
        self.pix = pix
        self.processes: dict[str, dict] = {}  # name -> {pid, argv}
        self.urls: dict[str, str] = {}
        self.env: dict[str, str] = {}

    # --- starting ------------------------------------------------------------------------------
    def up(self) -> Stack:
        os.makedirs(self.log_dir, exist_ok=True)
        try:
            self._start_backends()
            self.env.update(
                {
                    "PYTHONPATH": ROOT,
                    "GOOGLE_CLOUD_PROJECT": PROJECT,
                    "BLOB_STORE": "gcs",
                    "GCS_BUCKET": BUCKET,
                    "JOB_STORE": "firestore",
                    "TASK_QUEUE": self.queue,
                    "REQUIRE_API_KEY": "false",
                    "WEBHOOK_ALLOW_PRIVATE_URLS": "true",  # webhooks to receivers on this machine
                    "METRICS_ENABLED": "true",  # GET /metrics on each function
                    # Webhooks work out of the box: a secret of this stack's own (see the README).
                    "WEBHOOK_SECRETS": os.environ.get("WEBHOOK_SECRETS") or f"*={secrets.token_urlsafe(24)}",
                    **self.overrides,
                }
            )
            if self.pix == "fake":
                self._start_fake_psp()
            self._start_functions()
            if self.pix == "fake":
                self._register_fake_psp_webhooks()
            if self.queue == "rq":
                self.start("worker")
            self.start("reconciler")
        except BaseException:
            # Ctrl-C again must not cut the clean-up short.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                self.down()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            raise
        self._save()
        return self

    def _start_functions(self) -> None:
        """The three functions know each other's URLs, so a function that loses its port at
        start makes all three start again on new ones."""
        for attempt in range(emulators.PORT_ATTEMPTS):
            ports = {name: emulators.free_port() for name in FUNCTIONS}
            self.urls.update({name: f"http://127.0.0.1:{port}" for name, port in ports.items()})
            self.env.update(
                {
                    "OCR_FUNCTION_URL": self.urls["ocr"] + "/",
                    "STATUS_BASE_URL": self.urls["status"],
                    # The status function's page uploads here, from its own origin.
                    "UPLOAD_URL": self.urls["upload"] + "/",
                    "CORS_ALLOWED_ORIGINS": self.urls["status"],
                }
            )
            self.env.update({k: v for k, v in self.overrides.items() if k in ("UPLOAD_URL", "CORS_ALLOWED_ORIGINS")})
            try:
                for name in FUNCTIONS:
                    self.start(name)
                return
            except emulators.PortLost:
                for name in FUNCTIONS:
                    self.kill(name, signal.SIGTERM)
                if attempt == emulators.PORT_ATTEMPTS - 1:
                    raise

    def _start_backends(self) -> None:
        storage = emulators.start_storage(self.log_dir, BUCKET, on_spawn=self._recorder("storage-emulator"))
        firestore = emulators.start_firestore(self.log_dir, on_spawn=self._recorder("firestore-emulator"))
        self.env.update({"STORAGE_EMULATOR_HOST": f"http://{storage.host}", "FIRESTORE_EMULATOR_HOST": firestore.host})
        if self.queue == "cloudtasks":
            queues = [f"projects/{PROJECT}/locations/{LOCATION}/queues/{name}" for name in ("ocr", "notify")]
            tasks = emulators.start_tasks(self.log_dir, queues, on_spawn=self._recorder("tasks-emulator"))
            self.env["TASKS_EMULATOR_HOST"] = tasks.host
        else:
            redis = emulators.start_redis(self.log_dir, on_spawn=self._recorder("redis"))
            self.env["REDIS_URL"] = f"redis://{redis.host}/0"

    def _start_fake_psp(self) -> None:
        state = os.path.join(self.state_dir, "fakepsp")
        env_file = os.path.join(state, "env.json")
        if os.path.exists(env_file):
            os.remove(env_file)
        argv = [sys.executable, "-m", "tools.fakepsp", "serve", "--state-dir", state]
        emulators.start_process(
            "fakepsp", argv, lambda: os.path.exists(env_file), self.log_dir, on_spawn=self._recorder("fakepsp")
        )
        with open(env_file) as f:
            self.env.update(json.load(f))
        self.env["PIX_WEBHOOK_SECRET"] = secrets.token_urlsafe(24)

    def _register_fake_psp_webhooks(self) -> None:
        """PUT /webhook/{chave} for the samples' keys, through the pipeline's own API Pix client."""
        from common import config, confirmation
        from tools import fakepsp, receipts

        client = confirmation.from_settings(config.from_env(self.env))
        assert client is not None
        url = f"{self.urls['upload']}{confirmation.WEBHOOK_PREFIX}{self.env['PIX_WEBHOOK_SECRET']}"
        unpaid = fakepsp.pix_of(receipts.sample_receipt(0, "inter"))
        for chave in sorted({p["chave"] for p in fakepsp.sample_pix()} | {unpaid["chave"]}):
            client.register_webhook(chave, url)

    def _argv(self, name: str) -> tuple[list[str], object]:
        python = sys.executable
        if name in FUNCTIONS:
            port = self.urls[name].rsplit(":", 1)[1]
            argv = emulators.function_argv(name, port, python)
            # Ready once it accepts connections: a probe request would log a rejection each start.
            return argv, emulators.tcp_ready(int(port))
        if name == "worker" or name.startswith("worker-"):  # worker-2, ...: more RQ workers
            return [python, os.path.join(ROOT, "worker.py")], lambda: "aguardando jobs" in self.log(name)
        if name == "reconciler":
            return [python, "-m", "common.reconcile", "--loop", str(self.reconcile_every)], lambda: True
        raise ValueError(f"unknown process {name!r}")

    def start(self, name: str) -> None:
        """(Re)start one of the stack's own processes with the stack's environment and port."""
        argv, ready = self._argv(name)
        env = {**os.environ, **self.env}
        if name.startswith("worker"):  # each RQ worker serves its own Prometheus metrics
            port = emulators.free_port()
            env["METRICS_PORT"] = str(port)
            self.urls[f"{name}-metrics"] = f"http://127.0.0.1:{port}/metrics"
        emulators.start_process(name, argv, ready, self.log_dir, env=env, timeout=120, on_spawn=self._recorder(name))
        self._save()

    def _recorder(self, name: str):
        """Record the process in stack.json the moment it is spawned (see emulators.start_process)."""

        def record(process: subprocess.Popen) -> None:
            self.processes[name] = {"pid": process.pid, "started": _start_time(process.pid), "argv": process.args}
            self._save()

        return record

    # --- inspecting and stopping -----------------------------------------------------------------
    def running(self) -> bool:
        """Does any process this stack recorded still run?"""
        return any(_runs(entry) for entry in self.processes.values())

    def log(self, name: str) -> str:
        try:
            with open(os.path.join(self.log_dir, f"{name}.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop one process group at once (tests use it to crash a worker mid-job)."""
        entry = self.processes.pop(name, None)
        if entry:
            _stop_group(entry, sig)
            self._save()

    def down(self) -> None:
        for name in reversed(list(self.processes)):
            _stop_group(self.processes[name], signal.SIGTERM)
        self.processes.clear()
        self._save()

    def _save(self) -> None:
        os.makedirs(self.state_dir, exist_ok=True)
        state = {"queue": self.queue, "pix": self.pix, "urls": self.urls, "processes": self.processes, "env": self.env}
        with open(os.path.join(self.state_dir, "stack.json"), "w") as f:
            json.dump(state, f, indent=2)

    @classmethod
    def load(cls, state_dir: str = DEFAULT_STATE_DIR) -> Stack:
        with open(os.path.join(state_dir, "stack.json")) as f:
            state = json.load(f)
        stack = cls(state_dir, state["queue"], pix=state.get("pix", "none"))
        stack.urls, stack.processes, stack.env = state["urls"], state["processes"], state["env"]
        return stack


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def _runs(entry: dict) -> bool:
    """Is the recorded PID still the process we started? A PID and its start time together
    identify a process, so a recycled PID is never signalled."""
    return _start_time(entry["pid"]) == entry["started"]


def _stop_group(entry: dict, sig: int) -> None:
    if not _runs(entry):
        return
    try:
        os.killpg(entry["pid"], sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while _runs(entry) and time.monotonic() < deadline:
        try:
            os.waitpid(entry["pid"], os.WNOHANG)  # reap it when it is our child
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if _runs(entry):
        os.killpg(entry["pid"], signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The full local stack.")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--queue", choices=["cloudtasks", "rq"], default="cloudtasks")
    parser.add_argument("--pix", choices=["none", "fake"], default="none", help="fake: confirm with tools/fakepsp.py")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    if args.command == "down":
        if not os.path.exists(os.path.join(args.state_dir, "stack.json")):
            print("no stack running")
            return 0
        Stack.load(args.state_dir).down()
        print("stack stopped")
        return 0
    if os.path.exists(os.path.join(args.state_dir, "stack.json")) and any(
        _runs(p) for p in Stack.load(args.state_dir).processes.values()
    ):
        print("a stack is already running: make down first", file=sys.stderr)
        return 1
    try:
        stack = Stack(args.state_dir, args.queue, pix=args.pix).up()
    except KeyboardInterrupt:
        print("\ninterrupted (Ctrl-C): everything started so far was stopped", file=sys.stderr)
        return 130
    except emulators.EmulatorUnavailable as e:
        print(f"cannot start the stack: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:  # a process that exited or never got ready: its log says why
        print(f"cannot start the stack: {e}", file=sys.stderr)
        return 1
    if args.pix == "fake":
        print(f"  payments confirmed with the fake PSP at {stack.env['PIX_API_URL']} (tools/fakepsp.py)")
    print(f"stack up ({args.queue}); logs in {os.path.relpath(stack.log_dir)}")
    for name, url in stack.urls.items():
        print(f"  {name:7} {url}")
    print(f"  page:   {stack.urls['status']}/ (uploads to the upload function)")
    print("  upload: curl -F file=@samples/receipt.png " + stack.urls["upload"] + "/")
    if "WEBHOOK_SECRETS" not in os.environ:
        secret = stack.env["WEBHOOK_SECRETS"].partition("=")[2]
        print(f"  webhooks (callback_url) are signed with this stack's secret: {secret}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
