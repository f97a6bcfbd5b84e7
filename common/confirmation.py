"""The payment confirmation port: did the money really arrive? Ask the receiver's own PSP.

Every PSP that serves businesses implements the Banco Central's API Pix (`bcb-pix-api-2.9.0`):
`GET /pix/{e2eid}` returns a Pix the account received, `GET /pix?inicio=&fim=` lists them and
`PUT /webhook/{chave}` makes the PSP POST `{"pix": [...]}` to us on each one, all behind OAuth2
client credentials over mutual TLS.

Adapters (PIX_CONFIRMATION): `none` (no `validacao_pagamento` at all, the original system's
result) and `api_pix` (`ApiPix`, on requests; tools/fakepsp.py is a local PSP for it). One job's
PSP comes from `psp_for(services, doc)`: its tenant's own (TENANTS `psp`) or the PIX_* one, each
an adapter of its own with its own token cache (common.services builds them once per process).

`confirm` turns what the PSP says into `result.data.validacao_pagamento` (`confirmed` true, false
or null when the PSP could not be asked; the reconciler asks again, see `recheck`), and settles an
id the receipt left ambiguous with the PSP's exact `endToEndId`. `received` records pushed Pix
and confirms the jobs that were waiting on them: a push through a tenant's own webhook secret
is that tenant's alone, one through PIX_WEBHOOK_SECRET the tenants' without a PSP of their own.
"""

from __future__ import annotations

import copy
import re
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from common import config, documents, extraction, job, log, notify, tenants
from common.errors import ApiError, BackendUnavailable
from common.receiver import same_name, same_pix_key

SOURCE = "api_pix"
WEBHOOK_PREFIX = "/pix-webhook/"  # the upload function's path the PSP calls: /pix-webhook/<secret>/pix
MAX_PUSHED = 1000  # Pix in one push
TOKEN_MARGIN_SECONDS = 60  # a token is renewed this long before it expires (or at 90% of a short one)
END_TO_END_ID = re.compile(r"[A-Za-z0-9]{32}")
VALOR = re.compile(r"\d{1,10}\.\d{2}")


class PspUnavailable(BackendUnavailable):
    """The PSP did not answer, answered 5xx, or refused the credentials: `confirmed` stays null."""


class PaymentConfirmation(Protocol):
    def get_pix(self, e2eid: str) -> dict | None:
        """The Pix the account received with this end-to-end id, None when the PSP has none."""

    def list_pix(self, start: datetime, end: datetime) -> list[dict]:
        """Every Pix received between start and end (all pages)."""

    def register_webhook(self, chave: str, webhook_url: str) -> None:
        """Make the PSP POST each Pix received on `chave` to `webhook_url` + `/pix`."""


