"""`make smoke` (tools/smoke.py), the check a user runs after `terraform apply`, run here against
the full local stack of `make up` (tools/stack.py: the emulators, the three functions, the Cloud
Tasks emulator) with API keys and webhook secrets on, as in production."""

import hashlib
import io
import json
import os
import re
import subprocess
import uuid

import pytest

from common import notify
from tests.helpers import ROOT, TEST_OUTPUT, need
from tools import receipts, smoke
from tools.stack import Stack

pytestmark = [pytest.mark.emulator, pytest.mark.slow]  # make smoke against the full local stack
API_KEY = "smoke-test-key-0123456789"
WEBHOOK_SECRET = "smoke-webhook-secret-0123"
STEPS = ("upload", "finished", "status JSON", "api key", "listing", "webhook")


@pytest.fixture(scope="module")
def stack():
    state_dir = os.path.join(TEST_OUTPUT, f"stack-smoke-{uuid.uuid4().hex[:6]}")
    overrides = {
        "REQUIRE_API_KEY": "true",
        "API_KEY_HASHES": hashlib.sha256(API_KEY.encode()).hexdigest(),
        "WEBHOOK_SECRETS": f"*={WEBHOOK_SECRET}",
    }
    stack = need(lambda: Stack(state_dir, "cloudtasks", overrides).up())
    yield stack
    stack.down()


def make_smoke(**variables) -> subprocess.CompletedProcess:
    """`make smoke` with these variables. make answers 2 when the recipe fails, and says with
    which exit code (tools/smoke.py: 1 when a step failed, 2 when it could not start)."""
    argv = ["make", "-s", "-C", ROOT, "smoke", *(f"{name}={value}" for name, value in variables.items())]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600)


def outcomes(stdout: str) -> dict[str, str]:
    return {m.group(2).strip(): m.group(1) for m in re.finditer(r"^(PASS|FAIL|SKIP)  (.{12})", stdout, re.MULTILINE)}


def test_make_smoke_passes_against_the_local_stack(stack, webhook_receiver):
    receiver = webhook_receiver.url("smoke", [200])
    done = make_smoke(
        UPLOAD_URL=stack.urls["upload"] + "/",
        STATUS_URL=stack.urls["status"],
        API_KEY=API_KEY,
        WEBHOOK_RECEIVER=receiver,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert outcomes(done.stdout) == {step: "PASS" for step in STEPS}, done.stdout
    assert done.stdout.splitlines()[-1] == "smoke: PASS (6 steps passed, 0 failed, 0 skipped)"
    job_id = re.search(r"job ([0-9a-f]{32})", done.stdout).group(1)
    [delivery] = webhook_receiver.received(receiver)
    headers = delivery["headers"]
    assert notify.verify(WEBHOOK_SECRET, headers["X-Timestamp"], delivery["body"], headers["X-Signature"])
    assert json.loads(delivery["body"])["job_id"] == job_id


def test_make_smoke_fails_at_the_upload_with_a_wrong_api_key(stack):
    done = make_smoke(UPLOAD_URL=stack.urls["upload"] + "/", STATUS_URL=stack.urls["status"], API_KEY="not-the-key")
    assert done.returncode == 2 and "Error 1" in done.stderr
    assert outcomes(done.stdout) == {"upload": "FAIL"}, done.stdout
    assert "invalid_api_key" in done.stdout and "api_key_hashes" in done.stdout


def test_make_smoke_without_a_deployment_says_what_itneeds():
    done = make_smoke()  # no URLs, and no Terraform state in this checkout
    assert done.returncode == 2 and "Error 2" in done.stderr
    assert "UPLOAD_URL" in done.stderr


def test_the_smoke_sample_is_the_bundled_receipt_made_unique():
    from PIL import Image

    receipt = receipts.sample_receipt(0, layout="nubank")
    assert (smoke.SAMPLE_AMOUNT, smoke.SAMPLE_TRANSACTION_ID) == (receipt.amount, receipt.transaction_id)
    first, second = smoke.unique_sample(), smoke.unique_sample()
    assert first != second  # a new job each run, not the last run's duplicate
    with Image.open(smoke.SAMPLE) as original, Image.open(io.BytesIO(first)) as unique:
        assert unique.tobytes() == original.tobytes()


def test_a_status_that_is_not_the_seeds_or_not_the_samples_fails_its_step():
    job_id = "ab" * 16
    good = {
        "job_id": job_id,
        "status": "finished",
        "created_at": "2026-01-01T00:00:00+00:00",
        "started_at": "2026-01-01T00:00:01+00:00",
        "ended_at": "2026-01-01T00:00:03+00:00",
        "result": {
            "success": True,
            "data": {
                "amount": smoke.SAMPLE_AMOUNT,
                "transaction_id": smoke.SAMPLE_TRANSACTION_ID,
                "validacao_recebedor": {"valid": None},
            },
        },
    }
    assert smoke.status_problems(good, job_id) == []
    assert smoke.status_problems({k: v for k, v in good.items() if k != "ended_at"}, job_id) == ["no ended_at"]
    wrong = json.loads(json.dumps(good))
    wrong["result"]["data"]["amount"] = 5039.0
    wrong["started_at"] = "yesterday"
    assert smoke.status_problems(wrong, job_id) == [
        "started_at 'yesterday' is not ISO 8601",
        f"amount 5039.0, expected {smoke.SAMPLE_AMOUNT}",
    ]
