"""API keys on the public functions, and OIDC tokens on the OCR function, verified against
certificates served locally (a fake of Google's certificate endpoint at the network boundary;
tokens signed with a key made here)."""

import datetime
import hashlib
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common import config, job
from common.config import ConfigError

KEY = "k3y-for-tests"
KEY_HASH = hashlib.sha256(KEY.encode()).hexdigest()
INVOKER = "tasks-invoker@project.iam.gserviceaccount.com"
AUDIENCE = "https://ocr-abc123-uc.a.run.app"


def test_status_needs_a_valid_api_key(make_client):
    client = make_client("status", REQUIRE_API_KEY="true", API_KEY_HASHES=KEY_HASH)
    url = f"/jobs/{job.new_job_id()}/status"
    missing = client.get(url)
    assert (missing.status_code, missing.get_json()["code"]) == (401, "missing_api_key")
    assert "X-API-Key" in missing.headers["WWW-Authenticate"]
    wrong = client.get(url, headers={"X-API-Key": "nope"})
    assert (wrong.status_code, wrong.get_json()["code"]) == (403, "invalid_api_key")
    right = client.get(url, headers={"X-API-Key": KEY})
    assert (right.status_code, right.get_json()["code"]) == (404, "job_not_found")


def test_upload_with_a_wrong_key_stores_nothing(make_client, sample):
    from tests.helpers import nothing_stored

    client = make_client("upload", REQUIRE_API_KEY="true", API_KEY_HASHES=f"{'0' * 64},{KEY_HASH}")
    data = {"file": (io.BytesIO(sample["png"]), "a.png")}
    refused = client.post("/", data=dict(data), content_type="multipart/form-data", headers={"X-API-Key": "bad"})
    assert refused.status_code == 403 and nothing_stored()
    data = {"file": (io.BytesIO(sample["png"]), "a.png")}
    accepted = client.post("/", data=data, content_type="multipart/form-data", headers={"X-API-Key": KEY})
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "finished"


def test_a_configuration_that_locks_everyone_out_stops_at_start_up(make_client):
    with pytest.raises(config.StartUpError, match="API_KEY_HASHES"):
        make_client("status", REQUIRE_API_KEY="true")
    with pytest.raises(ConfigError, match="SHA-256"):
        config.from_env({"API_KEY_HASHES": "not-a-hash"})


