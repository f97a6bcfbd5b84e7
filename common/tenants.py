"""Tenants: whose job it is. Every job, transaction record and content index belongs to one
tenant, and only that tenant's API keys see it (common.jobstore scopes every query by it).

A tenant's id is what the job documents store:
- a name of TENANTS (`{"acme": {"api_key_hashes": [...], ...}}`): all its keys act as it, so a
  key is rotated by adding the new digest, moving the clients over, then dropping the old one;
- else the SHA-256 digest of the key itself, for each digest of API_KEY_HASHES that no named
  tenant lists (what API_KEY_HASHES meant before tenants: every key its own tenant);
- `default` when keys are not required (REQUIRE_API_KEY=false, local runs), and for documents
  stored before jobs had a tenant.
Keys themselves are never stored or logged: a digest is the most any document or log line holds.
A digest-only tenant whose key must be rotated becomes a named tenant called by its old digest
(`{"<old digest>": {"api_key_hashes": ["<old digest>", "<new digest>"]}}`): its jobs stay its own.

Per-tenant settings: the expected receiver (a named tenant's own `expected_receiver_*`, else
EXPECTED_RECEIVER_*) and the webhook secret (WEBHOOK_SECRETS by tenant name or digest; the `*`
secret only while there is a single tenant, since two tenants sharing a secret could forge each
other's webhooks), and the PSP that confirms its payments (a named tenant's own `psp`, else the
PIX_* configuration, which serves every tenant without one: `psp_owner` names the configuration,
the tenant's name or `*`, and the Pix a PSP pushes are kept and matched under that name).
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass

from common import job
from common.config import TenantPsp

DEFAULT = job.DEFAULT_TENANT
ANY_TENANT = "*"  # the WEBHOOK_SECRETS entry of a single-tenant deployment
SHARED_PSP = "*"  # psp_owner of the PIX_* configuration, shared by the tenants without a psp of their own


@dataclass(frozen=True)
class ExpectedReceiver:
    """The receiver a tenant's receipts must show, with the attribute names common.receiver reads."""

    expected_receiver_name: str = ""
    expected_receiver_documents: tuple[str, ...] = ()
    expected_receiver_pix_keys: tuple[str, ...] = ()

    @property
    def expected_receiver_configured(self) -> bool:
        return bool(self.expected_receiver_name or self.expected_receiver_documents or self.expected_receiver_pix_keys)


@functools.lru_cache(maxsize=8)
def _by_digest(settings) -> dict[str, str]:
    """Every accepted API key digest -> its tenant id."""
    owners = {digest: digest for digest in settings.api_key_hashes}
    for tenant in settings.tenants:
        owners.update(dict.fromkeys(tenant.api_key_hashes, tenant.name))
    return owners


def accepted_digests(settings) -> tuple[str, ...]:
    return tuple(_by_digest(settings))


def of_digest(settings, digest: str | None) -> str:
    """The tenant of a caller: its key's digest (None when keys are not required)."""
    if digest is None:
        return DEFAULT
    return _by_digest(settings)[digest]


def count(settings) -> int:
    """How many tenants the configuration has (keys not required: the one default tenant)."""
    if not settings.require_api_key:
        return 1
    return len(set(_by_digest(settings).values()))


def expected_receiver(settings, tenant: str) -> ExpectedReceiver:
    own = next((t for t in settings.tenants if t.name == tenant), None)
    if own and (own.expected_receiver_name or own.expected_receiver_documents or own.expected_receiver_pix_keys):
        return ExpectedReceiver(
            own.expected_receiver_name, own.expected_receiver_documents, own.expected_receiver_pix_keys
        )
    return ExpectedReceiver(
        settings.expected_receiver_name, settings.expected_receiver_documents, settings.expected_receiver_pix_keys
    )


def webhook_secret(settings, tenant: str) -> tuple[str, str] | None:
    """(the WEBHOOK_SECRETS entry, its secret) that signs the tenant's webhooks, or None."""
    secrets = dict(settings.webhook_secrets)
    if tenant in secrets:
        return tenant, secrets[tenant]
    if ANY_TENANT in secrets and count(settings) <= 1:
        return ANY_TENANT, secrets[ANY_TENANT]
    return None


def signing_secret(settings, doc: job.Job) -> str | None:
    """The secret that signs a job's webhook: the entry chosen when it was accepted (a job
    accepted with `*` keeps it), else its tenant's own; never `*` chosen here, since the OCR
    function, which delivers, is not told API_KEY_HASHES and so cannot count the tenants."""
    secrets = dict(settings.webhook_secrets)
    return secrets.get(doc.get("callback_key") or "") or secrets.get(job.tenant_of(doc))


def own_psp(settings, tenant: str) -> TenantPsp | None:
    """The tenant's own PSP (its `psp` in TENANTS), None when it uses the PIX_* configuration."""
    return next((t.psp for t in settings.tenants if t.name == tenant and t.psp), None)


def psp_owner(settings, tenant: str) -> str:
    """Whose PSP configuration confirms the tenant's payments: its name when it has its own, else
    SHARED_PSP. Pushed Pix are stored under it, and a push confirms only jobs of its tenants."""
    return tenant if own_psp(settings, tenant) else SHARED_PSP


def webhook_owner(settings, secret: str) -> str | None:
    """The PSP configuration (psp_owner) whose webhook path secret this is, None for no secret.
    Every configured secret is compared, in constant time each, whatever matched first."""
    candidates = [(SHARED_PSP, settings.pix_webhook_secret)]
    candidates += [(t.name, t.psp.webhook_secret) for t in settings.tenants if t.psp]
    found = None
    for owner, expected in candidates:
        if expected and hmac.compare_digest(secret.encode(), expected.encode()) and found is None:
            found = owner
    return found
