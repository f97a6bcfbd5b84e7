"""`make smoke`: is a deployment working? Step by step, with a PASS, FAIL or SKIP line each:

  upload       the bundled sample receipt (made unique per run) is accepted
  finished     its job is followed to `finished`
  status JSON  the status has the seed's fields, and the sample's amount and end-to-end id
  api key      without the API key the status is refused (only when a key is given)
  listing      GET /jobs lists the job
  webhook      the job's webhook was delivered to WEBHOOK_RECEIVER (skipped without one)

    python3 -m tools.smoke [--upload-url URL] [--status-url URL] [--api-key KEY]
                           [--webhook-receiver URL] [--timeout SECONDS]

The URLs default to `terraform -chdir=terraform output -json` (upload_url, status_url). Beyond the
standard library it needs only `requests`, for common/client.py which it uses: `make smoke` runs it
with the project's virtualenv when there is one, else with any python3 that has requests.
Exit code 0 when no step failed, 1 when one did, 2 when it could not start.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
import zlib

from common import client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "samples", "receipt.png")
# What samples/receipt.png holds (tools/receipts.py's sample_receipt(0, "nubank")).
SAMPLE_AMOUNT = 5039.58
SAMPLE_TRANSACTION_ID = "E182361202025052807197qbj9tsp845"
SEED_FIELDS = ("job_id", "status", "result", "created_at", "started_at", "ended_at")


class Steps:
    """Prints one line per step and remembers whether any failed."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}

    def report(self, outcome: str, step: str, detail: str) -> bool:
        self.counts[outcome] += 1
        print(f"{outcome}  {step:<12} {detail}", file=self.out, flush=True)
        return outcome == "PASS"

    def check(self, step: str, problems: list[str], passed: str) -> bool:
        return self.report("FAIL", step, "; ".join(problems)) if problems else self.report("PASS", step, passed)


def unique_sample(path: str = SAMPLE) -> bytes:
    """The sample PNG with a text chunk naming this run: new bytes (so a new job, not the
    `duplicate` of the last run's) showing the same receipt."""
    with open(path, "rb") as f:
        png = f.read()
    data = b"Comment\x00make smoke " + uuid.uuid4().hex.encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    end_of_header = 8 + 25  # the signature, then the IHDR chunk, which must come first
    return png[:end_of_header] + chunk + png[end_of_header:]


