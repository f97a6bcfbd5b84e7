"""Structured logs: one JSON object per line, and nothing secret or personal in them."""

import hashlib
import io
import json

from common import documents


def test_a_processed_receipt_leaves_no_key_name_or_document_in_the_logs(make_client, sample, capsys):
    key = "chave-secreta-de-teste-123"
    env = {"REQUIRE_API_KEY": "true", "API_KEY_HASHES": hashlib.sha256(key.encode()).hexdigest()}
    upload, status = make_client("upload", **env), make_client("status", **env)
    body = upload.post("/", data={"file": (io.BytesIO(sample["png"]), "r.png"), "pedido_id": "PED-9"},
                       content_type="multipart/form-data", headers={"X-API-Key": key}).get_json()
    assert body["status"] == "finished"
    status.get(f"/jobs/{body['job_id']}/status", headers={"X-API-Key": key})
    status.get(f"/jobs/{body['job_id']}/status", headers={"X-API-Key": "wrong-" + key})
    out = capsys.readouterr().out
    receipt = sample["receipt"]
    secrets = [key, receipt.payer_name, receipt.receiver_name, receipt.receiver_pix_key,
               documents.visible(receipt.payer_document), documents.visible(receipt.receiver_document)]
    for secret in secrets:
        assert secret not in out, f"{secret!r} leaked into the logs"
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert {"job_queued", "job_started", "job_finished", "request_rejected"} <= {r["event"] for r in records}
    assert all(r["severity"] and r["message"] for r in records)