class ApiPix:
    """The BCB API Pix over mutual TLS (`cert=(cert, key)`, `verify=CA`), OAuth2 client credentials.

    The token is cached until shortly before it expires and fetched again once when a call gets
    a 401 (the PSP revoked it early). A call that times out or gets a 5xx or 429 is retried
    PIX_RETRIES times (0.5 s, 1 s, ...), then raises PspUnavailable. Neither the secret nor a token
    ever appears in a log line or an exception message.
    """

    def __init__(
        self,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        cert: tuple[str, str] | None = None,
        ca_bundle: str = "",
        scope: str = "pix.read",
        timeout: float = 10,
        retries: int = 2,
    ):
        import requests

        self._requests = requests
        self.base_url, self.token_url = base_url.rstrip("/"), token_url
        self._client = (client_id, client_secret)
        self.scope, self.timeout, self.retries = scope, timeout, retries
        self._session = requests.Session()
        # Given on each request: requests lets REQUESTS_CA_BUNDLE override a session's `verify`.
        self._cert, self._verify = cert, ca_bundle or True
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._lock = threading.Lock()
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return f"ApiPix({self.base_url!r}, client_id={self._client[0]!r})"

    # --- the port -------------------------------------------------------------------------------
    def get_pix(self, e2eid: str) -> dict | None:
        if not END_TO_END_ID.fullmatch(e2eid):
            return None  # the PSP could hold no such id; asking would only earn a 400
        response = self._call("GET", f"/pix/{e2eid}", allow=(404,), label="/pix/{e2eid}")
        if response.status_code == 404:
            return None
        pix = _json(response, "GET /pix/{e2eid}")
        if not valid_pix(pix) or pix["endToEndId"] != e2eid:
            raise PspUnavailable("the PSP answered GET /pix/{e2eid} with something that is not that Pix")
        return pix

    def list_pix(self, start: datetime, end: datetime) -> list[dict]:
        found: list[dict] = []
        page = 0
        while True:
            params = {
                "inicio": _rfc3339(start),
                "fim": _rfc3339(end),
                "paginacao.paginaAtual": page,
                "paginacao.itensPorPagina": 100,
            }
            body = _json(self._call("GET", "/pix", params=params), "GET /pix")
            listed = (body.get("pix") or []) if isinstance(body, dict) else None
            if not isinstance(listed, list) or not all(valid_pix(p) for p in listed):
                raise PspUnavailable("the PSP answered GET /pix with something that is not a list of Pix")
            found += listed
            pages = (body.get("parametros") or {}).get("paginacao", {}).get("quantidadeDePaginas", 1)
            page += 1
            if page >= min(int(pages), 50):  # 5000 Pix around one minute is not a window any more
                return found

    def register_webhook(self, chave: str, webhook_url: str) -> None:
        self._call("PUT", f"/webhook/{chave}", json={"webhookUrl": webhook_url}, label="/webhook/{chave}")

    # --- the wire -------------------------------------------------------------------------------
    def _call(self, method: str, path: str, params=None, json=None, allow=(), label: str = ""):
        # Messages and log lines name the operation (`label`), never the id or key in the path.
        what = label or path
        for fresh in (False, True):
            token = self._bearer(force=fresh)
            response = self._send(
                method,
                self.base_url + path,
                what,
                headers={"Authorization": f"Bearer {token}"},
                params=params,
                json=json,
            )
            if response.status_code != 401:
                break
            log.event("psp_token_refused", severity="WARNING", path=what, refreshed=fresh)
        if response.status_code == 401:
            raise PspUnavailable(f"the PSP refused a fresh token for {method} {what} (401)")
        if response.ok or response.status_code in allow:
            return response
        raise PspUnavailable(f"the PSP answered {method} {what} with {response.status_code}{_problem(response)}")

    def _send(self, method: str, url: str, what: str, **kwargs):
        for attempt in range(self.retries + 1):
            try:
                response = self._session.request(
                    method, url, timeout=self.timeout, cert=self._cert, verify=self._verify, **kwargs
                )
            except (self._requests.ConnectionError, self._requests.Timeout) as e:
                problem = f"the PSP did not answer {method} {what}: {type(e).__name__}"
            else:
                if response.status_code < 500 and response.status_code != 429:
                    return response
                problem = f"the PSP answered {method} {what} with {response.status_code}{_problem(response)}"
            if attempt < self.retries:
                log.event("psp_retry", severity="WARNING", error=problem, attempt=attempt + 1)
                time.sleep(0.5 * 2**attempt)
        raise PspUnavailable(problem)

    def _bearer(self, force: bool = False) -> str:
        with self._lock:
            if force or self._token is None or time.monotonic() >= self._token_renew_at:
                response = self._send(
                    "POST",
                    self.token_url,
                    "/oauth/token",
                    auth=self._client,
                    data={"grant_type": "client_credentials", "scope": self.scope},
                )
                if not response.ok:
                    raise PspUnavailable(f"the PSP's token endpoint refused the client ({response.status_code})")
                body = _json(response, "POST /oauth/token")
                if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
                    raise PspUnavailable("the PSP's token endpoint answered without an access_token")
                lifetime = float(body.get("expires_in") or 300)
                self._token = body["access_token"]
                self._token_renew_at = time.monotonic() + max(lifetime * 0.1, lifetime - TOKEN_MARGIN_SECONDS)
                self.tokens_fetched += 1
                log.event("psp_token", expires_in=int(lifetime))
            return self._token


def _json(response, what: str):
    try:
        return response.json()
    except ValueError:
        raise PspUnavailable(f"the PSP answered {what} with a body that is not JSON") from None