# --- OIDC ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signing():
    """A key pair, its certificate served the way Google serves its own, and a token maker."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from google.auth import crypt, jwt

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-signer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    certs = json.dumps({"kid-1": cert.public_bytes(serialization.Encoding.PEM).decode()}).encode()

    class Certs(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(certs)))
            self.end_headers()
            self.wfile.write(certs)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Certs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    signer = crypt.RSASigner.from_string(pem, key_id="kid-1")

    def token(**claims):
        issued = int(time.time())
        payload = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "email": INVOKER,
            "email_verified": True,
            "iat": issued,
            "exp": issued + 600,
            "sub": "1234",
            **claims,
        }
        return jwt.encode(signer, payload).decode()

    yield f"http://127.0.0.1:{server.server_address[1]}/oauth2/v1/certs", token
    server.shutdown()


@pytest.fixture
def ocr(make_client, signing):
    certs_url, _ = signing
    return make_client("ocr", OIDC_AUDIENCE=AUDIENCE, OIDC_INVOKER_EMAIL=INVOKER, OIDC_CERTS_URL=certs_url)


def post_task(client, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/", json={"job_id": job.new_job_id()}, headers=headers)


def test_the_invokers_token_is_accepted(ocr, signing):
    response = post_task(ocr, signing[1]())
    assert (response.status_code, response.get_json()["code"]) == (404, "job_not_found")  # past authentication
    reconciled = ocr.post("/reconcile", headers={"Authorization": f"Bearer {signing[1]()}"})
    assert reconciled.status_code == 200 and set(reconciled.get_json()) == {
        "requeued",
        "taken_over",
        "failed",
        "notifications_requeued",
        "expired",
        "payments_rechecked",
    }


def test_no_token_is_401(ocr):
    response = post_task(ocr)
    assert (response.status_code, response.get_json()["code"]) == (401, "missing_token")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://someone-else.run.app"},
        {"iss": "https://evil.example.com"},
        {"email": "attacker@project.iam.gserviceaccount.com"},
        {"email_verified": False},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    ],
)
def test_a_token_that_is_not_the_invokers_is_403(ocr, signing, claims):
    response = post_task(ocr, signing[1](**claims))
    assert (response.status_code, response.get_json()["code"]) == (403, "invalid_token")


def test_a_forged_or_garbled_token_is_403(ocr, signing):
    good = signing[1]()
    header, payload, signature = good.split(".")
    forged = ".".join([header, payload, signature[::-1]])
    for token in (forged, "not.a.jwt", "garbage"):
        assert post_task(ocr, token).status_code == 403


# --- behind Cloud Run's IAM check ------------------------------------------------------------------
# Cloud Run verifies the token of a service that requires IAM, then forwards it with the signature
# replaced by SIGNATURE_REMOVED_BY_GOOGLE: what every Cloud Tasks and Cloud Scheduler call to the
# deployed OCR function looks like.


def signature_removed(token: str) -> str:
    header, payload, _ = token.split(".")
    return f"{header}.{payload}.SIGNATURE_REMOVED_BY_GOOGLE"


@pytest.fixture
def ocr_behind_iam(make_client, signing):
    certs_url, _ = signing
    return make_client(
        "ocr",
        OIDC_AUDIENCE=AUDIENCE,
        OIDC_INVOKER_EMAIL=INVOKER,
        OIDC_CERTS_URL=certs_url,
        OIDC_BEHIND_CLOUD_RUN_IAM="true",
    )


def test_the_invokers_token_with_its_signature_removed_is_accepted_behind_cloud_run_iam(ocr_behind_iam, signing):
    response = post_task(ocr_behind_iam, signature_removed(signing[1]()))
    assert (response.status_code, response.get_json()["code"]) == (404, "job_not_found")  # past authentication
    reconciled = ocr_behind_iam.post(
        "/reconcile", headers={"Authorization": f"Bearer {signature_removed(signing[1]())}"}
    )
    assert reconciled.status_code == 200


def test_a_token_with_its_signature_removed_is_refused_when_not_behind_cloud_run_iam(ocr, signing):
    """Without Cloud Run's check in front, anyone could write SIGNATURE_REMOVED_BY_GOOGLE."""
    response = post_task(ocr, signature_removed(signing[1]()))
    assert (response.status_code, response.get_json()["code"]) == (403, "invalid_token")
    assert "OIDC_BEHIND_CLOUD_RUN_IAM" in response.get_json()["error"]


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://someone-else.run.app"},
        {"aud": ["https://someone-else.run.app"]},
        {"iss": "https://evil.example.com"},
        {"email": "attacker@project.iam.gserviceaccount.com"},
        {"email_verified": False},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200},
        {"exp": None},
    ],
)
def test_a_token_with_its_signature_removed_that_is_not_the_invokers_is_403(ocr_behind_iam, signing, claims):
    response = post_task(ocr_behind_iam, signature_removed(signing[1](**claims)))
    assert (response.status_code, response.get_json()["code"]) == (403, "invalid_token")


def test_behind_cloud_run_iam_a_signed_token_is_still_verified(ocr_behind_iam, signing):
    good = signing[1]()
    assert post_task(ocr_behind_iam, good).status_code == 404  # past authentication
    header, payload, signature = good.split(".")
    for token in (
        ".".join([header, payload, signature[::-1]]),
        "garbage.SIGNATURE_REMOVED_BY_GOOGLE",
        "W10.W10.SIGNATURE_REMOVED_BY_GOOGLE",
    ):  # forged; not a JWT; a payload that is not an object
        response = post_task(ocr_behind_iam, token)
        assert (response.status_code, response.get_json()["code"]) == (403, "invalid_token"), token


def test_refused_tokens_and_a_certificate_outage_tell_the_caller_no_internals(make_client, signing, capsys):
    from tools import emulators

    certs_url, token = signing
    ocr = make_client("ocr", OIDC_AUDIENCE=AUDIENCE, OIDC_INVOKER_EMAIL=INVOKER, OIDC_CERTS_URL=certs_url)
    good = token()
    header, payload, signature = good.split(".")
    for bad in (".".join([header, payload, signature[::-1]]), "not.a.jwt", token(exp=int(time.time()) - 3600)):
        body = post_task(ocr, bad).get_json()
        assert body["code"] == "invalid_token"
        assert body["error"] in (
            "The OIDC token was refused: its signature, expiry or audience is not valid.",
            "The OIDC token has expired.",
        )
    down = f"http://127.0.0.1:{emulators.free_port()}/oauth2/v1/certs"  # nothing listens there
    outage = post_task(make_client("ocr", OIDC_AUDIENCE=AUDIENCE, OIDC_CERTS_URL=down), good)
    assert (outage.status_code, outage.get_json()["code"]) == (503, "auth_unavailable")
    assert "127.0.0.1" not in outage.get_data(as_text=True) and "oauth2" not in outage.get_data(as_text=True)
    logged = capsys.readouterr().out
    assert '"event": "oidc_token_refused"' in logged and '"event": "oidc_certificates_unavailable"' in logged
    assert down.split("/")[2].split(":")[1] in logged  # the operator still learns where the fetch failed
