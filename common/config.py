"""Every setting of the pipeline, declared once here: its environment variable, default, bounds
and meaning sit on its `Settings` field. Parsing (`from_env`) and the configuration table in
docs/configuration.md (`markdown_table`, checked by tests/test_config.py) are derived from that.
Defaults give the embedded local mode: a local directory, SQLite and inline processing.

A dataclass-field table rather than pydantic-settings: the functions' zips stay free of another
dependency, the error messages stay the ones users know (`NAME=value: expected ...`), and the
few settings that read two variables (TASK_QUEUE, TASKS_AUDIENCE, JOB_LEASE_SECONDS) are a
function each instead of validators.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting has a value the pipeline cannot use; raised at start-up, never per request."""


class StartUpError(SystemExit):
    """A ConfigError at a process's start-up: it stops with the one-line message, no traceback."""


@contextlib.contextmanager
def at_start_up():
    """Around a function's import-time set-up: a ConfigError stops the process with its message."""
    try:
        yield
    except ConfigError as e:
        raise StartUpError(f"configuration error: {e}") from None


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value}: must be at least {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: expected true or false")


_ORIGIN = r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?"  # what a browser sends in Origin (no IPv6 literals)


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


@dataclass(frozen=True)
class Variable:
    """One environment variable: how it is read and how docs/configuration.md shows it."""

    name: str
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    minimum: int = 0
    shown: str = ""  # the default as the table shows it, when not the value itself
    read: Callable[[Mapping[str, str]], Any] | None = None  # a setting that reads more than its variable
    clean: Callable[[Any], Any] | None = None  # applied to the value read

    def parse(self, env: Mapping[str, str]) -> Any:
        if self.read is not None:
            value = self.read(env)
        elif self.choices:
            value = _choice(env, self.name, str(self.default), self.choices)
        elif isinstance(self.default, bool):
            value = _bool(env, self.name, self.default)
        elif isinstance(self.default, int):
            value = _int(env, self.name, self.default, self.minimum)
        elif isinstance(self.default, tuple):
            value = _list(env, self.name)
        else:
            value = env.get(self.name, "").strip() or self.default
        return self.clean(value) if self.clean else value

    @property
    def default_shown(self) -> str:
        if self.shown:
            return self.shown
        if isinstance(self.default, bool):
            return f"`{str(self.default).lower()}`"
        if self.default in ("", ()):
            return "empty"
        return f"`{self.default}`"


def setting(name: str, default: Any, description: str, secret: bool = False, **options: Any) -> Any:
    """A `Settings` field read from the environment variable `name`; a `secret` one stays out of
    the settings' repr (and so out of any log or traceback that shows them)."""
    variable = Variable(name, default, description, **options)
    return field(default=default, repr=not secret, metadata={"variable": variable})


def _task_queue(env: Mapping[str, str]) -> str:
    queue = _choice(env, "TASK_QUEUE", "inline", ("inline", "cloudtasks", "rq"))
    # The original system's switch: RQ_ASYNC_ENABLED=false meant "always process synchronously".
    if not _bool(env, "RQ_ASYNC_ENABLED", True):
        return "inline"
    return queue


def _tasks_audience(env: Mapping[str, str]) -> str:
    return env.get("TASKS_AUDIENCE", "").strip() or env.get("OCR_FUNCTION_URL", "").strip()


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or taskset's share),
    else the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _job_lease_seconds(env: Mapping[str, str]) -> int:
    return _int(env, "JOB_LEASE_SECONDS", 0, minimum=0) or _int(env, "JOB_TIMEOUT_SECONDS", 300, minimum=1) + 60


_DIGEST = r"[0-9a-f]{64}"
_TENANT_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"


@dataclass(frozen=True)
class TenantPsp:
    """A tenant's own PSP (its `psp` object in TENANTS): the API Pix of the bank that holds its
    account, with its own OAuth2 client and mutual-TLS certificate. The secrets are not in TENANTS:
    `client_secret_env` and `webhook_secret_env` name the environment variables that hold them (in
    Terraform, from Secret Manager); the certificate, key and CA are files, like PIX_CLIENT_CERT's.
    A webhook secret variable that is unset or empty means no push endpoint for that PSP, like an
    empty PIX_WEBHOOK_SECRET (the OCR function, which serves no push, is not given it)."""

    api_url: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    token_url: str = ""
    client_cert: str = ""
    client_key: str = ""
    ca_bundle: str = ""
    scope: str = "pix.read"
    webhook_secret: str = field(default="", repr=False)

    @property
    def token_endpoint(self) -> str:
        return self.token_url or self.api_url + "/oauth/token"


@dataclass(frozen=True)
class Tenant:
    """One named tenant of TENANTS: the API keys (their digests) that act as it, its own expected
    receiver (empty fields: EXPECTED_RECEIVER_* apply) and its own PSP (None: the PIX_* one). See
    common.tenants."""

    name: str
    api_key_hashes: tuple[str, ...]
    expected_receiver_name: str = ""
    expected_receiver_documents: tuple[str, ...] = ()
    expected_receiver_pix_keys: tuple[str, ...] = ()
    psp: TenantPsp | None = None


_TENANT_FIELDS = (
    "api_key_hashes",
    "expected_receiver_name",
    "expected_receiver_documents",
    "expected_receiver_pix_keys",
    "psp",
)
_PSP_FIELDS = (
    "api_url",
    "token_url",
    "client_id",
    "client_secret_env",
    "client_cert",
    "client_key",
    "ca_bundle",
    "scope",
    "webhook_secret_env",
)
_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,127}"