def _problem(response) -> str:
    """The title of an RFC 7807 problem the PSP returned, if any (never its headers or body)."""
    try:
        title = response.json().get("title")
    except ValueError:
        return ""
    return f": {str(title)[:80]}" if title else ""


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def from_settings(settings) -> PaymentConfirmation | None:
    """The PIX_* configuration's adapter (None when confirmation is off or PIX_API_URL unset)."""
    if settings.pix_confirmation != "api_pix" or not settings.pix_api_url:
        return None
    cert = (settings.pix_client_cert, settings.pix_client_key) if settings.pix_client_cert else None
    return ApiPix(
        settings.pix_api_url,
        settings.pix_token_endpoint,
        settings.pix_client_id,
        settings.pix_client_secret,
        cert=cert,
        ca_bundle=settings.pix_ca_bundle,
        scope=settings.pix_scope,
        timeout=settings.pix_timeout_seconds,
        retries=settings.pix_retries,
    )


def for_tenant(settings, psp: config.TenantPsp) -> PaymentConfirmation:
    """The adapter of a tenant's own PSP (TENANTS `psp`), with the PIX_* timeouts and retries."""
    return ApiPix(
        psp.api_url,
        psp.token_endpoint,
        psp.client_id,
        psp.client_secret,
        cert=(psp.client_cert, psp.client_key) if psp.client_cert else None,
        ca_bundle=psp.ca_bundle,
        scope=psp.scope,
        timeout=settings.pix_timeout_seconds,
        retries=settings.pix_retries,
    )


def _receiver(services, doc: job.Job) -> tenants.ExpectedReceiver:
    """The receiver the job's tenant expects (its own, else EXPECTED_RECEIVER_*)."""
    return tenants.expected_receiver(services.settings, job.tenant_of(doc))


def psp_for(services, doc: job.Job) -> PaymentConfirmation | None:
    """The PSP that holds the account a job's payment went to: its tenant's own (TENANTS `psp`),
    else the PIX_* configuration's; None when confirmation is off or the tenant has no PSP. One
    adapter per configuration and process (`services.psp_of`): a token never serves another
    tenant's credentials."""
    if services.settings.pix_confirmation != "api_pix":
        return None
    return services.psp_of(tenants.psp_owner(services.settings, job.tenant_of(doc)))


def _pushed(services, doc: job.Job):
    """The lookup of the Pix the job's tenant's PSP pushed (and only its)."""
    owner = tenants.psp_owner(services.settings, job.tenant_of(doc))
    return lambda e2eid: services.jobs.get_pix(e2eid, tenant=owner)


# --- what the PSP's answer means for a job ---------------------------------------------------------
def confirm(psp: PaymentConfirmation, data: dict, settings, pushed=lambda e2eid: None, receiver=None) -> dict:
    """`validacao_pagamento` for a receipt's `data`, which it updates in place: the id the PSP
    settled (`transaction_id_source: "api_pix"`), the review reasons `payment_not_found` and
    `payment_mismatch`. `pushed(e2eid)` is a Pix the PSP's webhook already delivered, if any."""
    try:
        pix, how = _find(psp, data, settings, pushed)
    except PspUnavailable as e:
        log.event("psp_unavailable", severity="WARNING", error=str(e))
        return {
            "confirmed": None,
            "source": SOURCE,
            "reason": f"PSP unavailable: {e}",
            "checked_at": job.iso(job.now()),
        }
    except _Ambiguous as e:
        return {"confirmed": None, "source": SOURCE, "reason": str(e), "checked_at": job.iso(job.now())}
    return apply(pix, how, data, settings, receiver)


