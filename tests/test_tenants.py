"""Tenants (common.tenants) through the real upload and status functions, with two API keys A and
B, on SQLite and on the Firestore emulator: each tenant sees only its own jobs (status, listing,
counts), the same bytes from another tenant are a new job, `duplicate_of` stays within a tenant,
webhooks are signed with each tenant's own secret, and a tenant's own view is what it was."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from common import auth, config, job, notify, services, tenants
from common.config import ConfigError
from tests.helpers import wait_for_notification
from tools import receipts

KEY_A, KEY_B = "tenant-a-key-0123456789", "tenant-b-key-0123456789"
DIGEST_A, DIGEST_B = (hashlib.sha256(k.encode()).hexdigest() for k in (KEY_A, KEY_B))
SECRET_A, SECRET_B = "secret-of-tenant-a-000", "secret-of-tenant-b-000"


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store_env(request) -> dict:
    """The job store's environment: the default SQLite file, or the Firestore emulator (emptied)."""
    return request.getfixturevalue("firestore_env") if request.param == "firestore" else {}


@pytest.fixture
def functions(make_client, store_env):
    """(upload, status) test clients built by functions-framework, keys A and B required."""

    def build(**env):
        settings = {
            "REQUIRE_API_KEY": "true",
            "API_KEY_HASHES": f"{DIGEST_A},{DIGEST_B}",
            "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
            "WEBHOOK_SECRETS": f"{DIGEST_A}={SECRET_A},{DIGEST_B}={SECRET_B}",
            "NOTIFY_BACKOFF_SECONDS": "0",
            **store_env,
            **env,
        }
        return make_client("upload", **settings), make_client("status", **settings)

    return build


@pytest.fixture(scope="module")
def other_pdf():
    """A second receipt (another payment) as a PDF."""
    return receipts.render_pdf(receipts.sample_receipt(1, layout="nubank"), "nubank")


def upload(client, key, data, name="r.pdf", **fields):
    response = client.post(
        "/",
        data={"file": (io.BytesIO(data), name), **fields},
        content_type="multipart/form-data",
        headers={"X-API-Key": key},
    )
    assert response.status_code in (200, 202), response.get_json()
    return response.get_json()


def status(client, key, job_id):
    return client.get(f"/jobs/{job_id}/status", headers={"X-API-Key": key})