def _tenant_psp(env: Mapping[str, str], name: str, entry: Any) -> TenantPsp:
    """The `psp` object of a TENANTS entry; its secrets read from the variables it names. No
    message shows a value: a secret pasted in the wrong place must not reach a log."""
    where = f"TENANTS: psp of {name!r}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be an object of {', '.join(_PSP_FIELDS)}")
    inline = sorted({"client_secret", "webhook_secret"} & set(entry))
    if inline:
        raise ConfigError(
            f"{where}: {inline[0]} does not go in TENANTS; put it in an environment variable (Secret Manager) "
            f"and name that variable in {inline[0]}_env"
        )
    unknown = sorted(set(entry) - set(_PSP_FIELDS))
    if unknown:
        raise ConfigError(f"{where} must be an object of {', '.join(_PSP_FIELDS)}; unknown {unknown}")
    if not all(isinstance(value, str) for value in entry.values()):
        raise ConfigError(f"{where}: every field is a string")
    values = {key: value.strip() for key, value in entry.items()}

    def secret(key: str, required: bool) -> str:
        variable = values.get(key, "")
        if not variable:
            if required:
                raise ConfigError(f"{where} needs {key}, the environment variable that holds it")
            return ""
        if not re.fullmatch(_ENV_NAME, variable):
            raise ConfigError(f"{where}: {key} must name an environment variable (letters, digits, _)")
        value = env.get(variable, "").strip()
        if not value and required:
            raise ConfigError(f"{where}: {key} names {variable}, which is not set")
        return value  # the webhook's unset (a function that serves no push): no push endpoint

    api_url = values.get("api_url", "").rstrip("/")
    if not api_url.startswith("https://"):
        raise ConfigError(f"{where}: api_url must be the https:// base URL of its API Pix (mutual TLS)")
    if not values.get("client_id"):
        raise ConfigError(f"{where} needs client_id, the OAuth2 client id its PSP issued")
    if bool(values.get("client_cert")) != bool(values.get("client_key")):
        raise ConfigError(f"{where}: client_cert and client_key go together")
    webhook_secret = secret("webhook_secret_env", required=False)
    if webhook_secret and len(webhook_secret) < 16:
        raise ConfigError(f"{where}: the webhook secret (webhook_secret_env) must have at least 16 characters")
    return TenantPsp(
        api_url=api_url,
        client_id=values["client_id"],
        client_secret=secret("client_secret_env", required=True),
        token_url=values.get("token_url", ""),
        client_cert=values.get("client_cert", ""),
        client_key=values.get("client_key", ""),
        ca_bundle=values.get("ca_bundle", ""),
        scope=values.get("scope") or "pix.read",
        webhook_secret=webhook_secret,
    )