def apply(pix: dict | None, how: str, data: dict, settings, receiver=None) -> dict:
    """`receiver`: the tenant's expected receiver (common.tenants.ExpectedReceiver; default
    EXPECTED_RECEIVER_*), whose PIX keys the PSP's `chave` must be one of."""
    checked_at = job.iso(job.now())
    if pix is None:
        extraction.flag(data, "payment_not_found")
        reason = "the receiver's PSP has no Pix with this id" if data.get("transaction_id") else "no id to look for"
        return {"confirmed": False, "source": SOURCE, "reason": reason, "mismatches": [], "checked_at": checked_at}
    if how != "id" or data.get("transaction_id_candidates") or data.get("transaction_id") != pix["endToEndId"]:
        _settle_id(data, pix["endToEndId"])
    mismatches = []
    valor = float(pix["valor"])
    if data.get("amount") is not None and abs(valor - data["amount"]) >= 0.005:
        mismatches.append({"field": "valor", "receipt": data["amount"], "psp": valor})
    keys = (receiver or settings).expected_receiver_pix_keys
    if keys and pix.get("chave") and not any(same_pix_key(k, pix["chave"]) for k in keys):
        mismatches.append({"field": "chave", "expected": list(keys), "psp": pix["chave"]})
    if mismatches:
        extraction.flag(data, "payment_mismatch")
    for reason in job.PAYMENT_REASONS:
        if reason in data["review_reasons"] and not (reason == "payment_mismatch" and mismatches):
            data["review_reasons"].remove(reason)
    data["needs_review"] = bool(data["review_reasons"])
    return {
        "confirmed": not mismatches,
        "source": SOURCE,
        "end_to_end_id": pix["endToEndId"],
        "valor": valor,
        "horario": pix.get("horario"),
        "chave": pix.get("chave"),
        "pagador": _payer(pix),
        "mismatches": mismatches,
        "reason": None if not mismatches else "the PSP's Pix differs from the receipt",
        "found_by": how,
        "checked_at": checked_at,
    }


class _Ambiguous(Exception):
    pass


def _find(psp, data: dict, settings, pushed) -> tuple[dict | None, str]:
    e2eid, candidates = data.get("transaction_id"), data.get("transaction_id_candidates") or []
    ids = list(dict.fromkeys([i for i in [e2eid, *candidates] if i]))
    found = []
    for i in ids:
        pix, how = pushed(i), "pushed"
        if pix is None:
            pix, how = psp.get_pix(i), "id"
        if pix is not None:
            found.append(pix)
            if not candidates:
                return pix, how
    if found:
        same_amount = [p for p in found if data.get("amount") is None or _same_amount(p, data["amount"])]
        return (same_amount or found)[0], "candidates"
    if (candidates or not e2eid) and data.get("paid_at") and data.get("amount") is not None:
        paid_at = datetime.fromisoformat(data["paid_at"])
        window = timedelta(minutes=settings.pix_window_minutes)
        listed = psp.list_pix(paid_at - window, paid_at + window)
        matches = [p for p in listed if _same_amount(p, data["amount"]) and _same_payer(p, data.get("payer") or {})]
        # OCR's doubt is in the id's tail: its first 21 characters (E, the payer's ISPB, the UTC
        # minute) are digits it checked, and tell the payer's bank and minute apart.
        heads = {i[:21] for i in ids}
        if len(matches) > 1 and any(p["endToEndId"][:21] in heads for p in matches):
            matches = [p for p in matches if p["endToEndId"][:21] in heads]
        if len(matches) == 1:
            return matches[0], "window"
        if len(matches) > 1:
            raise _Ambiguous(f"{len(matches)} Pix of this amount around paid_at: the PSP cannot tell which")
    return None, "id"


def _same_amount(pix: dict, amount: float) -> bool:
    return abs(float(pix["valor"]) - amount) < 0.005


def _same_payer(pix: dict, payer: dict) -> bool:
    """No payer data on either side decides nothing; what both show must agree."""
    theirs = pix.get("pagador") or {}
    document = theirs.get("cpf") or theirs.get("cnpj")
    if document and payer.get("document") and not documents.same_document(document, payer["document"]):
        return False
    return not (theirs.get("nome") and payer.get("name") and not same_name(theirs["nome"], payer["name"]))


def _settle_id(data: dict, e2eid: str) -> None:
    data["transaction_id"] = e2eid
    data["transaction_id_source"] = SOURCE
    data["confidence"] = {**data.get("confidence", {}), "transaction_id": 1.0}
    for reason in ("id_ambiguous", "id_missing"):
        if reason in data["review_reasons"]:
            data["review_reasons"].remove(reason)


def _payer(pix: dict) -> dict | None:
    """The payer as the PSP reports it, its document masked. API Pix 2.9.0's `Pix` has no payer
    (only `infoPagador`, free text); many PSPs add a `pagador` object, read when present."""
    theirs = pix.get("pagador")
    if not isinstance(theirs, dict):
        return None
    return {"nome": theirs.get("nome"), "documento": mask_document(theirs.get("cpf") or theirs.get("cnpj") or "")}


