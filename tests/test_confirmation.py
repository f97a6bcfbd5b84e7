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


# --- one PSP per tenant: TENANTS `psp`, each with its own credentials, token and webhook secret -----
DIGEST_ACME, DIGEST_BETA, DIGEST_GAMMA = ("a" * 64, "b" * 64, "c" * 64)
SECRET_ACME, SECRET_BETA = "push-secret-of-acme-0123", "push-secret-of-beta-0123"


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store_env(request) -> dict:
    """The job store: the test's SQLite file, or the Firestore emulator (emptied)."""
    return request.getfixturevalue("firestore_env") if request.param == "firestore" else {}


@pytest.fixture
def banks(tmp_path, psp):
    """Two more fake PSPs, each its own bank (its own CA, certificates and OAuth2 client): acme's
    has received the samples' Pix, beta's none. `psp` (the fixture) is the PIX_* configuration."""
    acme = fakepsp.FakePsp(str(tmp_path / "bank-acme"), client_id="acme-at-bank-a").start()
    beta = fakepsp.FakePsp(str(tmp_path / "bank-beta"), client_id="beta-at-bank-b", seed=False).start()
    yield acme, beta
    acme.stop()
    beta.stop()


def tenants_env(psp, acme, beta) -> dict[str, str]:
    """acme and beta with PSPs of their own (secrets in variables), gamma on the PIX_* one."""
    table = {
        "acme": {"api_key_hashes": [DIGEST_ACME], "psp": acme.tenant_psp("PIX_ACME_SECRET", "PIX_ACME_WEBHOOK")},
        "beta": {"api_key_hashes": [DIGEST_BETA], "psp": beta.tenant_psp("PIX_BETA_SECRET", "PIX_BETA_WEBHOOK")},
        "gamma": {"api_key_hashes": [DIGEST_GAMMA]},
    }
    return {
        **psp.env(),
        "TENANTS": json.dumps(table),
        "PIX_ACME_SECRET": acme.client_secret,
        "PIX_ACME_WEBHOOK": SECRET_ACME,
        "PIX_BETA_SECRET": beta.client_secret,
        "PIX_BETA_WEBHOOK": SECRET_BETA,
        "PIX_WEBHOOK_SECRET": SECRET,
    }


def test_a_tenants_psp_takes_its_secrets_from_the_variables_it_names(tmp_path):
    acme = fakepsp.FakePsp(str(tmp_path / "acme"), client_id="acme-client")  # never started: its files
    table = {"acme": {"api_key_hashes": [DIGEST_ACME], "psp": acme.tenant_psp("PIX_ACME_SECRET")}}
    env = {"PIX_CONFIRMATION": "api_pix", "TENANTS": json.dumps(table), "PIX_ACME_SECRET": "the-secret-of-acme"}
    settings = config.from_env(env)  # no PIX_API_URL: tenants without a psp of their own are not confirmed
    own = tenants.own_psp(settings, "acme")
    assert (own.client_id, own.client_secret, own.token_endpoint) == (
        "acme-client",
        "the-secret-of-acme",
        acme.url + "/oauth/token",
    )
    assert "the-secret-of-acme" not in repr(settings)
    assert tenants.own_psp(settings, "other") is None and tenants.psp_owner(settings, "other") == tenants.SHARED_PSP
    assert tenants.psp_owner(settings, "acme") == "acme"
    app = services.Services(settings)
    assert app.psp is None  # PIX_API_URL unset
    assert confirmation.psp_for(app, {"tenant": "other"}) is None  # no PIX_* configuration: none
    assert confirmation.psp_for(app, {"tenant": "acme"}) is app.psp_of("acme")  # built once
    with pytest.raises(config.ConfigError, match="PIX_ACME_SECRET, which is not set"):
        config.from_env({**env, "PIX_ACME_SECRET": ""})


@pytest.mark.parametrize(
    ("psp", "message"),
    [
        ({"client_secret": "inline-secret-value"}, "client_secret does not go in TENANTS"),
        ({"webhook_secret": "inline-secret-value"}, "webhook_secret does not go in TENANTS"),
        ({"client_secret_env": ""}, "needs client_secret_env"),
        ({"client_secret_env": "not a variable"}, "must name an environment variable"),
        ({"api_url": "http://bank.example"}, "api_url must be the https://"),
        ({"client_id": ""}, "needs client_id"),
        ({"client_key": ""}, "client_cert and client_key go together"),
        ({"webhook_secret_env": "SHORT"}, "at least 16 characters"),
        ({"webhook_secret_env": "SHARED"}, "secrets of their own"),
        ({"colour": "blue"}, "unknown \\['colour'\\]"),
        ({"client_id": 7}, "every field is a string"),
    ],
)
def test_a_bad_tenant_psp_is_refused_at_start_without_echoing_a_value(psp, message):
    good = {
        "api_url": "https://bank.example/api/v2",
        "client_id": "id",
        "client_secret_env": "SECRET",
        "client_cert": "c.pem",
        "client_key": "k.pem",
    }
    env = {
        "PIX_CONFIRMATION": "api_pix",
        "TENANTS": json.dumps({"acme": {"api_key_hashes": [DIGEST_ACME], "psp": {**good, **psp}}}),
        "SECRET": "the-client-secret-value",
        "SHORT": "short",
        "SHARED": SECRET,
        "PIX_WEBHOOK_SECRET": SECRET,
    }
    with pytest.raises(config.ConfigError, match=message) as refused:
        config.from_env(env)
    assert "the-client-secret-value" not in str(refused.value)
    assert "inline-secret-value" not in str(refused.value) and SECRET not in str(refused.value)


