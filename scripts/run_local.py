"""`make run`: one receipt through the real upload and status functions on this machine.

Starts both functions with functions-framework on free loopback ports (the embedded default:
a local directory, SQLite and inline processing, under var/), uploads FILE, polls the status
endpoint until the job ends and prints the final status JSON. Exit code 0 when it finished.
With --stack DIR it uses the full local stack started by `make up` instead (tools/stack.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common import client  # noqa: E402
from tools.emulators import free_port  # noqa: E402

FUNCTIONS = {"upload": "upload_receipt", "status": "job_status"}


def start_function(name: str, port: int, env: dict) -> subprocess.Popen:
    framework = os.path.join(os.path.dirname(sys.executable), "functions-framework")
    argv = [
        framework,
        "--target",
        FUNCTIONS[name],
        "--source",
        os.path.join(ROOT, "functions", name, "main.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = open(os.path.join(ROOT, "var", f"{name}.log"), "ab")
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("a function exited at start-up; see var/*.log")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answered: it is up
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {timeout}s")


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
    return 0 if status.get("status") == "finished" else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="a receipt: .jpg, .jpeg, .png or .pdf")
    parser.add_argument("--pedido-id")
    parser.add_argument("--expected-amount")
    parser.add_argument("--stack", metavar="DIR", help="use the running stack whose state is in DIR (make up)")
    args = parser.parse_args()
    if args.stack:
        from tools.stack import Stack

        if not os.path.exists(os.path.join(args.stack, "stack.json")):
            raise SystemExit("no local stack is running: start it with `make up`")
        return follow(args, Stack.load(args.stack).urls["upload"])

    os.makedirs(os.path.join(ROOT, "var"), exist_ok=True)
    ports = {name: free_port() for name in FUNCTIONS}
    # A local run on loopback: no API keys (see docs/deployment.md for real ones).
    env = {
        "REQUIRE_API_KEY": "false",
        **os.environ,
        "PYTHONPATH": ROOT,
        "STATUS_BASE_URL": f"http://127.0.0.1:{ports['status']}",
    }
    processes = {name: start_function(name, port, env) for name, port in ports.items()}
    try:
        for name, port in ports.items():
            wait_until_up(f"http://127.0.0.1:{port}/", processes[name])
        return follow(args, f"http://127.0.0.1:{ports['upload']}")
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(10)


if __name__ == "__main__":
    sys.exit(main())