def _strings(name: str, field_name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"TENANTS: {field_name} of {name!r} must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def _tenants(env: Mapping[str, str]) -> tuple[Tenant, ...]:
    raw = env.get("TENANTS", "").strip()
    if not raw:
        return ()
    try:
        table = json.loads(raw)
    except ValueError:
        raise ConfigError('TENANTS: not valid JSON (expected {"<name>": {"api_key_hashes": [...]}, ...})') from None
    if not isinstance(table, dict):
        raise ConfigError("TENANTS: expected a JSON object of tenant name -> settings")
    found: list[Tenant] = []
    owner: dict[str, str] = {}
    for name, entry in table.items():
        if not re.fullmatch(_TENANT_NAME, name):
            raise ConfigError(f"TENANTS: {name[:70]!r} is not a tenant name (1-64 letters, digits, _ or -)")
        if not isinstance(entry, dict) or set(entry) - set(_TENANT_FIELDS):
            unknown = sorted(set(entry) - set(_TENANT_FIELDS)) if isinstance(entry, dict) else []
            raise ConfigError(f"TENANTS: {name!r} must be an object of {', '.join(_TENANT_FIELDS)}; unknown {unknown}")
        digests = tuple(d.lower() for d in _strings(name, "api_key_hashes", entry.get("api_key_hashes", [])))
        if not digests:
            raise ConfigError(f"TENANTS: {name!r} has no api_key_hashes")
        for digest in digests:
            if not re.fullmatch(_DIGEST, digest):
                # Never echo the value: it may be a raw key pasted in by mistake.
                raise ConfigError(
                    f"TENANTS: an api_key_hashes entry of {name!r} is not a SHA-256 hex digest "
                    "(printf %s KEY | sha256sum)"
                )
            if owner.setdefault(digest, name) != name:
                raise ConfigError(f"TENANTS: one API key digest is listed for both {owner[digest]!r} and {name!r}")
        receiver_name = entry.get("expected_receiver_name", "")
        if not isinstance(receiver_name, str):
            raise ConfigError(f"TENANTS: expected_receiver_name of {name!r} must be a string")
        found.append(
            Tenant(
                name=name,
                api_key_hashes=digests,
                expected_receiver_name=receiver_name.strip(),
                expected_receiver_documents=_strings(
                    name, "expected_receiver_documents", entry.get("expected_receiver_documents", [])
                ),
                expected_receiver_pix_keys=_strings(
                    name, "expected_receiver_pix_keys", entry.get("expected_receiver_pix_keys", [])
                ),
                psp=_tenant_psp(env, name, entry["psp"]) if entry.get("psp") is not None else None,
            )
        )
    return tuple(found)


def _webhook_secrets(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    names = {tenant.name for tenant in _tenants(env)}
    for number, item in enumerate(_list(env, "WEBHOOK_SECRETS"), 1):
        name, _, secret = item.partition("=")
        name = name.strip()
        # Entries are named by their position, never by their text: it may hold a key or a secret.
        if name in names:
            pass  # a TENANTS name: that tenant's secret, whichever of its keys uploaded
        elif name.lower() == "*" or re.fullmatch(_DIGEST, name.lower()):
            name = name.lower()
        else:
            raise ConfigError(
                f"WEBHOOK_SECRETS: entry {number} starts with neither an API key digest, a TENANTS name nor *"
            )
        if len(secret.strip()) < 16:
            raise ConfigError(f"WEBHOOK_SECRETS: the secret of entry {number} is shorter than 16 characters")
        pairs.append((name, secret.strip()))
    return tuple(pairs)


def _lower(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.lower() for v in values)


def _origins(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.lower().rstrip("/") for v in values)


@dataclass(frozen=True)
class Settings:
    project_id: str = setting(
        "GOOGLE_CLOUD_PROJECT", "receipts-local", "project of the Cloud Storage and Firestore clients"
    )
    blob_store: str = setting(
        "BLOB_STORE", "local", "`local` (a directory) or `gcs` (Cloud Storage)", choices=("local", "gcs")
    )
    local_blob_dir: str = setting("LOCAL_BLOB_DIR", "var/blobs", "directory of the `local` blob store")
    gcs_bucket: str = setting("GCS_BUCKET", "receipts-local", "bucket of the `gcs` blob store")
    storage_retry_seconds: int = setting(
        "STORAGE_RETRY_SECONDS",
        20,
        "how long the Cloud Storage client retries by itself before the job is retried; 0: never",
    )
    job_store: str = setting("JOB_STORE", "sqlite", "`sqlite` or `firestore`", choices=("sqlite", "firestore"))
    sqlite_path: str = setting("SQLITE_PATH", "var/jobs.sqlite3", "database file of the `sqlite` job store")
    firestore_database: str = setting("FIRESTORE_DATABASE", "(default)", "Firestore database id")
    jobs_collection: str = setting(
        "JOBS_COLLECTION", "jobs", "Firestore collection of jobs (`<name>_by_sha256` indexes them by content)"
    )
    firestore_retry_seconds: int = setting(
        "FIRESTORE_RETRY_SECONDS",
        60,
        "how long Firestore reads retry transient errors before the store counts as down (503, the job retried)",
        minimum=1,
    )
    retention_days: int = setting(
        "RETENTION_DAYS",
        90,  # terraform/variables.tf retention_days: the receipts bucket deletes receipts as old
        "days a job, its transaction and hash index records keep the receipt's personal data: each carries "
        "`expires_at` = creation + this, enforced by Firestore's TTL policy and by the reconciler's sweep on "
        "SQLite (see [Personal data](operations.md#personal-data-retention-and-erasure))",
        minimum=1,
    )
    task_queue: str = setting(
        "TASK_QUEUE",
        "inline",
        "`inline`, `cloudtasks` or `rq` (see [Queue modes](operations.md#queue-modes))",
        read=_task_queue,
    )
    sync_fallback: bool = setting(
        "SYNC_FALLBACK", True, "when the queue is unreachable at upload: run the job inline (`true`) or answer 503"
    )
    task_max_attempts: int = setting(
        "TASK_MAX_ATTEMPTS", 5, "attempts per job before a transient failure or dead workers fail it", minimum=1
    )
    job_timeout_seconds: int = setting(
        "JOB_TIMEOUT_SECONDS", 300, "a job running longer fails with `timeout`", minimum=1
    )
    tasks_location: str = setting("TASKS_LOCATION", "us-central1", "Cloud Tasks location")
    tasks_queue_name: str = setting("TASKS_QUEUE_NAME", "ocr", "Cloud Tasks queue")
    tasks_emulator_host: str = setting(
        "TASKS_EMULATOR_HOST", "", "`host:port` of `gcloud-tasks-emulator`; tasks are then unsigned", shown="unset"
    )
    ocr_function_url: str = setting(
        "OCR_FUNCTION_URL",
        "",
        "the OCR function's URL, target of Cloud Tasks tasks (required for `cloudtasks`)",
    )
    tasks_service_account: str = setting(
        "TASKS_SERVICE_ACCOUNT", "", "service account whose OIDC token signs the tasks"
    )
    tasks_audience: str = setting(
        "TASKS_AUDIENCE", "", "audience of that token", shown="`OCR_FUNCTION_URL`", read=_tasks_audience
    )
    redis_url: str = setting("REDIS_URL", "redis://localhost:6379/0", "Redis of the `rq` queue")
    rq_queue_name: str = setting("RQ_QUEUE_NAME", "ocr", "RQ queue")
    reconcile_queued_after_seconds: int = setting(
        "RECONCILE_QUEUED_AFTER_SECONDS", 600, "the reconciler re-enqueues jobs queued this long", minimum=1
    )
    inline_recovery_seconds: int = setting(
        "INLINE_RECOVERY_SECONDS",
        30,
        "with `TASK_QUEUE=inline`, the upload function runs the reconciler's pass this often, so a job "
        "whose run was stopped (Ctrl-C) runs again once its lease is over; `0`: never",
    )
    status_base_url: str = setting(
        "STATUS_BASE_URL",
        "",
        "prefix of `status_url` (the status function's URL); empty gives a path; "
        "also the default `--status-base` of `cli upload`",
        clean=lambda url: url.rstrip("/"),
    )
    max_upload_bytes: int = setting("MAX_UPLOAD_BYTES", 16 * MIB, "largest accepted file (16 MiB)", minimum=1)
    max_image_pixels: int = setting(
        "MAX_IMAGE_PIXELS", 50_000_000, "largest image, in pixels, that will be decoded", minimum=1
    )
    max_pdf_pages: int = setting("MAX_PDF_PAGES", 20, "most pages a PDF may have", minimum=1)
    job_lease_seconds: int = setting(
        "JOB_LEASE_SECONDS",
        360,  # the job timeout plus a minute
        "how long after its last progress report an attempt keeps its job",
        shown="timeout + 60",
        read=_job_lease_seconds,
    )
    ocr_engine: str = setting(
        "OCR_ENGINE",
        "rapidocr",
        "`rapidocr` (local, models in the wheel) or `vision` (Cloud Vision, DOCUMENT_TEXT_DETECTION)",
        choices=("rapidocr", "vision"),
    )
    vision_endpoint: str = setting(
        "VISION_API_ENDPOINT",
        "",
        "Cloud Vision endpoint; empty is Google's with Application Default Credentials; "
        "an `http://` URL (a local fake) is called anonymously over REST",
    )
    ocr_max_side: int = setting(
        "OCR_MAX_SIDE", 2000, "images are downscaled to this longest side before OCR", minimum=320
    )
    ocr_workers_per_machine: int = setting(
        "OCR_WORKERS_PER_MACHINE",
        1,
        "OCR processes (`worker.py`, functions running OCR inline) sharing this machine's cores; "
        "each gets its share of them as RapidOCR threads (see `OCR_THREADS`)",
        minimum=1,
    )
    ocr_threads: int = setting(
        "OCR_THREADS",
        0,
        "onnxruntime intra-op threads of the local engine (RapidOCR); `0`: the cores this process "
        "may use (its CPU affinity) divided by `OCR_WORKERS_PER_MACHINE`, at least 1",
        shown="`0` (cores / workers)",
    )
    progress_interval_ms: int = setting(
        "PROGRESS_INTERVAL_MS",
        1000,
        "a job writes its `progress` (and renews its lease) at most this often; the claim and the "
        "end are always written; `0`: every step",
    )
    expected_receiver_name: str = setting(
        "EXPECTED_RECEIVER_NAME", "", "your name as receipts show it (accents and case ignored)"
    )
    expected_receiver_documents: tuple[str, ...] = setting(
        "EXPECTED_RECEIVER_DOCUMENTS", (), "your CPF/CNPJ, comma-separated, any punctuation"
    )
    expected_receiver_pix_keys: tuple[str, ...] = setting(
        "EXPECTED_RECEIVER_PIX_KEYS", (), "your PIX keys, comma-separated"
    )
    log_level: str = setting(
        "LOG_LEVEL",
        "INFO",
        "`DEBUG`, `INFO`, `WARNING` or `ERROR`",
        choices=("debug", "info", "warning", "error"),
        clean=str.upper,
    )
    require_api_key: bool = setting(
        "REQUIRE_API_KEY",
        True,
        "upload and status answer only requests with a valid `X-API-Key`; "
        "`make run`, `make up` and the tests set `false`",
    )
    api_key_hashes: tuple[str, ...] = setting(
        "API_KEY_HASHES",
        (),
        "SHA-256 hex digests of the accepted API keys, comma-separated (`printf %s KEY \\| sha256sum`); "
        "each one a tenant of its own (see [Tenants](api.md#tenants)); "
        "with `REQUIRE_API_KEY=true` and no key here or in `TENANTS`, upload and status refuse to start",
        clean=_lower,
    )
    tenants: tuple[Tenant, ...] = setting(
        "TENANTS",
        (),
        'named tenants, JSON: `{"<name>": {"api_key_hashes": ["<digest>", ...], '
        '"expected_receiver_name": "...", "expected_receiver_documents": [...], '
        '"expected_receiver_pix_keys": [...], "psp": {...}}}`; the keys of one tenant share its jobs (rotation '
        "without downtime); empty receiver fields fall back to `EXPECTED_RECEIVER_*`; `psp`: the tenant's own "
        "API Pix (`api_url`, `client_id`, `client_secret_env`, `client_cert`, `client_key`, `ca_bundle`, "
        "`webhook_secret_env`...; secrets by the name of the variable holding them), else the `PIX_*` one "
        "(see [Tenants](api.md#tenants), [per-tenant PSPs](psp.md#one-psp-per-tenant))",
        read=_tenants,
    )
    oidc_audience: str = setting(
        "OIDC_AUDIENCE",
        "",
        "when set, the OCR function takes only requests with a Google-signed OIDC token for this audience "
        "(its own URL)",
    )
    oidc_invoker_email: str = setting("OIDC_INVOKER_EMAIL", "", "and only from this service account (the task invoker)")
    oidc_certs_url: str = setting(
        "OIDC_CERTS_URL",
        "https://www.googleapis.com/oauth2/v1/certs",
        "where the token-signing certificates are fetched (cached for an hour)",
        shown="Google's",
    )
    oidc_behind_cloud_run_iam: bool = setting(  # Cloud Run checked the token's signature (common.auth)
        "OIDC_BEHIND_CLOUD_RUN_IAM",
        False,
        "the OCR function sits behind Cloud Run's IAM check (Terraform sets `true`): accept a token whose "
        "signature Cloud Run verified and replaced by `SIGNATURE_REMOVED_BY_GOOGLE`, still checking its issuer, "
        "audience, expiry and e-mail; never on a service that allows unauthenticated calls "
        "(see [deployment.md](deployment.md))",
    )
    upload_url: str = setting(
        "UPLOAD_URL",
        "",
        "status function: where its page sends receipts (the upload function's URL); empty: the page says "
        "uploads are not configured. Also the default `--url` of `python -m common.cli upload`",
    )
    cors_allowed_origins: tuple[str, ...] = setting(
        "CORS_ALLOWED_ORIGINS",
        (),
        "upload and status functions: origins (`scheme://host[:port]`, comma-separated) whose pages may call "
        "them; `*` allows any, only when written; empty allows none",
        clean=_origins,
    )
    # Webhooks (common.notify)
    webhook_secrets: tuple[tuple[str, str], ...] = setting(  # (TENANTS name, key digest or "*"; secret)
        "WEBHOOK_SECRETS",
        (),
        "webhook signing secrets, comma-separated `<tenant>=<secret>` (a `TENANTS` name or an API key SHA-256 "
        "digest) or `*=<secret>` (only while there is a single tenant: keys not required, or one tenant); "
        "secrets of at least 16 characters; a tenant without one: `callback_url` is refused",
        read=_webhook_secrets,
    )
    webhook_allow_private_urls: bool = setting(
        "WEBHOOK_ALLOW_PRIVATE_URLS",
        False,
        "allow `http` callback URLs and private or loopback addresses (local development only: it opens SSRF)",
    )
    notify_max_attempts: int = setting(
        "NOTIFY_MAX_ATTEMPTS",
        5,
        "delivery attempts per webhook (the Cloud Tasks `notify` queue's `max_attempts` must match)",
        minimum=1,
    )
    notify_timeout_seconds: int = setting(
        "NOTIFY_TIMEOUT_SECONDS",
        10,
        "deadline of one delivery attempt, all of it: connect, TLS, the request and the answer's headers "
        "(a receiver that drips its answer is cut off)",
        minimum=1,
    )
    notify_backoff_seconds: int = setting(
        "NOTIFY_BACKOFF_SECONDS",
        10,
        "inline and RQ: wait before the second attempt, doubling after each (at most an hour); "
        "Cloud Tasks uses the queue's backoff",
    )
    notify_queue_name: str = setting(
        "NOTIFY_QUEUE_NAME",
        "notify",
        "Cloud Tasks queue of webhook deliveries (tasks go to `OCR_FUNCTION_URL` + `/notify`)",
    )
    rq_notify_queue_name: str = setting(
        "RQ_NOTIFY_QUEUE_NAME",
        "notify",
        "RQ queue of webhook deliveries (`worker.py` serves it after `RQ_QUEUE_NAME`)",
    )
    # Payment confirmation with the receiver's PSP through the BCB API Pix (common.confirmation)
    pix_confirmation: str = setting(
        "PIX_CONFIRMATION",
        "none",
        "`none` (no `validacao_pagamento`) or `api_pix` (ask the receiver's PSP, see [psp.md](psp.md))",
        choices=("none", "api_pix"),
    )
    pix_api_url: str = setting(
        "PIX_API_URL",
        "",
        "base URL of the PSP's API Pix (`https://...`, required for `api_pix`)",
        clean=lambda url: url.rstrip("/"),
    )
    pix_token_url: str = setting(
        "PIX_TOKEN_URL", "", "the PSP's OAuth2 token endpoint", shown="`PIX_API_URL` + `/oauth/token`"
    )
    pix_client_id: str = setting("PIX_CLIENT_ID", "", "OAuth2 client id the PSP issued")
    pix_client_secret: str = setting(
        "PIX_CLIENT_SECRET", "", "OAuth2 client secret (Secret Manager in production; never logged)", secret=True
    )
    pix_client_cert: str = setting(
        "PIX_CLIENT_CERT", "", "file of the client certificate (PEM) the PSP signed, for mutual TLS"
    )
    pix_client_key: str = setting("PIX_CLIENT_KEY", "", "file of that certificate's private key (PEM)")
    pix_ca_bundle: str = setting(
        "PIX_CA_BUNDLE", "", "file of the CAs that sign the PSP's server certificate; empty: the system's"
    )
    pix_scope: str = setting("PIX_SCOPE", "pix.read", "OAuth2 scopes asked for (space-separated)")
    pix_timeout_seconds: int = setting(
        "PIX_TIMEOUT_SECONDS", 10, "connect and read timeout of one call to the PSP", minimum=1
    )
    pix_retries: int = setting(
        "PIX_RETRIES", 2, "retries of a call that timed out or got a 5xx, within one attempt (0.5 s, 1 s...)"
    )
    pix_window_minutes: int = setting(
        "PIX_WINDOW_MINUTES",
        15,
        "an id the receipt leaves ambiguous is looked for among the Pix received this long around `paid_at`",
        minimum=1,
    )
    pix_recheck_seconds: int = setting(
        "PIX_RECHECK_SECONDS",
        60,
        "the reconciler asks the PSP again after this long when it was unreachable, doubling up to an hour",
        minimum=1,
    )
    pix_recheck_max_attempts: int = setting(
        "PIX_RECHECK_MAX_ATTEMPTS", 10, "then `confirmed` stays null with its reason", minimum=1
    )
    pix_webhook_secret: str = setting(
        "PIX_WEBHOOK_SECRET",
        "",
        "the path secret of the PSP's webhook (`POST /pix-webhook/<secret>/pix` on the upload function); "
        "empty: the endpoint answers 404",
        secret=True,
    )
    pix_webhook_cert_header: str = setting(
        "PIX_WEBHOOK_CERT_HEADER",
        "",
        "a header the mTLS-terminating load balancer sets to `true` when the PSP's client certificate "
        "verified; when set, pushes without it are refused (403)",
    )
    # Observability (common.metrics): Prometheus endpoints, for the local stack and the RQ worker.
    metrics_enabled: bool = setting(
        "METRICS_ENABLED",
        False,
        "the functions answer `GET /metrics` (Prometheus text format; the local stack sets `true`; "
        "in production the log-based metrics count the same events), with the API key when keys are "
        "required (the OCR function: its OIDC token when `OIDC_AUDIENCE` is set)",
    )
    metrics_port: int = setting(
        "METRICS_PORT", 0, "`worker.py` serves Prometheus metrics on this port (`/metrics`); `0` is off"
    )
    metrics_host: str = setting(
        "METRICS_HOST",
        "127.0.0.1",
        "the address `worker.py`'s metrics port listens on: loopback unless set (`0.0.0.0`: every interface, "
        "for a scraper on another machine; the port has no authentication)",
    )

    @property
    def engine_threads(self) -> int:
        """The local OCR engine's threads: OCR_THREADS, or this process's share of its cores."""
        return self.ocr_threads or max(1, available_cores() // self.ocr_workers_per_machine)

    @property
    def max_request_bytes(self) -> int:
        # The multipart envelope and the small form fields ride on top of the file itself;
        # the file's own limit is enforced exactly while it is spooled (common.spool).
        return self.max_upload_bytes + MIB

    @property
    def tasks_queue_path(self) -> str:
        return f"projects/{self.project_id}/locations/{self.tasks_location}/queues/{self.tasks_queue_name}"

    @property
    def notify_queue_path(self) -> str:
        return f"projects/{self.project_id}/locations/{self.tasks_location}/queues/{self.notify_queue_name}"

    @property
    def notify_function_url(self) -> str:
        # Notification tasks go to the OCR function's /notify path (same service, same token).
        return self.ocr_function_url.rstrip("/") + "/notify" if self.ocr_function_url else ""

    @property
    def pix_token_endpoint(self) -> str:
        return self.pix_token_url or (self.pix_api_url + "/oauth/token" if self.pix_api_url else "")

    @property
    def expected_receiver_configured(self) -> bool:
        return bool(self.expected_receiver_name or self.expected_receiver_documents or self.expected_receiver_pix_keys)


# Variables that are not a field of Settings: a switch folded into another setting, and those
# that the Google clients or the command line read themselves.
OTHER_VARIABLES = (
    Variable("RQ_ASYNC_ENABLED", True, "the original's switch: `false` forces `TASK_QUEUE=inline`"),
    Variable(
        "STORAGE_EMULATOR_HOST",
        "",
        "`http://host:port` of `gcp-storage-emulator` (read by the client)",
        shown="unset",
    ),
    Variable(
        "FIRESTORE_EMULATOR_HOST", "", "`host:port` of the Firestore emulator (read by the client)", shown="unset"
    ),
    Variable(
        "API_KEY",
        "",
        "`python -m common.cli upload` only: the key it sends as `X-API-Key` (the functions keep only "
        "`API_KEY_HASHES`)",
    ),
)
READ_HERE = {"RQ_ASYNC_ENABLED"}  # the one of OTHER_VARIABLES that from_env reads


def variables() -> list[Variable]:
    """Every variable of the configuration table, the Settings fields' first."""
    return [f.metadata["variable"] for f in fields(Settings)] + list(OTHER_VARIABLES)


def variables_read() -> set[str]:
    """The environment variables from_env reads."""
    return {f.metadata["variable"].name for f in fields(Settings)} | READ_HERE


def markdown_table() -> str:
    """The configuration table of docs/configuration.md."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{v.name}` | {v.default_shown} | {v.description} |" for v in variables()]
    return "\n".join(rows) + "\n"


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    settings = _read(env)
    if settings.task_queue == "cloudtasks" and not settings.ocr_function_url:
        raise ConfigError("TASK_QUEUE=cloudtasks needs OCR_FUNCTION_URL, the OCR function's URL")
    # Never the value itself: a raw key pasted in place of its digest must not reach a log.
    malformed = [i for i, h in enumerate(settings.api_key_hashes, 1) if not re.fullmatch(_DIGEST, h)]
    if malformed:
        raise ConfigError(
            f"API_KEY_HASHES: entry {malformed[0]} (of {len(settings.api_key_hashes)}, comma-separated) is not "
            "a SHA-256 hex digest; put the digest of each key there, never the key (printf %s KEY | sha256sum)"
        )
    # A digest of API_KEY_HASHES that no named tenant lists is a tenant of its own, named by it.
    grouped = {h for t in settings.tenants for h in t.api_key_hashes}
    if {t.name for t in settings.tenants} & (set(settings.api_key_hashes) - grouped):
        raise ConfigError("TENANTS: a tenant is named after an API_KEY_HASHES digest that it does not list")
    own_psps = [t for t in settings.tenants if t.psp]
    default_psp = settings.pix_api_url or settings.pix_client_id or settings.pix_client_secret
    if settings.pix_confirmation == "api_pix" and (default_psp or not own_psps):
        # Without PIX_API_URL, tenants with a psp of their own confirm and the others do not.
        missing = [
            v
            for v, value in (
                ("PIX_API_URL", settings.pix_api_url),
                ("PIX_CLIENT_ID", settings.pix_client_id),
                ("PIX_CLIENT_SECRET", settings.pix_client_secret),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"PIX_CONFIRMATION=api_pix needs {', '.join(missing)}")
        if not settings.pix_api_url.startswith("https://"):
            raise ConfigError("PIX_API_URL: the API Pix is only served over https (mutual TLS)")
        if bool(settings.pix_client_cert) != bool(settings.pix_client_key):
            raise ConfigError("PIX_CLIENT_CERT and PIX_CLIENT_KEY go together")
    if settings.pix_webhook_secret and len(settings.pix_webhook_secret) < 16:
        raise ConfigError("PIX_WEBHOOK_SECRET: at least 16 characters")
    # The webhook's path secret tells whose PSP pushed: no two PSP configurations may share one.
    paths = [s for s in [settings.pix_webhook_secret, *(t.psp.webhook_secret for t in own_psps if t.psp)] if s]
    if len(set(paths)) != len(paths):
        raise ConfigError("PIX webhook secrets: PIX_WEBHOOK_SECRET and each tenant's psp need secrets of their own")
    if settings.upload_url and not re.fullmatch(_ORIGIN + r"(/[^\s?#\"'<>;]*)?", settings.upload_url):
        raise ConfigError(f"UPLOAD_URL={settings.upload_url!r}: expected the upload function's http(s) URL")
    # A browser sends its origin as scheme://host[:port], nothing more; anything else never matches.
    bad = [o for o in settings.cors_allowed_origins if o != "*" and not re.fullmatch(_ORIGIN, o)]
    if bad:
        raise ConfigError(f"CORS_ALLOWED_ORIGINS: {bad[0]!r} is not an origin (scheme://host[:port], no path) or *")
    return settings


def _read(env: Mapping[str, str]) -> Settings:
    return Settings(**{f.name: f.metadata["variable"].parse(env) for f in fields(Settings)})
