"""`make run`: one receipt through the real upload and status functions on this machine.

Starts both functions with functions-framework on free loopback ports (the embedded default:
a local directory, SQLite and inline processing, under var/), uploads FILE, polls the status
endpoint until the job ends and prints the final status JSON. Exit code 0 when it finished.
With --stack DIR it uses the full local stack started by `make up` instead (tools/stack.py).

Mistakes get a one-line message, not a traceback: a missing file, a setting the functions would
refuse, no stack running. Ctrl-C stops both functions, and the job they were running is marked
failed (`interrupted`), so the next `make run` of the same file processes it again at once.
"""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_at_start(*_) -> None:
    # A hard exit: SystemExit raised inside an import can be swallowed by a library's bare
    # `except` (seen once in CI: the run went on and uploaded), and nothing has started yet.
    print("\ninterrupted (Ctrl-C)", file=sys.stderr, flush=True)
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted_at_start)  # Ctrl-C while the imports below load: nothing started yet

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common import auth, client, config, job, jobstore  # noqa: E402
from tools import emulators  # noqa: E402
from tools.emulators import PORT_ATTEMPTS, free_port, port_taken, tcp_ready  # noqa: E402

INTERRUPTED = 130  # the exit code of a command stopped by Ctrl-C (128 + SIGINT)

FUNCTIONS = ("upload", "status")  # the OCR runs inside the upload function (the embedded default)


def start_function(name: str, port: int, env: dict) -> subprocess.Popen:
    argv = emulators.function_argv(name, port)
    log = open(os.path.join(ROOT, "var", f"{name}.log"), "ab")
    # Its own process group: Ctrl-C reaches only this script, which then stops the whole group
    # (functions-framework's gunicorn master and its worker) itself.
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)


