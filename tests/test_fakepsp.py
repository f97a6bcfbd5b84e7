"""The fake PSP against the BCB API Pix spec: every request the pipeline's client sends and every
answer the fake returns (including its errors and its webhook calls back) validate against the
spec's operations and component schemas; mutual TLS refuses a client without its certificate."""

from __future__ import annotations

import http.server
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests

from common import config, confirmation
from tests.helpers import api_pix_spec
from tools import fakepsp, receipts


class Receiver:
    """A plain HTTP server standing for the pipeline's webhook endpoint: it keeps what it got."""

    def __init__(self):
        self.bodies: list[dict] = []
        bodies = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                bodies.append(
                    {"path": self.path, "json": json.loads(self.rfile.read(int(self.headers["Content-Length"])))}
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pix-webhook/s3cr3t-s3cr3t-s3cr3t"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_spec_erratum_patched_for_get_pix_is_still_there():
    spec = api_pix_spec()
    raw = spec.raw["components"]["schemas"]["PixConsultados"]
    assert raw["required"] == ["parametros", "cobs"]  # the cob listing's field, in the Pix listing
    example = spec.raw["components"]["examples"]["getPix1"]["value"]
    assert "cobs" not in example and "pix" in example  # the spec's own example has pix, not cobs


def test_every_exchange_of_the_client_with_the_fake_validates_against_the_spec(psp, client):
    spec = api_pix_spec()
    sample = next(iter(psp.pix))
    assert client.get_pix(sample)["endToEndId"] == sample
    assert client.get_pix("E00000000202501010000AAAAAAAAAAA") is None  # 404, a Problema
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert {p["endToEndId"] for p in client.list_pix(start, start + timedelta(days=365))} == set(psp.pix)
    client.register_webhook("+5511999998888", "https://receiver.example/pix-webhook/abc")
    psp.unavailable = 3  # 503 answers: a Problema too
    with pytest.raises(confirmation.PspUnavailable):
        client.get_pix(sample)

    api_calls = [r for r in psp.requests if r["path"] != "/oauth/token"]
    assert {(r["method"], r["path"].split("/")[1]) for r in api_calls} == {("GET", "pix"), ("PUT", "webhook")}
    for request in api_calls:
        assert request["client_cert"]
        assert spec.request_errors(request["method"], request["path"], request["query"], request["json"]) == []
    for response in psp.responses:
        if response["path"] == "/oauth/token":
            continue
        errors = spec.response_errors(response["method"], response["path"], response["status"], response["json"])
        assert errors == [], (response, errors)
    assert {r["status"] for r in psp.responses if r["path"] != "/oauth/token"} == {200, 404, 503}


def test_the_token_request_is_oauth2_client_credentials(psp, client):
    client.get_pix(next(iter(psp.pix)))
    (token_request,) = [r for r in psp.requests if r["path"] == "/oauth/token"]
    assert token_request["method"] == "POST" and token_request["content_type"] == "application/x-www-form-urlencoded"
    (answer,) = [r for r in psp.responses if r["path"] == "/oauth/token"]
    assert answer["status"] == 200 and answer["json"]["token_type"] == "Bearer" and answer["json"]["expires_in"] > 0
    # RFC 6749 4.4: a wrong secret gets invalid_client, and no token
    wrong = requests.post(
        psp.url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(fakepsp.CLIENT_ID, "not-the-secret"),
        cert=(psp.files["client_cert"], psp.files["client_key"]),
        verify=psp.files["ca"],
        timeout=10,
    )
    assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client"})


def test_the_webhook_calls_back_with_a_body_the_spec_describes(psp, client):
    receiver = Receiver()
    try:
        client.register_webhook("+5511999998888", receiver.url)
        receipt = receipts.sample_receipt(7, "inter")
        pix = {**fakepsp.pix_of(receipt), "chave": "+5511999998888"}
        (callback,) = psp.receive(pix)
    finally:
        receiver.stop()
    assert callback["status"] == 200
    (got,) = receiver.bodies
    assert got["path"].endswith("/pix-webhook/s3cr3t-s3cr3t-s3cr3t/pix")  # {webhookUrl}/pix
    assert api_pix_spec().callback_errors(got["json"]) == []
    assert got["json"]["pix"][0]["endToEndId"] == receipt.transaction_id


def test_the_spec_check_catches_what_the_spec_forbids():
    spec = api_pix_spec()
    assert spec.errors({"endToEndId": "E1", "valor": "10", "horario": "ontem"}, spec.schema("Pix"))
    assert spec.request_errors("GET", "/pix", {"fim": "2025-01-01T00:00:00Z"}, None) == [
        "query parameter inicio missing"
    ]
    assert spec.response_errors("GET", "/pix/E00000000202501010000AAAAAAAAAAA", 500, None)


def test_the_seed_holds_the_bundled_samples_pix_but_not_the_unpaid_one(psp):
    paid = {receipts.sample_receipt(0, layout).transaction_id for layout in fakepsp.PAID_SAMPLES}
    assert set(psp.pix) == paid
    assert receipts.sample_receipt(0, "inter").transaction_id not in psp.pix
    spec = api_pix_spec()
    for pix in psp.pix.values():
        assert spec.errors(pix, spec.schema("Pix")) == []


def test_no_client_certificate_no_connection(psp):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(psp.url + "/pix/" + next(iter(psp.pix)), verify=psp.files["ca"], timeout=10)
    # a certificate the fake's CA did not sign is refused the same way
    other = fakepsp.FakePsp(psp.state_dir + "-other", seed=False)
    try:
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(
                psp.url + "/pix",
                cert=(other.files["client_cert"], other.files["client_key"]),
                verify=psp.files["ca"],
                timeout=10,
            )
    finally:
        other.stop()
    assert psp.requests == []  # nothing got past the handshake


def test_the_adapter_without_its_certificate_counts_the_psp_as_unavailable(psp):
    env = {**psp.env(), "PIX_CLIENT_CERT": "", "PIX_CLIENT_KEY": "", "PIX_RETRIES": "0"}
    with pytest.raises(confirmation.PspUnavailable, match="did not answer POST /oauth/token: SSLError"):
        confirmation.from_settings(config.from_env(env)).get_pix(next(iter(psp.pix)))
    assert psp.requests == []