def test_each_tenant_is_asked_of_its_own_psp_with_its_own_token(make_client, psp, banks, sample):
    acme, beta = banks
    ocr = make_client("ocr", **tenants_env(psp, acme, beta))
    app = services.get()
    e2eid = sample["receipt"].transaction_id
    jobs = {tenant: queue_file(sample["pdf"], "application/pdf", tenant=tenant) for tenant in ("acme", "beta", "gamma")}
    payments = {
        tenant: ocr.post("/", json={"job_id": doc["job_id"]}).get_json()["result"]["data"]["validacao_pagamento"]
        for tenant, doc in jobs.items()
    }
    assert payments["acme"]["confirmed"] is True  # acme's bank received it
    assert payments["beta"]["confirmed"] is False  # beta's bank never did: the same id is not beta's payment
    assert payments["gamma"]["confirmed"] is True  # gamma is on the PIX_* configuration
    for bank in (acme, beta, psp):  # each job asked of its own tenant's bank, once, with one token
        assert [r["path"] for r in bank.requests] == ["/oauth/token", f"/pix/{e2eid}"]
        assert bank.tokens_issued == 1
    adapters = [app.psp_of("acme"), app.psp_of("beta"), app.psp]
    assert len({id(a) for a in adapters}) == 3 and [a.tokens_fetched for a in adapters] == [1, 1, 1]
    again = queue_file(receipts.render_pdf(receipts.sample_receipt(1, "nubank"), "nubank"), "application/pdf", "acme")
    ocr.post("/", json={"job_id": again["job_id"]})
    assert acme.tokens_issued == 1 and app.psp_of("acme").tokens_fetched == 1  # acme's token reused
    assert beta.tokens_issued == 1 and psp.tokens_issued == 1  # and nobody else's fetched or used


def test_a_tenants_push_confirms_only_its_own_jobs(make_client, psp, banks, store_env):
    acme, beta = banks
    env = {**store_env, **tenants_env(psp, acme, beta)}
    ocr = make_client("ocr", **env)
    upload = make_client("upload", **env)
    app = services.get()
    receipt = receipts.sample_receipt(0, "inter")  # the Pix no bank has received yet
    pdf = receipts.render_pdf(receipt, "inter")
    jobs = {tenant: queue_file(pdf, "application/pdf", tenant=tenant)["job_id"] for tenant in ("acme", "beta", "gamma")}
    for job_id in jobs.values():
        assert (
            ocr.post("/", json={"job_id": job_id}).get_json()["result"]["data"]["validacao_pagamento"]["confirmed"]
            is False
        )

    def confirmed() -> dict:
        return {t: app.jobs.get(i)["result"]["data"]["validacao_pagamento"]["confirmed"] for t, i in jobs.items()}

    pix = fakepsp.pix_of(receipt)
    answer = upload.post(f"/pix-webhook/{SECRET_ACME}/pix", json={"pix": [pix]})  # acme's bank pushes it
    assert (answer.status_code, answer.get_json()) == (200, {"received": 1, "confirmed": 1})
    assert confirmed() == {"acme": True, "beta": False, "gamma": False}
    assert app.jobs.get_pix(receipt.transaction_id, tenant="acme") == pix  # kept as acme's
    assert app.jobs.get_pix(receipt.transaction_id, tenant="beta") is None
    assert app.jobs.get_pix(receipt.transaction_id) is None  # not the PIX_* configuration's either

    answer = upload.post(f"/pix-webhook/{SECRET}/pix", json={"pix": [pix]})  # the PIX_* one: gamma's
    assert answer.get_json() == {"received": 1, "confirmed": 1}
    assert confirmed() == {"acme": True, "beta": False, "gamma": True}
    answer = upload.post(f"/pix-webhook/{SECRET_BETA}/pix", json={"pix": [pix]})
    assert answer.get_json() == {"received": 1, "confirmed": 1} and set(confirmed().values()) == {True}


def test_a_pix_pushed_by_one_tenants_psp_before_the_upload_is_only_that_tenants(make_client, psp, banks, store_env):
    acme, beta = banks
    env = {**store_env, **tenants_env(psp, acme, beta)}
    upload = make_client("upload", **env)
    receipt = receipts.sample_receipt(0, "inter")
    assert upload.post(f"/pix-webhook/{SECRET_ACME}/pix", json={"pix": [fakepsp.pix_of(receipt)]}).status_code == 200
    ocr = make_client("ocr", **env)
    pdf = receipts.render_pdf(receipt, "inter")
    found = {}
    for tenant in ("acme", "beta"):
        doc = queue_file(pdf, "application/pdf", tenant=tenant)
        found[tenant] = ocr.post("/", json={"job_id": doc["job_id"]}).get_json()["result"]["data"][
            "validacao_pagamento"
        ]
    assert (found["acme"]["confirmed"], found["acme"]["found_by"]) == (True, "pushed")
    assert not [r for r in acme.requests if r["path"].startswith("/pix/")]  # confirmed without asking
    assert found["beta"]["confirmed"] is False  # acme's push is not news for beta: beta's bank is asked
    assert [r["path"] for r in beta.requests] == ["/oauth/token", f"/pix/{receipt.transaction_id}"]


def test_register_webhook_for_a_tenants_own_psp(psp, banks, monkeypatch, capsys):
    acme, beta = banks
    for name, value in tenants_env(psp, acme, beta).items():
        monkeypatch.setenv(name, value)
    url = "https://front.example/pix-webhook/" + SECRET_ACME
    assert confirmation.main(["register-webhook", "--tenant", "acme", "+5511999998888", url]) == 0
    assert acme.webhooks == {"+5511999998888": url} and psp.webhooks == {} and beta.webhooks == {}
    assert confirmation.main(["register-webhook", "--tenant", "gamma", "+5511999998888", url]) == 1
    assert "no tenant 'gamma' with a psp" in capsys.readouterr().err
