"""Who may call: API keys for the public functions (upload, status), and the OIDC token Cloud
Tasks and Cloud Scheduler send to the OCR function (checked here too, behind IAM).

API keys are configured as SHA-256 digests (API_KEY_HASHES), so the configuration never holds a
usable key; a request sends the key itself in `X-API-Key`. OIDC tokens are Google-signed JWTs:
the signature (Google's public certificates, cached), expiry, audience, issuer and the invoker's
e-mail must all check out.

Cloud Run in front of a service that requires IAM verifies the token itself, then forwards it
with the signature replaced by SIGNATURE_REMOVED_BY_GOOGLE. Such a token is accepted only with
OIDC_BEHIND_CLOUD_RUN_IAM=true (Terraform sets it on the OCR function, which only the invoker may
invoke), and its claims are still checked here. Anywhere else anyone could write that text in
place of a signature, so it is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

from common import log, tenants
from common.config import ConfigError
from common.errors import ApiError

API_KEY_HEADER = "X-API-Key"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CERTS_TTL_SECONDS = 3600
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"
CLOCK_SKEW_SECONDS = 10


def check_api_key_settings(settings) -> None:
    """At start-up of a function that needs keys: refuse a configuration that locks everyone out."""
    if settings.require_api_key and not tenants.accepted_digests(settings):
        raise ConfigError(
            "REQUIRE_API_KEY is true but API_KEY_HASHES and TENANTS name no key: set the SHA-256 of your "
            "API keys, or REQUIRE_API_KEY=false for a local run"
        )


def require_api_key(headers, settings) -> str | None:
    """The caller's API key digest (None when keys are not required); 401/403 otherwise."""
    if not settings.require_api_key:
        return None
    key = headers.get(API_KEY_HEADER, "")
    if not key:
        raise ApiError(
            401,
            "missing_api_key",
            f"Send your API key in the {API_KEY_HEADER} header.",
            {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'},
        )
    digest = hashlib.sha256(key.encode()).hexdigest()
    # Compare with every configured digest in constant time: no early exit tells which is close.
    if not any([hmac.compare_digest(digest, allowed) for allowed in tenants.accepted_digests(settings)]):
        raise ApiError(403, "invalid_api_key", "The API key is not valid.")
    return digest


def require_tenant(headers, settings) -> str:
    """The caller's tenant (common.tenants): `default` when keys are not required; 401/403 otherwise."""
    return tenants.of_digest(settings, require_api_key(headers, settings))


class _Certificates:
    """Google's token-signing certificates, fetched at most once an hour."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict]] = {}

    def get(self, url: str) -> dict:
        with self._lock:
            fetched = self._cache.get(url)
            if fetched and time.monotonic() - fetched[0] < CERTS_TTL_SECONDS:
                return fetched[1]
            import google.auth.transport.requests
            from google.oauth2 import id_token

            certs = id_token._fetch_certs(google.auth.transport.requests.Request(), url)
            self._cache[url] = (time.monotonic(), certs)
            return certs


_certificates = _Certificates()


def verify_oidc(headers, settings) -> dict | None:
    """The verified token claims, or None when OIDC_AUDIENCE is not configured (local runs)."""
    if not settings.oidc_audience:
        return None
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "missing_token",
            "This endpoint takes only requests with a Google OIDC token.",
            {"WWW-Authenticate": "Bearer"},
        )
    if token.rpartition(".")[2] == SIGNATURE_REMOVED:
        claims = _claims_checked_by_cloud_run(token, settings)
    else:
        claims = _verified_claims(token, settings)
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise ApiError(403, "invalid_token", "The OIDC token was not issued by Google.")
    if settings.oidc_invoker_email and (
        claims.get("email") != settings.oidc_invoker_email or not claims.get("email_verified")
    ):
        raise ApiError(403, "invalid_token", "The OIDC token is not the task invoker's.")
    return claims


def _verified_claims(token: str, settings) -> dict:
    """A token with its signature: checked against Google's certificates, with its expiry and audience."""
    try:
        certs = _certificates.get(settings.oidc_certs_url)
    except Exception as e:  # the certificates could not be fetched: retry later
        log.event("oidc_certificates_unavailable", severity="WARNING", error=f"{type(e).__name__}: {e}"[:500])
        raise ApiError(
            503,
            "auth_unavailable",
            "The token certificates could not be fetched; try again shortly.",
            {"Retry-After": "10"},
        ) from None
    from google.auth import jwt

    try:
        return jwt.decode(token, certs=certs, audience=settings.oidc_audience, clock_skew_in_seconds=CLOCK_SKEW_SECONDS)
    except Exception as e:  # bad signature, expired, wrong audience, malformed
        raise _token_refused(e) from None


def _token_refused(e: Exception) -> ApiError:
    # The verifier's words (claims, times, certificate ids) go to the log, not to the caller.
    log.event("oidc_token_refused", severity="NOTICE", error=f"{type(e).__name__}: {e}"[:500])
    return ApiError(403, "invalid_token", "The OIDC token was refused: its signature, expiry or audience is not valid.")


def _claims_checked_by_cloud_run(token: str, settings) -> dict:
    """A token whose signature Cloud Run verified and removed: its expiry and audience, checked here."""
    if not settings.oidc_behind_cloud_run_iam:
        raise ApiError(
            403,
            "invalid_token",
            "The OIDC token has no signature (SIGNATURE_REMOVED_BY_GOOGLE) and this "
            "function is not configured as behind Cloud Run's IAM check (OIDC_BEHIND_CLOUD_RUN_IAM).",
        )
    from google.auth import jwt

    try:
        claims = jwt.decode(token, verify=False)
    except Exception as e:  # not a JWT
        raise _token_refused(e) from None
    if not isinstance(claims, dict):
        raise ApiError(403, "invalid_token", "The OIDC token's payload is not a JSON object.")
    now = time.time()
    if not all(isinstance(claims.get(name), (int, float)) for name in ("iat", "exp")):
        raise ApiError(403, "invalid_token", "The OIDC token has no iat or exp.")
    if claims["exp"] < now - CLOCK_SKEW_SECONDS:
        raise ApiError(403, "invalid_token", "The OIDC token has expired.")
    if claims["iat"] > now + CLOCK_SKEW_SECONDS:
        raise ApiError(403, "invalid_token", "The OIDC token was issued in the future.")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if settings.oidc_audience not in audiences:
        raise ApiError(403, "invalid_token", "The OIDC token is for another audience.")
    return claims
