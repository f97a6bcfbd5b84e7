"""Payment confirmation with the receiver's PSP (common.confirmation) against the fake PSP over
real mutual TLS: the adapter's token reuse and refresh, bounded retries, no credentials in
errors or logs; what the PSP's answer makes of a receipt (confirmed, mismatch, not found, an
ambiguous id settled); and the jobs that go through the real OCR function with it."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from common import config, confirmation, job, processing, reconcile, services, tenants
from tests.helpers import LocalFunctions, queue_file
from tools import fakepsp, receipts


def sample_pix(psp) -> dict:
    return psp.pix[receipts.sample_receipt(0, "nubank").transaction_id]


# --- the adapter ----------------------------------------------------------------------------------
def test_confirmation_is_off_by_default(settings):
    assert settings.pix_confirmation == "none"
    assert confirmation.from_settings(settings) is None
    assert services.get().psp is None


def test_api_pix_needs_its_settings_and_https():
    with pytest.raises(config.ConfigError, match="PIX_API_URL, PIX_CLIENT_ID, PIX_CLIENT_SECRET"):
        config.from_env({"PIX_CONFIRMATION": "api_pix"})
    base = {"PIX_CONFIRMATION": "api_pix", "PIX_CLIENT_ID": "id", "PIX_CLIENT_SECRET": "s3cr3t-value"}
    with pytest.raises(config.ConfigError, match="https"):
        config.from_env({**base, "PIX_API_URL": "http://psp.example"})
    with pytest.raises(config.ConfigError, match="go together"):
        config.from_env({**base, "PIX_API_URL": "https://psp.example", "PIX_CLIENT_CERT": "c.pem"})
    settings = config.from_env({**base, "PIX_API_URL": "https://psp.example/"})
    assert settings.pix_token_endpoint == "https://psp.example/oauth/token"
    assert "s3cr3t-value" not in repr(settings)  # a logged or printed Settings does not carry it


def test_the_token_is_reused_until_shortly_before_it_expires(psp, client):
    e2eid = sample_pix(psp)["endToEndId"]
    for _ in range(3):
        assert client.get_pix(e2eid)["endToEndId"] == e2eid
    assert psp.tokens_issued == 1 and client.tokens_fetched == 1
    short = fakepsp.FakePsp(psp.state_dir + "-short", token_lifetime=2).start()
    try:
        brief = confirmation.from_settings(config.from_env(short.env()))
        brief.get_pix(e2eid)
        brief.get_pix(e2eid)
        assert short.tokens_issued == 1
        time.sleep(1.9)  # 90% of a 2 s token gone: renewed before it runs out, never a 401
        brief.get_pix(e2eid)
        assert short.tokens_issued == 2
        assert all(r["status"] != 401 for r in short.responses)
    finally:
        short.stop()


def test_a_revoked_token_is_refreshed_once_on_401(psp, client):
    e2eid = sample_pix(psp)["endToEndId"]
    client.get_pix(e2eid)
    psp.revoke_tokens()
    assert client.get_pix(e2eid)["endToEndId"] == e2eid
    assert psp.tokens_issued == 2
    assert [r["status"] for r in psp.responses if r["path"] != "/oauth/token"] == [200, 401, 200]


def test_a_token_refused_again_after_the_refresh_is_not_retried_forever(tmp_path):
    dead = fakepsp.FakePsp(str(tmp_path / "dead"), token_lifetime=0).start()  # every token already expired
    try:
        adapter = confirmation.from_settings(config.from_env(dead.env()))
        with pytest.raises(confirmation.PspUnavailable, match="refused a fresh token"):
            adapter.get_pix(sample_pix(dead)["endToEndId"])
        assert dead.tokens_issued == 2
        assert [r["status"] for r in dead.responses if r["path"] != "/oauth/token"] == [401, 401]
    finally:
        dead.stop()


def test_a_psp_down_is_retried_within_bounds_then_unavailable(psp, tmp_path):
    adapter = confirmation.from_settings(config.from_env({**psp.env(), "PIX_RETRIES": "2"}))
    psp.unavailable = 100
    started = time.monotonic()
    with pytest.raises(confirmation.PspUnavailable, match="503"):
        adapter.get_pix(sample_pix(psp)["endToEndId"])
    assert time.monotonic() - started < 5  # 0.5 s + 1 s of backoff
    assert [r["status"] for r in psp.responses if r["path"] != "/oauth/token"] == [503, 503, 503]
    closed = {**psp.env(), "PIX_API_URL": "https://127.0.0.1:9", "PIX_RETRIES": "0", "PIX_TIMEOUT_SECONDS": "2"}
    with pytest.raises(confirmation.PspUnavailable, match="did not answer"):
        confirmation.from_settings(config.from_env(closed)).get_pix(sample_pix(psp)["endToEndId"])


def test_no_credential_reaches_an_error_or_a_log_line(psp, capsys):
    adapter = confirmation.from_settings(config.from_env({**psp.env(), "PIX_RETRIES": "1"}))
    e2eid = sample_pix(psp)["endToEndId"]
    adapter.get_pix(e2eid)
    psp.revoke_tokens()
    adapter.get_pix(e2eid)
    psp.unavailable = 10
    with pytest.raises(confirmation.PspUnavailable) as raised:
        adapter.get_pix(e2eid)
    wrong = config.from_env({**psp.env(), "PIX_CLIENT_SECRET": "wrong-secret-wrong-secret"})
    with pytest.raises(confirmation.PspUnavailable) as refused:
        confirmation.from_settings(wrong).get_pix(e2eid)
    out = capsys.readouterr()
    seen = out.out + out.err + str(raised.value) + str(refused.value) + repr(adapter)
    assert "token endpoint refused the client (401)" in str(refused.value)
    assert "psp_token_refused" in seen and "psp_retry" in seen  # the events are logged...
    secrets = [psp.client_secret, "wrong-secret-wrong-secret", *psp.tokens]
    assert psp.tokens_issued == 2 and not any(s in seen for s in secrets)  # ...without any credential
    assert e2eid not in seen  # nor the payment's id (a receipt's data stays out of the logs)


# --- what the PSP's answer means --------------------------------------------------------------
def receipt_data(receipt) -> dict:
    """`result.data` as the extractor gives it for a receipt read exactly."""
    return {
        "amount": receipt.amount,
        "transaction_id": receipt.transaction_id,
        "paid_at": receipt.paid_at.isoformat(),
        "payer": {"name": receipt.payer_name, "document": receipt.payer_document},
        "confidence": {"transaction_id": 0.95},
        "needs_review": False,
        "review_reasons": [],
    }


def test_a_received_pix_confirms_the_receipt(psp, client, settings):
    receipt = receipts.sample_receipt(0, "nubank")
    data = receipt_data(receipt)
    result = confirmation.confirm(client, data, settings)
    assert result["confirmed"] is True and result["source"] == "api_pix" and result["mismatches"] == []
    assert result["valor"] == receipt.amount and result["horario"] == sample_pix(psp)["horario"]
    assert result["pagador"]["nome"] == receipt.payer_name
    assert result["pagador"]["documento"].startswith("***.") and result["pagador"]["documento"].endswith("-**")
    assert data["needs_review"] is False and "transaction_id_source" not in data


def test_an_amount_that_differs_from_the_psps_is_a_mismatch(psp, client, settings):
    data = receipt_data(receipts.sample_receipt(0, "nubank"))
    data["amount"] = round(data["amount"] + 100, 2)  # an edited screenshot
    result = confirmation.confirm(client, data, settings)
    assert result["confirmed"] is False
    assert [m["field"] for m in result["mismatches"]] == ["valor"]
    assert data["needs_review"] is True and "payment_mismatch" in data["review_reasons"]


def test_a_pix_to_another_key_than_ours_is_a_mismatch(psp, client):
    ours = config.from_env({"EXPECTED_RECEIVER_PIX_KEYS": "contato@nossaloja.com.br"})
    data = receipt_data(receipts.sample_receipt(0, "nubank"))
    result = confirmation.confirm(client, data, ours)
    assert result["confirmed"] is False and [m["field"] for m in result["mismatches"]] == ["chave"]
    assert "payment_mismatch" in data["review_reasons"]
    theirs = config.from_env({"EXPECTED_RECEIVER_PIX_KEYS": sample_pix(psp)["chave"]})
    assert confirmation.confirm(client, receipt_data(receipts.sample_receipt(0, "nubank")), theirs)["confirmed"]


def test_the_key_compared_is_the_jobs_tenants_own_receiver(psp, client):
    import hashlib
    import json

    digest = hashlib.sha256(b"a-key-of-acme-000000").hexdigest()
    table = {"acme": {"api_key_hashes": [digest], "expected_receiver_pix_keys": ["pix@acme.example"]}}
    settings = config.from_env(
        {"TENANTS": json.dumps(table), "EXPECTED_RECEIVER_PIX_KEYS": sample_pix(psp)["chave"], "API_KEY_HASHES": ""}
    )
    acme = tenants.expected_receiver(settings, "acme")
    data = receipt_data(receipts.sample_receipt(0, "nubank"))
    result = confirmation.confirm(client, data, settings, receiver=acme)
    assert [m["field"] for m in result["mismatches"]] == ["chave"]  # not acme's key, though the default one
    default = tenants.expected_receiver(settings, "default")
    assert confirmation.confirm(client, receipt_data(receipts.sample_receipt(0, "nubank")), settings, receiver=default)[
        "confirmed"
    ]


def test_an_id_the_psp_never_received_is_not_confirmed(psp, client, settings):
    data = receipt_data(receipts.sample_receipt(0, "inter"))
    result = confirmation.confirm(client, data, settings)
    assert result["confirmed"] is False and result["reason"] == "the receiver's PSP has no Pix with this id"
    assert data["needs_review"] is True and data["review_reasons"] == ["payment_not_found"]


def test_a_psp_down_leaves_the_payment_unknown_with_the_reason(psp, client, settings):
    psp.unavailable = 100
    data = receipt_data(receipts.sample_receipt(0, "nubank"))
    result = confirmation.confirm(client, data, settings)
    assert result["confirmed"] is None and result["reason"].startswith("PSP unavailable: the PSP answered GET")
    assert data["review_reasons"] == []  # not the receipt's fault


def test_an_ambiguous_id_is_settled_by_its_candidates(psp, client, settings):
    receipt = receipts.sample_receipt(0, "nubank")
    true_id = receipt.transaction_id
    misread = true_id[:-1] + ("l" if true_id[-1] != "l" else "I")
    data = {**receipt_data(receipt), "transaction_id": misread, "transaction_id_candidates": [misread, true_id]}
    data["review_reasons"], data["needs_review"] = ["id_ambiguous"], True
    result = confirmation.confirm(client, data, settings)
    assert result["confirmed"] is True and result["found_by"] == "candidates"
    assert data["transaction_id"] == true_id and data["transaction_id_source"] == "api_pix"
    assert data["needs_review"] is False and data["review_reasons"] == []


def test_an_id_no_candidate_settles_is_found_in_the_window_around_paid_at(psp, client, settings):
    receipt = receipts.sample_receipt(0, "itau")
    wrong = [receipt.transaction_id[:-2] + "zz", receipt.transaction_id[:-2] + "ZZ"]
    data = {**receipt_data(receipt), "transaction_id": wrong[0], "transaction_id_candidates": wrong}
    data["review_reasons"], data["needs_review"] = ["id_ambiguous"], True
    result = confirmation.confirm(client, data, settings)
    # the nubank sample's Pix has the same amount, payer and minute: the id's head tells them apart
    assert result["confirmed"] is True and result["found_by"] == "window"
    assert data["transaction_id"] == receipt.transaction_id and data["transaction_id_source"] == "api_pix"
    listing = [r for r in psp.requests if r["path"] == "/pix"]
    assert listing and listing[0]["query"]["inicio"] < listing[0]["query"]["fim"]
    # two Pix of that amount and payer in the window: the PSP cannot say which one, nothing is claimed
    twin = receipt.transaction_id[:21] + "abcdefghijk"  # same bank, same minute, same amount and payer
    psp.pix[twin] = {**fakepsp.pix_of(receipt), "endToEndId": twin}
    again = {**receipt_data(receipt), "transaction_id": wrong[0], "transaction_id_candidates": wrong}
    again["review_reasons"] = ["id_ambiguous"]
    result = confirmation.confirm(client, again, settings)
    assert result["confirmed"] is None and "2 Pix of this amount" in result["reason"]
    assert again["transaction_id"] == wrong[0] and again["review_reasons"] == ["id_ambiguous"]


def test_documents_are_masked():
    assert confirmation.mask_document("123.456.789-09") == "***.456.789-**"
    assert confirmation.mask_document("12345678000195") == "12.345.678/****-**"
    assert confirmation.mask_document("") is None


# --- jobs through the real OCR function ---------------------------------------------------------------
@pytest.fixture
def ocr(make_client, psp):
    return make_client("ocr", **psp.env())


def test_with_confirmation_off_the_result_has_no_validacao_pagamento(make_client, sample):
    ocr = make_client("ocr")
    doc = queue_file(sample["pdf"], "application/pdf")
    body = ocr.post("/", json={"job_id": doc["job_id"]}).get_json()
    assert body["status"] == "finished" and "validacao_pagamento" not in body["result"]["data"]
    assert "confirmation" not in services.get().jobs.get(doc["job_id"])


def test_a_paid_receipt_finishes_confirmed(ocr, sample, psp):
    doc = queue_file(sample["pdf"], "application/pdf")
    body = ocr.post("/", json={"job_id": doc["job_id"]}).get_json()
    payment = body["result"]["data"]["validacao_pagamento"]
    assert (payment["confirmed"], payment["source"], payment["valor"]) == (True, "api_pix", sample["receipt"].amount)
    assert set(body) >= {"job_id", "status", "result", "created_at", "started_at", "ended_at"}


def test_a_receipt_the_psp_never_received_needs_review(ocr):
    receipt = receipts.sample_receipt(0, "inter")
    doc = queue_file(receipts.render_pdf(receipt, "inter"), "application/pdf")
    data = ocr.post("/", json={"job_id": doc["job_id"]}).get_json()["result"]["data"]
    assert data["validacao_pagamento"]["confirmed"] is False
    assert data["needs_review"] is True and "payment_not_found" in data["review_reasons"]


def test_a_psp_down_then_the_reconciler_confirms_and_sends_the_webhook(ocr, sample, psp, monkeypatch):
    monkeypatch.setenv("WEBHOOK_SECRETS", "*=" + "w" * 32)
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("PIX_RETRIES", "0")
    services.reset()
    app = services.get()
    doc = queue_file(sample["pdf"], "application/pdf")
    app.jobs.update(doc["job_id"], lambda d: {**d, "callback_url": "http://127.0.0.1:9/hook", "callback_key": "*"})
    psp.unavailable = 1000
    done = processing.run_job(app, doc["job_id"]).doc
    assert done["status"] == "finished"
    assert done["result"]["data"]["validacao_pagamento"]["confirmed"] is None
    assert done["confirmation"]["status"] == "pending" and done["confirmation"]["attempts"] == 1
    first_delivery = done["notification"]["delivery_id"]

    assert reconcile.reconcile_once(app)["payments_rechecked"] == 0  # its backoff has not run out
    later = job.now() + timedelta(seconds=61)
    assert reconcile.reconcile_once(app, at=later)["payments_rechecked"] == 1  # still down: backs off
    still = app.jobs.get(doc["job_id"])
    assert (
        still["confirmation"]["attempts"] == 2 and still["result"]["data"]["validacao_pagamento"]["confirmed"] is None
    )

    psp.unavailable = 0
    much_later = job.now() + timedelta(seconds=200)
    assert reconcile.reconcile_once(app, at=much_later)["payments_rechecked"] == 1
    known = app.jobs.get(doc["job_id"])
    assert known["result"]["data"]["validacao_pagamento"]["confirmed"] is True
    assert known["confirmation"]["status"] == "done"
    assert known["notification"]["delivery_id"] != first_delivery  # a new webhook is due
    assert app.jobs.pending_confirmations() == []
    body = json.loads(json.dumps(job.status_json(known)))
    assert body["result"]["data"]["validacao_pagamento"]["confirmed"] is True


def test_a_recheck_that_keeps_failing_gives_up_with_null(ocr, sample, psp, monkeypatch):
    monkeypatch.setenv("PIX_RETRIES", "0")
    monkeypatch.setenv("PIX_RECHECK_MAX_ATTEMPTS", "2")
    services.reset()
    app = services.get()
    psp.unavailable = 1000
    doc = queue_file(sample["pdf"], "application/pdf")
    processing.run_job(app, doc["job_id"])
    reconcile.reconcile_once(app, at=job.now() + timedelta(seconds=61))
    gave_up = app.jobs.get(doc["job_id"])
    assert gave_up["confirmation"]["status"] == "gave_up"
    assert gave_up["result"]["data"]["validacao_pagamento"]["confirmed"] is None
    assert app.jobs.pending_confirmations() == []


# --- the push side: the PSP's webhook on the upload function --------------------------------------
SECRET = "push-secret-0123456789"


@pytest.fixture
def upload(make_client, psp):
    return make_client("upload", PIX_WEBHOOK_SECRET=SECRET, **psp.env())


def test_the_webhook_records_each_pix_and_confirms_the_job_waiting_on_it(upload, ocr, psp):
    receipt = receipts.sample_receipt(0, "inter")  # the sample whose Pix the PSP has not received
    doc = queue_file(receipts.render_pdf(receipt, "inter"), "application/pdf")
    before = ocr.post("/", json={"job_id": doc["job_id"]}).get_json()
    assert before["result"]["data"]["validacao_pagamento"]["confirmed"] is False
    pix = fakepsp.pix_of(receipt)
    response = upload.post(f"/pix-webhook/{SECRET}/pix", json={"pix": [pix]})
    assert (response.status_code, response.get_json()) == (200, {"received": 1, "confirmed": 1})
    after = services.get().jobs.get(doc["job_id"])
    data = after["result"]["data"]
    assert data["validacao_pagamento"]["confirmed"] is True and data["validacao_pagamento"]["found_by"] == "pushed"
    assert "payment_not_found" not in data["review_reasons"]
    assert services.get().jobs.get_pix(receipt.transaction_id) == pix


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"pix": "E1"},
        {"pix": [{"endToEndId": "short", "valor": "1.00", "horario": "2025-01-01T00:00:00Z"}]},
        {"pix": [{"endToEndId": "E" + "1" * 31, "valor": "1,00", "horario": "2025-01-01T00:00:00Z"}]},
        {"pix": [{"endToEndId": "E" + "1" * 31, "valor": "1.00", "horario": "ontem"}]},
    ],
)
def test_a_bad_push_is_refused_whole_and_stores_nothing(upload, body):
    good = {"endToEndId": "E" + "2" * 31, "valor": "1.00", "horario": "2025-01-01T00:00:00Z"}
    payload = {"pix": [good, *body["pix"]]} if isinstance(body, dict) and isinstance(body["pix"], list) else body
    response = upload.post(f"/pix-webhook/{SECRET}/pix", json=payload)
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_pix_notification"
    assert services.get().jobs.get_pix(good["endToEndId"]) is None


def test_the_webhook_needs_its_secret_and_the_verified_certificate_header(make_client, psp):
    pix = {"endToEndId": "E" + "3" * 31, "valor": "1.00", "horario": "2025-01-01T00:00:00Z"}
    off = make_client("upload", **psp.env())  # no PIX_WEBHOOK_SECRET: there is no endpoint
    assert off.post(f"/pix-webhook/{SECRET}/pix", json={"pix": [pix]}).status_code == 404
    upload = make_client(
        "upload", PIX_WEBHOOK_SECRET=SECRET, PIX_WEBHOOK_CERT_HEADER="X-Client-Cert-Verified", **psp.env()
    )
    wrong = upload.post("/pix-webhook/not-the-secret-at-all/pix", json={"pix": [pix]})
    assert (wrong.status_code, wrong.get_json()["code"]) == (404, "not_found")
    unverified = upload.post(f"/pix-webhook/{SECRET}/pix", json={"pix": [pix]})
    assert (unverified.status_code, unverified.get_json()["code"]) == (403, "client_certificate_required")
    assert upload.get(f"/pix-webhook/{SECRET}/pix").status_code == 405
    verified = upload.post(
        f"/pix-webhook/{SECRET}/pix", json={"pix": [pix]}, headers={"X-Client-Cert-Verified": "true"}
    )
    assert verified.status_code == 200 and services.get().jobs.get_pix(pix["endToEndId"]) == pix


def test_push_before_and_after_upload_through_the_running_functions(psp, tmp_path):
    """The fake PSP calls the upload function back over a real socket, as a PSP would."""
    functions = LocalFunctions(str(tmp_path), PIX_WEBHOOK_SECRET=SECRET, **psp.env()).start()
    try:
        adapter = confirmation.from_settings(config.from_env(psp.env()))
        early, late = receipts.sample_receipt(5, "nubank"), receipts.sample_receipt(0, "inter")
        for receipt in (early, late):
            adapter.register_webhook(
                fakepsp.pix_of(receipt)["chave"], f"{functions.urls['upload']}/pix-webhook/{SECRET}"
            )
        # pushed before its receipt is uploaded: the job is confirmed at once, without asking the PSP
        (callback,) = psp.receive(fakepsp.pix_of(early))
        assert callback["status"] == 200
        body = upload_pdf(functions, early)
        payment = body["result"]["data"]["validacao_pagamento"]
        assert (payment["confirmed"], payment["found_by"]) == (True, "pushed")
        assert not [r for r in psp.requests if r["path"] == f"/pix/{early.transaction_id}"]
        # uploaded before its Pix arrives: not found, then confirmed by the push
        body = upload_pdf(functions, late)
        assert body["result"]["data"]["validacao_pagamento"]["confirmed"] is False
        (callback,) = psp.receive(fakepsp.pix_of(late))
        assert callback["status"] == 200
        status = get_json(f"{functions.urls['status']}/jobs/{body['job_id']}/status")
        assert status["result"]["data"]["validacao_pagamento"]["confirmed"] is True
        assert status["result"]["data"]["needs_review"] is False
    finally:
        functions.stop()


def upload_pdf(functions, receipt) -> dict:
    import requests

    pdf = receipts.render_pdf(receipt, "nubank" if receipt.bank == "Nubank" else "inter")
    answer = requests.post(
        functions.urls["upload"] + "/", files={"file": ("r.pdf", pdf, "application/pdf")}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def get_json(url: str) -> dict:
    import requests

    return requests.get(url, timeout=30).json()


def test_a_push_that_crossed_the_running_job_is_applied_when_it_finishes(ocr, psp):
    receipt = receipts.sample_receipt(0, "inter")
    app = services.get()
    doc = queue_file(receipts.render_pdf(receipt, "inter"), "application/pdf")
    done = processing.run_job(app, doc["job_id"]).doc
    assert done["result"]["data"]["validacao_pagamento"]["confirmed"] is False
    # the push landed after the job's check and before it finished: recorded, no finished job to confirm
    app.jobs.record_pix(receipt.transaction_id, fakepsp.pix_of(receipt), job.iso(job.now()))
    confirmation.after_finish(app, done)
    assert app.jobs.get(doc["job_id"])["result"]["data"]["validacao_pagamento"]["confirmed"] is True


def test_register_webhook_from_the_command_line(psp, monkeypatch, capsys):
    for name, value in psp.env().items():
        monkeypatch.setenv(name, value)
    url = "https://front.example/pix-webhook/" + SECRET
    assert confirmation.main(["register-webhook", "+5511999998888", url]) == 0
    assert psp.webhooks == {"+5511999998888": url}
    assert url + "/pix" in capsys.readouterr().out