def mask_document(value: str) -> str | None:
    """A CPF as receipts mask it (`***.456.789-**`), a CNPJ to its root (`12.345.678/****-**`)."""
    digits = re.sub(r"[^0-9A-Za-z]", "", value)
    if len(digits) == 11:
        return f"***.{digits[3:6]}.{digits[6:9]}-**"
    if len(digits) == 14:
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/****-**"
    return None


def valid_pix(pix) -> bool:
    """The fields a pushed Pix must have to be recorded (the spec's `Pix` required ones)."""
    return (
        isinstance(pix, dict)
        and isinstance(pix.get("endToEndId"), str)
        and bool(END_TO_END_ID.fullmatch(pix["endToEndId"]))
        and isinstance(pix.get("valor"), str)
        and bool(VALOR.fullmatch(pix["valor"]))
        and isinstance(pix.get("horario"), str)
        and _is_time(pix["horario"])
    )


def _is_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# --- the job's side: at the end of processing, by the reconciler, on a push -----------------------
def check(services, doc: job.Job, data: dict) -> dict | None:
    """`validacao_pagamento` of a job being processed (None when confirmation is off)."""
    psp = psp_for(services, doc)
    if psp is None:
        return None
    return confirm(psp, data, services.settings, pushed=_pushed(services, doc), receiver=_receiver(services, doc))


def after_finish(services, doc: job.Job) -> None:
    """A Pix pushed while the job was being read (after its check, before it finished) is
    applied now, so a push and a job that cross are never left unmatched."""
    result = doc.get("result")
    data = result["data"] if result else {}
    payment = data.get("validacao_pagamento") or {}
    if payment.get("confirmed") is not False or payment.get("end_to_end_id") or not data.get("transaction_id"):
        return  # only a Pix the PSP had not received (a mismatch stays one)
    pix = _pushed(services, doc)(data["transaction_id"])
    if pix is not None:
        received(services, [pix], owner=tenants.psp_owner(services.settings, job.tenant_of(doc)))


def recheck(services, doc: job.Job, at: datetime | None = None) -> job.Job:
    """Ask the PSP again for a finished job whose confirmation is pending (the reconciler)."""
    at = at or job.now()
    psp = psp_for(services, doc)
    if psp is None or doc["result"] is None:
        return doc
    data = copy.deepcopy(doc["result"]["data"])
    result = confirm(psp, data, services.settings, pushed=_pushed(services, doc), receiver=_receiver(services, doc))
    return _record(services, doc["job_id"], data, result, at)


def received(services, pix_list: list[dict], at: datetime | None = None, owner: str = tenants.SHARED_PSP) -> list[str]:
    """Record each Pix the PSP configuration `owner` pushed (keyed by (owner, end-to-end id);
    common.tenants.psp_owner) and confirm the jobs it serves that showed it: a tenant's own PSP
    confirms that tenant's jobs only, the PIX_* one those of the tenants without their own."""
    at = at or job.now()
    for pix in pix_list:
        days = services.settings.retention_days
        expires_at = job.iso(at + timedelta(days=days)) if days else None
        services.jobs.record_pix(pix["endToEndId"], pix, job.iso(at), expires_at, tenant=owner)
    log.event("pix_received", count=len(pix_list), psp=owner)
    scope = None if owner == tenants.SHARED_PSP else owner
    confirmed = []
    for pix in pix_list:
        for first in services.jobs.transactions(pix["endToEndId"], tenant=scope):  # one per tenant
            doc = services.jobs.get(first["job_id"])
            if not doc or doc["status"] != job.FINISHED:
                continue  # not read yet: its processing finds the pushed Pix in the store
            if tenants.psp_owner(services.settings, job.tenant_of(doc)) != owner:
                continue  # another PSP's account: this push says nothing about its payment
            current = (doc["result"]["data"].get("validacao_pagamento") or {}).get("confirmed")
            if current is True:
                continue
            data = copy.deepcopy(doc["result"]["data"])
            result = apply(pix, "pushed", data, services.settings, _receiver(services, doc))
            _record(services, doc["job_id"], data, result, at)
            confirmed.append(doc["job_id"])
    return confirmed


def _record(services, job_id: str, data: dict, result: dict, at: datetime) -> job.Job:
    settings = services.settings
    if result["confirmed"] is None:
        doc = services.jobs.update(
            job_id,
            lambda d: job.payment_unknown(
                d, result, at, settings.pix_recheck_seconds, settings.pix_recheck_max_attempts
            ),
        )
        log.event("payment_unknown", job_id=job_id, attempts=doc["confirmation"]["attempts"])
        return doc
    new_data = {**data, "validacao_pagamento": result}
    doc = services.jobs.update(job_id, lambda d: job.payment_known(d, new_data, at))
    log.event("payment_checked", job_id=job_id, confirmed=result["confirmed"])
    notify.job_ended(services, doc)
    return doc


# --- the PSP's webhook: POST /pix-webhook/<secret>/pix on the upload function ----------------------
def webhook_request(services, method: str, path: str, headers, body) -> dict:
    """Check one call of the PSP's webhook and record what it brings; raises ApiError when refused.

    Production terminates the PSP's mutual TLS in front of the function (docs/psp.md): the path's
    secret picks the PSP configuration (a tenant's own `webhook_secret_env`, else
    PIX_WEBHOOK_SECRET), and PIX_WEBHOOK_CERT_HEADER names the header in which the load balancer
    says the PSP's client certificate verified. A bad body is refused whole: nothing is stored."""
    settings = services.settings
    secret, _, rest = path.removeprefix(WEBHOOK_PREFIX).partition("/")
    owner = tenants.webhook_owner(settings, secret)
    if owner is None:
        raise ApiError(404, "not_found", "Unknown path.")  # a wrong secret looks like no endpoint at all
    if rest.rstrip("/") != "pix":
        raise ApiError(404, "not_found", "The PSP's webhook is POST /pix-webhook/<secret>/pix.")
    if method != "POST":
        raise ApiError(405, "method_not_allowed", "Use POST.", {"Allow": "POST"})
    header = settings.pix_webhook_cert_header
    if header and (headers.get(header) or "").strip().lower() != "true":
        log.event("pix_webhook_refused", severity="WARNING", reason="no verified client certificate")
        raise ApiError(403, "client_certificate_required", "The PSP's client certificate did not verify.")
    pix_list = body.get("pix") if isinstance(body, dict) else None
    if not isinstance(pix_list, list) or len(pix_list) > MAX_PUSHED:
        raise ApiError(
            400, "invalid_pix_notification", f'The body must be JSON {{"pix": [...]}} of at most {MAX_PUSHED} Pix.'
        )
    bad = [i for i, pix in enumerate(pix_list) if not valid_pix(pix)]
    if bad:
        raise ApiError(
            400,
            "invalid_pix_notification",
            f"Pix #{bad[0]} lacks a valid endToEndId (32 letters and digits), valor (0.00) or horario (RFC 3339).",
        )
    confirmed = received(services, pix_list, owner=owner)
    return {"received": len(pix_list), "confirmed": len(confirmed)}


def main(argv: list[str] | None = None) -> int:
    """python -m common.confirmation register-webhook [--tenant NAME] CHAVE URL: make the PSP (the
    PIX_* one, or the tenant's own) push each Pix received on the key CHAVE to URL
    (`https://<your front end>/pix-webhook/<that configuration's secret>`)."""
    import argparse

    parser = argparse.ArgumentParser(description="The receiver's PSP (API Pix) as configured by PIX_*.")
    sub = parser.add_subparsers(dest="command", required=True)
    register = sub.add_parser("register-webhook", help="PUT /webhook/{chave}")
    register.add_argument("--tenant", default="", help="a TENANTS name: its own psp instead of PIX_*")
    register.add_argument("chave")
    register.add_argument("url")
    args = parser.parse_args(argv)
    settings = config.from_env()
    own = tenants.own_psp(settings, args.tenant) if args.tenant else None
    if args.tenant and own is None:
        print(f"TENANTS has no tenant {args.tenant!r} with a psp of its own", file=sys.stderr)
        return 1
    psp = for_tenant(settings, own) if own else from_settings(settings)
    if psp is None:
        print("no PSP configured (PIX_CONFIRMATION=none or PIX_API_URL empty)", file=sys.stderr)
        return 1
    psp.register_webhook(args.chave, args.url)
    print(f"the PSP now pushes the Pix received on {args.chave} to {args.url.rstrip('/')}/pix")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