def terraform_outputs() -> dict:
    """upload_url and status_url from `terraform output`, or {} when there is no deployment here."""
    try:
        run = subprocess.run(
            ["terraform", f"-chdir={os.path.join(ROOT, 'terraform')}", "output", "-json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        outputs = json.loads(run.stdout) if run.returncode == 0 else {}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}
    return {name: outputs[name]["value"] for name in ("upload_url", "status_url") if name in outputs}


def _iso(value) -> bool:
    try:
        datetime.datetime.fromisoformat(value)
        return True
    except (TypeError, ValueError):
        return False


def status_problems(status: dict, job_id: str) -> list[str]:
    """What is wrong with a finished job's status JSON, compared with the seed and the sample."""
    problems = [f"no {name}" for name in SEED_FIELDS if name not in status]
    if problems:
        return problems
    if status["job_id"] != job_id or status["status"] != "finished":
        problems.append(f"job {status['job_id']} is {status['status']}, expected {job_id} finished")
    problems += [f"{name} {status[name]!r} is not ISO 8601" for name in SEED_FIELDS[3:] if not _iso(status[name])]
    result = status["result"] if isinstance(status["result"], dict) else {}
    data = result.get("data") if isinstance(result.get("data"), dict) else {}
    if result.get("success") is not True:
        problems.append("result.success is not true")
    if data.get("amount") != SAMPLE_AMOUNT:
        problems.append(f"amount {data.get('amount')!r}, expected {SAMPLE_AMOUNT}")
    if data.get("transaction_id") != SAMPLE_TRANSACTION_ID:
        problems.append(f"transaction_id {data.get('transaction_id')!r}, expected {SAMPLE_TRANSACTION_ID}")
    if not isinstance(data.get("validacao_recebedor"), dict):
        problems.append("no validacao_recebedor")
    return problems


class Smoke:
    def __init__(self, upload_url: str, status_url: str, api_key: str, webhook_receiver: str, timeout: float, out=None):
        self.upload_url, self.status_base = upload_url, status_url.rstrip("/")
        self.api_key, self.webhook_receiver, self.timeout = api_key, webhook_receiver, timeout
        self.headers = {"X-API-Key": api_key} if api_key else {}
        self.steps = Steps(out)

    def get(self, url: str, headers: dict | None = None) -> client.Answer:
        return client.call_with_retries("GET", url, headers=self.headers if headers is None else headers)

    def run(self) -> int:
        job = self.upload()
        if job is None:
            return 1
        status = self.finished(job)
        if status is not None:
            # The sample's end-to-end id is the same every run: from the second run on, the job
            # says it was seen before (duplicate_of), as it should.
            seen_before = " (duplicate_of an earlier run)" if "duplicate_of" in json.dumps(status.get("result")) else ""
            self.steps.check(
                "status JSON",
                status_problems(status, job["job_id"]),
                f"the seed's fields; amount {SAMPLE_AMOUNT}, transaction_id {SAMPLE_TRANSACTION_ID}{seen_before}",
            )
            self.api_key_required(job)
            self.listing(job)
            self.webhook(job)
        counts = self.steps.counts
        print(
            f"smoke: {'FAIL' if counts['FAIL'] else 'PASS'} ({counts['PASS']} steps passed, {counts['FAIL']} failed, "
            f"{counts['SKIP']} skipped)",
            file=self.steps.out,
            flush=True,
        )
        return 1 if counts["FAIL"] else 0

    def upload(self) -> dict | None:
        fields = {"pedido_id": f"smoke-{uuid.uuid4().hex[:12]}"}
        if self.webhook_receiver:
            fields["callback_url"] = self.webhook_receiver
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "receipt.png")
            with open(path, "wb") as f:
                f.write(unique_sample())
            form = client.multipart(path, fields)
        answer = client.call_with_retries("POST", self.upload_url, headers=self.headers, **form)
        if answer.status not in (200, 202) or "job_id" not in answer.body:
            hint = {401: " (pass API_KEY)", 403: " (is API_KEY one of api_key_hashes?)"}.get(answer.status, "")
            if answer.body.get("code") == "webhooks_not_configured":
                hint = " (set webhook_secrets in terraform.tfvars, or leave WEBHOOK_RECEIVER out)"
            self.steps.report(
                "FAIL", "upload", f"HTTP {answer.status} {answer.body.get('code')}: {answer.body.get('error')}{hint}"
            )
            return None
        self.steps.report(
            "PASS", "upload", f"HTTP {answer.status} {answer.body.get('status')}, job {answer.body['job_id']}"
        )
        return answer.body

    def finished(self, job: dict) -> dict | None:
        url = client.status_url_of(job, self.status_base)
        if url is None:
            self.steps.report("FAIL", "finished", f"status_url {job['status_url']!r} is a path: pass STATUS_URL")
            return None
        tracked = [client.Tracked(0, url, job)]
        client.follow(tracked, self.headers, client.ProgressBoard(["receipt.png"]), self.timeout)
        status = tracked[0].result
        if status.get("status") != "finished":
            detail = (
                f"{status.get('error_code')}: {status.get('error')}"
                if status.get("status") == "failed"
                else f"{status.get('code')}: {status.get('error')}"
            )
            self.steps.report("FAIL", "finished", f"the job ended {status.get('status', 'unknown')}: {detail}")
            return None
        self.steps.report(
            "PASS",
            "finished",
            f"after {status.get('attempts')} attempt(s), {status['created_at']} to {status['ended_at']}",
        )
        return status

    def api_key_required(self, job: dict) -> None:
        if not self.api_key:
            self.steps.report("SKIP", "api key", "no API_KEY given")
            return
        answer = self.get(client.status_url_of(job, self.status_base), headers={})
        self.steps.check(
            "api key",
            [] if answer.status == 401 else [f"without the key the status answered HTTP {answer.status}"],
            "without X-API-Key the status is refused (401)",
        )

    def listing(self, job: dict) -> None:
        if not self.status_base:
            self.steps.report("FAIL", "listing", "no STATUS_URL (the status function's URL)")
            return
        cursor, pages = None, 0
        while pages < 5:  # newest first: a job made a minute ago is on the first page or two
            query = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            answer = self.get(f"{self.status_base}/jobs?{urllib.parse.urlencode(query)}")
            if answer.status != 200 or not isinstance(answer.body.get("jobs"), list):
                self.steps.report(
                    "FAIL", "listing", f"GET /jobs answered HTTP {answer.status} {answer.body.get('code')}"
                )
                return
            listed = [j for j in answer.body["jobs"] if j.get("job_id") == job["job_id"]]
            if listed:
                self.steps.check(
                    "listing",
                    [] if listed[0].get("status") == "finished" else [f"listed as {listed[0].get('status')}"],
                    f"GET /jobs lists the job as finished (counts {answer.body.get('counts')})",
                )
                return
            cursor, pages = answer.body.get("next_cursor"), pages + 1
            if not cursor:
                break
        self.steps.report("FAIL", "listing", f"job {job['job_id']} is not in GET /jobs")

    def webhook(self, job: dict) -> None:
        if not self.webhook_receiver:
            self.steps.report("SKIP", "webhook", "no WEBHOOK_RECEIVER given")
            return
        url = client.status_url_of(job, self.status_base)
        deadline = time.monotonic() + self.timeout
        while True:
            note = self.get(url).body.get("notification") or {}
            if note.get("status") in ("delivered", "failed") or time.monotonic() > deadline:
                break
            time.sleep(1)
        if note.get("status") == "delivered":
            self.steps.report(
                "PASS",
                "webhook",
                f"delivered to {self.webhook_receiver} (HTTP {note.get('last_status_code')}, "
                f"{note.get('attempts')} attempt(s))",
            )
        else:
            self.steps.report(
                "FAIL", "webhook", f"not delivered to {self.webhook_receiver}: {note or 'no notification recorded'}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools.smoke", description="Check a deployment step by step.")
    parser.add_argument(
        "--upload-url", default="", help="the upload function's URL (default: terraform output upload_url)"
    )
    parser.add_argument(
        "--status-url", default="", help="the status function's URL (default: terraform output status_url)"
    )
    parser.add_argument("--api-key", default="", metavar="KEY", help="sent as X-API-Key")
    parser.add_argument(
        "--webhook-receiver",
        default="",
        metavar="URL",
        help="a receiver of yours for the job's webhook (https; needs webhook_secrets)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300, metavar="SECONDS", help="longest wait for the job (default 300)"
    )
    args = parser.parse_args(argv)
    if not (args.upload_url and args.status_url):
        outputs = terraform_outputs()
        args.upload_url = args.upload_url or outputs.get("upload_url", "")
        args.status_url = args.status_url or outputs.get("status_url", "")
    if not args.upload_url:
        print(
            "smoke: no upload URL: pass UPLOAD_URL and STATUS_URL, or run it where `terraform -chdir=terraform "
            "output` shows the deployment",
            file=sys.stderr,
        )
        return 2
    return Smoke(args.upload_url, args.status_url, args.api_key, args.webhook_receiver, args.timeout).run()


if __name__ == "__main__":
    sys.exit(main())