def last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def wait_until_up(name: str, port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Until the function accepts connections (a TCP connect: no request, so nothing is logged)."""
    deadline = time.monotonic() + timeout
    ready = tcp_ready(port)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = os.path.join("var", f"{name}.log")
            why = last_line(os.path.join(ROOT, log))
            raise SystemExit(f"the {name} function exited at start-up: {why} (see {log})")
        try:
            if ready():
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the {name} function did not come up in {timeout}s (see var/{name}.log)")


def start_functions(env: dict, processes: dict[str, subprocess.Popen]) -> dict[str, int]:
    """Both functions on free ports; when one loses its port to another process before binding it
    (free_port picks, the server binds later), both start again on new ones."""
    for attempt in range(PORT_ATTEMPTS):
        ports = {name: free_port() for name in FUNCTIONS}
        env["STATUS_BASE_URL"] = f"http://127.0.0.1:{ports['status']}"
        logs = {name: os.path.join(ROOT, "var", f"{name}.log") for name in FUNCTIONS}
        since = {name: os.path.getsize(path) if os.path.exists(path) else 0 for name, path in logs.items()}
        for name, port in ports.items():
            # Ctrl-C waits until the process is recorded, so that stop() always knows it.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                processes[name] = start_function(name, port, env)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        try:
            for name, port in ports.items():
                wait_until_up(name, port, processes[name])
            return ports
        except SystemExit:
            lost = [
                name for name in FUNCTIONS if processes[name].poll() is not None and port_taken(logs[name], since[name])
            ]
            if not lost or attempt == PORT_ATTEMPTS - 1:
                raise
            stop(processes)
            processes.clear()
            print(f"(the {lost[0]} function lost its port to another process; starting again)", file=sys.stderr)
    raise AssertionError("unreachable")


def check_settings(env: dict) -> None:
    """Refuse, in one line, a configuration the functions would refuse at start-up."""
    try:
        settings = config.from_env(env)
        auth.check_api_key_settings(settings)
    except config.ConfigError as e:
        raise SystemExit(f"make run: {e}") from None


def fail_interrupted(env: dict, path: str) -> list[str]:
    """After Ctrl-C stopped the functions: the job of this file they were running is failed
    (`interrupted`), so that the next run of the file makes a new job instead of waiting for the
    stopped attempt's lease to run out."""
    try:
        settings = config.from_env(env)
        with open(path, "rb") as f:
            import hashlib

            sha256 = hashlib.file_digest(f, "sha256").hexdigest()
        store = jobstore.from_settings(settings)
        message = "The run was interrupted (Ctrl-C) before the job ended; upload the file again."
        stopped = []
        for doc in store.list(status=job.STARTED, limit=500) + store.list(status=job.QUEUED, limit=500):
            if doc["sha256"] == sha256:
                try:
                    store.update(doc["job_id"], lambda d: job.fail(d, None, "interrupted", message, job.now()))
                    stopped.append(doc["job_id"])
                except job.NotClaimable:
                    pass  # it ended meanwhile
        return stopped
    except Exception as e:  # the clean-up must not turn Ctrl-C into a traceback
        print(f"(could not mark the interrupted job: {e})", file=sys.stderr)
        return []


def follow(args, upload_url: str) -> int:
    """Upload the file, poll its status until the job ends, print the final status JSON."""
    fields = {k: v for k, v in (("pedido_id", args.pedido_id), ("expected_amount", args.expected_amount)) if v}
    form = client.multipart(args.file, fields)
    print(f"uploading {args.file} to {upload_url}/ ...", file=sys.stderr)
    uploaded = client.call("POST", upload_url + "/", **form)
    answer = uploaded.body
    if uploaded.status == 0 or uploaded.status >= 400:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return 1
    print(f"{uploaded.status}: job {answer['job_id']} {answer['status']} ({answer['processing']})", file=sys.stderr)
    if answer.get("duplicate"):
        print(explain_duplicate(answer), file=sys.stderr)
    status, seen = answer, None
    while status.get("status") in ("queued", "started"):
        time.sleep(0.3)
        status = client.call("GET", answer["status_url"]).body
        now = (status.get("status"), status.get("progress"))
        if now != seen:
            print(f"  {now[0]}" + (f" {now[1]}%" if now[0] == "started" else ""), file=sys.stderr)
            seen = now
    # The status function's answer, as a client would read it.
    status = client.call("GET", answer["status_url"]).body
    print(json.dumps(status, indent=2, ensure_ascii=False))
    duplicate_of = ((status.get("result") or {}).get("data") or {}).get("duplicate_of")
    if duplicate_of:
        print(
            f"note: the same payment (end-to-end id) was already seen in job {duplicate_of['job_id']}"
            f" on {duplicate_of['first_seen_at']}: `duplicate_of` and the review reason"
            " `duplicate_transaction` say so (another file of one payment, e.g. its screenshot and its PDF)",
            file=sys.stderr,
        )
    return 0 if status.get("status") == "finished" else 1


def explain_duplicate(answer: dict) -> str:
    if answer.get("processing") == "taken_over":
        return (
            f"note: job {answer['job_id']} for this file had been stopped before it ended (Ctrl-C?): it was taken over"
        )
    text = f"note: these exact bytes were uploaded before: job {answer['job_id']} ({answer['status']}) answers again"
    if answer["status"] in ("queued", "started"):
        text += (
            "; if an earlier run was stopped, it is taken over once its lease runs out"
            " (JOB_LEASE_SECONDS, the job timeout + 60 s)"
        )
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="a receipt: .jpg, .jpeg, .png or .pdf")
    parser.add_argument("--pedido-id")
    parser.add_argument("--expected-amount")
    parser.add_argument("--stack", metavar="DIR", help="use the running stack whose state is in DIR (make up)")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on, KeyboardInterrupt
    if not os.path.isfile(args.file):
        raise SystemExit(f"make run: no such file: {args.file} (FILE= takes a .jpg, .jpeg, .png or .pdf)")
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\ninterrupted (Ctrl-C)", file=sys.stderr)
        return INTERRUPTED


def run(args) -> int:
    if args.stack:
        from tools.stack import Stack

        stack = Stack.load(args.stack) if os.path.exists(os.path.join(args.stack, "stack.json")) else None
        if stack is None or not stack.running():
            raise SystemExit("no local stack is running: start it with `make up`")
        return follow(args, stack.urls["upload"])

    os.makedirs(os.path.join(ROOT, "var"), exist_ok=True)
    # A local run on loopback: no API keys (see docs/deployment.md for real ones).
    env = {"REQUIRE_API_KEY": "false", **os.environ, "PYTHONPATH": ROOT}
    check_settings(env)
    processes: dict[str, subprocess.Popen] = {}
    try:
        ports = start_functions(env, processes)
        return follow(args, f"http://127.0.0.1:{ports['upload']}")
    except KeyboardInterrupt:
        stop(processes)
        stopped = fail_interrupted(env, args.file)
        print("\ninterrupted (Ctrl-C): both functions stopped", file=sys.stderr)
        if stopped:
            print(
                f"job {', '.join(stopped)} marked failed (interrupted); `make run` again processes the file anew",
                file=sys.stderr,
            )
        return INTERRUPTED
    finally:
        stop(processes)


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def stop(processes: dict[str, subprocess.Popen], grace: float = 5) -> None:
    """SIGTERM each function's process group, SIGKILL what is left after `grace` seconds."""
    for process in processes.values():
        if not _group_gone(process.pid):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes.values():
        while not _group_gone(process.pid) and time.monotonic() < deadline:
            process.poll()  # reap the leader once it exits
            time.sleep(0.05)
        if not _group_gone(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
        while not _group_gone(process.pid) and time.monotonic() < deadline + 5:
            time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