def listing(client, key, query=""):
    response = client.get(f"/jobs{query}", headers={"X-API-Key": key})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_another_tenants_job_answers_404_like_an_unknown_one(functions, sample):
    up, st = functions()
    mine = upload(up, KEY_A, sample["pdf"], pedido_id="P-A1")
    assert mine["status"] == "finished"
    own = status(st, KEY_A, mine["job_id"])
    assert own.status_code == 200
    assert own.get_json()["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
    theirs = status(st, KEY_B, mine["job_id"])
    unknown_id = job.new_job_id()
    unknown = status(st, KEY_B, unknown_id)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.get_json() == {
        k: v.replace(unknown_id, mine["job_id"]) for k, v in unknown.get_json().items()
    }  # the same answer, word for word
    assert theirs.headers["Cache-Control"] == unknown.headers["Cache-Control"]
    body = json.dumps(theirs.get_json())
    assert "P-A1" not in body and sample["receipt"].payer_name not in body


def test_another_tenant_cannot_erase_a_job_and_its_owner_can(functions, sample):
    up, st = functions()
    mine = upload(up, KEY_A, sample["pdf"])
    theirs = st.delete(f"/jobs/{mine['job_id']}", headers={"X-API-Key": KEY_B})
    unknown = st.delete(f"/jobs/{job.new_job_id()}", headers={"X-API-Key": KEY_B})
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.get_json()["code"] == unknown.get_json()["code"] == "job_not_found"
    assert status(st, KEY_A, mine["job_id"]).status_code == 200  # still there
    # B's own upload of the same bytes is B's job; erasing A's keeps the receipt B still needs.
    same = upload(up, KEY_B, sample["pdf"])
    assert st.delete(f"/jobs/{mine['job_id']}", headers={"X-API-Key": KEY_A}).status_code == 204
    assert status(st, KEY_A, mine["job_id"]).status_code == 404
    assert status(st, KEY_B, same["job_id"]).status_code == 200
    assert services.get().blobs.exists(services.get().jobs.get(same["job_id"])["blob_name"])


def test_listing_and_counts_show_only_the_callers_jobs(functions, sample, other_pdf):
    up, st = functions()
    a = upload(up, KEY_A, sample["pdf"], pedido_id="P-A1")
    b = upload(up, KEY_B, other_pdf, pedido_id="P-B1")
    a_view, b_view = listing(st, KEY_A), listing(st, KEY_B)
    assert [j["job_id"] for j in a_view["jobs"]] == [a["job_id"]]
    assert [j["job_id"] for j in b_view["jobs"]] == [b["job_id"]]
    assert (
        a_view["counts"]
        == b_view["counts"]
        == {"queued": 0, "started": 0, "finished": 1, "failed": 0, "needs_review": 0}
    )
    assert "P-A1" not in json.dumps(b_view) and "P-B1" not in json.dumps(a_view)
    assert listing(st, KEY_B, "?status=finished")["jobs"] == b_view["jobs"]
    # A's cursor given to B walks B's jobs only.
    upload(up, KEY_A, receipts.render_pdf(sample["receipt"], "itau"))
    first = listing(st, KEY_A, "?limit=1")
    assert first["next_cursor"]
    assert listing(st, KEY_B, f"?limit=1&cursor={first['next_cursor']}")["jobs"] in ([], b_view["jobs"])
    # A's own view is the same status JSON the job store renders, no tenant in it.
    assert a_view["jobs"][0] == job.status_json(services.get().jobs.get(a["job_id"]))
    assert "tenant" not in a_view["jobs"][0]


def test_same_bytes_from_another_tenant_are_a_new_job_and_keep_its_callback(functions, sample, webhook_receiver):
    up, st = functions()
    a = upload(up, KEY_A, sample["pdf"])
    url = webhook_receiver.url("tenant-b", [200])
    b = upload(up, KEY_B, sample["pdf"], callback_url=url)
    assert (b["duplicate"], b["processing"]) == (False, "inline")
    assert b["job_id"] != a["job_id"] and b["sha256"] == a["sha256"]
    doc = wait_for_notification(b["job_id"])
    assert doc["callback_url"] == url and doc["notification"]["status"] == "delivered"
    [request] = webhook_receiver.received(url)
    assert json.loads(request["body"])["job_id"] == b["job_id"]
    # Within a tenant the duplicate check is what it was: A gets its own job back, B its own.
    again_a, again_b = upload(up, KEY_A, sample["pdf"]), upload(up, KEY_B, sample["pdf"])
    assert (again_a["duplicate"], again_a["job_id"]) == (True, a["job_id"])
    assert (again_b["duplicate"], again_b["job_id"]) == (True, b["job_id"])


def test_duplicate_of_names_only_a_job_of_the_same_tenant(functions, sample):
    up, st = functions()
    first_a = upload(up, KEY_A, sample["pdf"], pedido_id="P-A1")
    first_b = upload(up, KEY_B, sample["pdf"], pedido_id="P-B1")  # the same payment, another tenant
    b_data = status(st, KEY_B, first_b["job_id"]).get_json()["result"]["data"]
    assert "duplicate_of" not in b_data and "duplicate_transaction" not in b_data.get("review_reasons", [])
    # The same payment again for A (another file of it): flagged, and the first job named is A's.
    second_a = upload(up, KEY_A, receipts.render_pdf(sample["receipt"], "itau"), pedido_id="P-A2")
    assert second_a["duplicate"] is False
    a_data = status(st, KEY_A, second_a["job_id"]).get_json()["result"]["data"]
    assert a_data["transaction_id"] == sample["receipt"].transaction_id
    assert a_data["duplicate_of"]["job_id"] == first_a["job_id"] and a_data["duplicate_of"]["pedido_id"] == "P-A1"
    second_b = upload(up, KEY_B, receipts.render_pdf(sample["receipt"], "inter"), pedido_id="P-B2")
    b_again = status(st, KEY_B, second_b["job_id"]).get_json()["result"]["data"]
    assert b_again["duplicate_of"]["job_id"] == first_b["job_id"] and b_again["duplicate_of"]["pedido_id"] == "P-B1"


def test_webhooks_are_signed_with_each_tenants_own_secret(functions, sample, other_pdf, webhook_receiver):
    up, _ = functions()
    urls = {KEY_A: webhook_receiver.url("a", [200]), KEY_B: webhook_receiver.url("b", [200])}
    jobs = {
        key: upload(up, key, data, callback_url=urls[key]) for key, data in ((KEY_A, sample["pdf"]), (KEY_B, other_pdf))
    }
    for key, own, other in ((KEY_A, SECRET_A, SECRET_B), (KEY_B, SECRET_B, SECRET_A)):
        wait_for_notification(jobs[key]["job_id"])
        [request] = webhook_receiver.received(urls[key])
        headers = request["headers"]
        assert notify.verify(own, headers["X-Timestamp"], request["body"], headers["X-Signature"])
        assert not notify.verify(other, headers["X-Timestamp"], request["body"], headers["X-Signature"])


def test_the_shared_secret_signs_for_no_one_once_there_are_two_tenants(functions, sample, webhook_receiver):
    up, _ = functions(WEBHOOK_SECRETS=f"{DIGEST_A}={SECRET_A},*=secret-for-everyone-0")
    url = webhook_receiver.url("b", [200])
    refused = up.post(
        "/",
        data={"file": (io.BytesIO(sample["pdf"]), "r.pdf"), "callback_url": url},
        content_type="multipart/form-data",
        headers={"X-API-Key": KEY_B},
    )
    assert (refused.status_code, refused.get_json()["code"]) == (400, "webhooks_not_configured")
    assert services.get().jobs.list() == []  # nothing stored
    accepted = upload(up, KEY_A, sample["pdf"], callback_url=url)
    assert wait_for_notification(accepted["job_id"])["notification"]["status"] == "delivered"


def test_keys_of_a_named_tenant_share_its_jobs_and_its_receiver(functions, sample, webhook_receiver, capfd):
    """Rotation without downtime: old and new key act as one tenant. Its own expected receiver
    applies to its receipts; a digest-only tenant keeps EXPECTED_RECEIVER_*."""
    old_key, new_key = "acme-old-key-0123456789", "acme-new-key-0123456789"
    digests = [hashlib.sha256(k.encode()).hexdigest() for k in (old_key, new_key)]
    receipt = sample["receipt"]
    named = {"acme": {"api_key_hashes": digests, "expected_receiver_name": receipt.receiver_name}}
    up, st = functions(
        TENANTS=json.dumps(named),
        API_KEY_HASHES=DIGEST_B,
        EXPECTED_RECEIVER_NAME="Somebody Else Entirely",
        WEBHOOK_SECRETS=f"acme={SECRET_A},{DIGEST_B}={SECRET_B}",
    )
    url = webhook_receiver.url("acme", [200])
    first = upload(up, old_key, sample["pdf"], pedido_id="P-1", callback_url=url)
    assert first["result"]["data"]["validacao_recebedor"]["valid"] is True
    assert status(st, new_key, first["job_id"]).get_json()["pedido_id"] == "P-1"
    assert [j["job_id"] for j in listing(st, new_key)["jobs"]] == [first["job_id"]]
    assert upload(up, new_key, sample["pdf"])["job_id"] == first["job_id"]  # its duplicate, not a new job
    wait_for_notification(first["job_id"])
    [request] = webhook_receiver.received(url)
    assert notify.verify(
        SECRET_A, request["headers"]["X-Timestamp"], request["body"], request["headers"]["X-Signature"]
    )
    other = upload(up, KEY_B, sample["pdf"])
    assert other["job_id"] != first["job_id"]
    assert other["result"]["data"]["validacao_recebedor"]["valid"] is False
    assert status(st, KEY_B, first["job_id"]).status_code == 404
    # The stored identity is the tenant's name or the key's digest; no key is stored or logged.
    store = services.get().jobs
    assert store.get(first["job_id"])["tenant"] == "acme" and store.get(other["job_id"])["tenant"] == DIGEST_B
    stored = json.dumps([store.get(first["job_id"]), store.get(other["job_id"])])
    logged = "".join(capfd.readouterr())
    for key in (old_key, new_key, KEY_B):
        assert key not in stored and key not in logged


def test_without_keys_everything_is_the_default_tenants(make_client, store_env, sample):
    up, st = make_client("upload", **store_env), make_client("status", **store_env)
    done = up.post(
        "/", data={"file": (io.BytesIO(sample["pdf"]), "r.pdf")}, content_type="multipart/form-data"
    ).get_json()
    assert services.get().jobs.get(done["job_id"])["tenant"] == tenants.DEFAULT
    assert st.get(f"/jobs/{done['job_id']}/status").status_code == 200
    assert [j["job_id"] for j in st.get("/jobs").get_json()["jobs"]] == [done["job_id"]]


def test_the_reconciler_and_the_ocr_side_see_every_tenants_jobs(store_env, sample, other_pdf, monkeypatch):
    """Only callers are scoped: the reconciler rescues queued jobs of every tenant, and each job is
    processed with its own tenant's transaction index."""
    from datetime import timedelta

    from common import reconcile, validation

    for name, value in {"RECONCILE_QUEUED_AFTER_SECONDS": "60", **store_env}.items():
        monkeypatch.setenv(name, value)
    services.reset()
    app = services.get()
    queued = []
    for tenant, data in (("acme", sample["pdf"]), (DIGEST_B, other_pdf), (DIGEST_B, sample["pdf"])):
        sha = validation.calculate_file_hash(io.BytesIO(data))
        name = validation.generate_secure_filename(sha, "application/pdf")
        app.blobs.put(name, io.BytesIO(data), "application/pdf")
        new = job.new_job(sha256=sha, blob_name=name, content_type="application/pdf", size=len(data), tenant=tenant)
        queued.append(app.jobs.create(new)[0])
    assert len({d["job_id"] for d in queued}) == 3  # B's copy of acme's bytes is B's own job
    assert reconcile.reconcile_once(app, at=job.now() + timedelta(seconds=61))["requeued"] == 3
    done = [app.jobs.get(d["job_id"]) for d in queued]
    assert [d["status"] for d in done] == ["finished"] * 3
    assert all("duplicate_of" not in d["result"]["data"] for d in done)


# --- the configuration --------------------------------------------------------------------------


def test_tenant_ids_come_from_names_or_digests():
    settings = config.from_env(
        {
            "API_KEY_HASHES": f"{DIGEST_A},{DIGEST_B}",
            "TENANTS": json.dumps({"acme": {"api_key_hashes": [DIGEST_B.upper()]}}),
        }
    )
    assert tenants.of_digest(settings, DIGEST_A) == DIGEST_A
    assert tenants.of_digest(settings, DIGEST_B) == "acme"  # a listed digest belongs to its named tenant
    assert tenants.of_digest(settings, None) == tenants.DEFAULT
    assert tenants.count(settings) == 2
    assert auth.require_tenant({"X-API-Key": KEY_B}, settings) == "acme"
    only_named = config.from_env({"TENANTS": json.dumps({"acme": {"api_key_hashes": [DIGEST_A]}})})
    auth.check_api_key_settings(only_named)  # keys from TENANTS alone are enough to start
    assert auth.require_tenant({"X-API-Key": KEY_A}, only_named) == "acme"


@pytest.mark.parametrize(
    "value, message",
    [
        ("[1]", "JSON object"),
        ("{", "not valid JSON"),
        ('{"a b": {"api_key_hashes": []}}', "not a tenant name"),
        ('{"acme": {}}', "no api_key_hashes"),
        ('{"acme": {"api_key_hashes": ["my-raw-key-oops"]}}', "not a SHA-256 hex digest"),
        ('{"acme": {"api_key_hashes": "x"}}', "list of strings"),
        (json.dumps({"acme": {"api_key_hashes": [DIGEST_A], "webhook": "x"}}), "unknown"),
        (json.dumps({"a": {"api_key_hashes": [DIGEST_A]}, "b": {"api_key_hashes": [DIGEST_A]}}), "both"),
    ],
)
def test_bad_tenants_are_refused_at_start_without_echoing_a_key(value, message):
    with pytest.raises(ConfigError, match=message) as refused:
        config.from_env({"TENANTS": value})
    assert "my-raw-key-oops" not in str(refused.value)


def test_a_tenant_named_after_a_digest_it_does_not_list_is_refused():
    with pytest.raises(ConfigError, match="named after"):
        config.from_env({"API_KEY_HASHES": DIGEST_A, "TENANTS": json.dumps({DIGEST_A: {"api_key_hashes": [DIGEST_B]}})})
    # Named after its own old digest (a digest-only tenant's rotation): its jobs stay its own.
    rotated = config.from_env(
        {"API_KEY_HASHES": DIGEST_A, "TENANTS": json.dumps({DIGEST_A: {"api_key_hashes": [DIGEST_A, DIGEST_B]}})}
    )
    assert tenants.of_digest(rotated, DIGEST_B) == tenants.of_digest(rotated, DIGEST_A) == DIGEST_A


def test_webhook_secrets_by_tenant_name_and_the_single_tenant_fallback():
    named = json.dumps({"acme": {"api_key_hashes": [DIGEST_A]}})
    settings = config.from_env({"TENANTS": named, "WEBHOOK_SECRETS": f"acme={SECRET_A}"})
    assert tenants.webhook_secret(settings, "acme") == ("acme", SECRET_A)
    with pytest.raises(ConfigError, match="neither an API key digest"):
        config.from_env({"TENANTS": named, "WEBHOOK_SECRETS": f"other={SECRET_A}"})
    one = config.from_env({"API_KEY_HASHES": DIGEST_A, "WEBHOOK_SECRETS": f"*={SECRET_A}"})
    assert tenants.webhook_secret(one, DIGEST_A) == ("*", SECRET_A)
    local = config.from_env({"REQUIRE_API_KEY": "false", "WEBHOOK_SECRETS": f"*={SECRET_A}"})
    assert tenants.webhook_secret(local, tenants.DEFAULT) == ("*", SECRET_A)
    two = config.from_env({"API_KEY_HASHES": f"{DIGEST_A},{DIGEST_B}", "WEBHOOK_SECRETS": f"*={SECRET_A}"})
    assert tenants.webhook_secret(two, DIGEST_A) is None
