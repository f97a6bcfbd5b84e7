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


def setting(name: str, default: Any, description: str, **options: Any) -> Any:
    """A `Settings` field read from the environment variable `name`."""
    variable = Variable(name, default, description, **options)
    return field(default=default, metadata={"variable": variable})


def _task_queue(env: Mapping[str, str]) -> str:
    queue = _choice(env, "TASK_QUEUE", "inline", ("inline", "cloudtasks", "rq"))
    # The original system's switch: RQ_ASYNC_ENABLED=false meant "always process synchronously".
    if not _bool(env, "RQ_ASYNC_ENABLED", True):
        return "inline"
    return queue


def _tasks_audience(env: Mapping[str, str]) -> str:
    return env.get("TASKS_AUDIENCE", "").strip() or env.get("OCR_FUNCTION_URL", "").strip()


def _job_lease_seconds(env: Mapping[str, str]) -> int:
    return _int(env, "JOB_LEASE_SECONDS", 0, minimum=0) or _int(env, "JOB_TIMEOUT_SECONDS", 300, minimum=1) + 60


def _webhook_secrets(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in _list(env, "WEBHOOK_SECRETS"):
        name, _, secret = item.partition("=")
        name = name.strip().lower()
        if name != "*" and not re.fullmatch(r"[0-9a-f]{64}", name):
            raise ConfigError(f"WEBHOOK_SECRETS: {name[:16]!r}... is neither an API key digest nor *")
        if len(secret.strip()) < 16:
            raise ConfigError(f"WEBHOOK_SECRETS: the secret for {name[:12]} is shorter than 16 characters")
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
        "with `REQUIRE_API_KEY=true` and none, upload and status refuse to start",
        clean=_lower,
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
    webhook_secrets: tuple[tuple[str, str], ...] = setting(  # (key digest or "*", secret)
        "WEBHOOK_SECRETS",
        (),
        "webhook signing secrets, comma-separated `<API key SHA-256 digest>=<secret>` or `*=<secret>` (any key, "
        "and uploads when keys are not required); secrets of at least 16 characters; empty: `callback_url` is "
        "refused",
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
        "NOTIFY_TIMEOUT_SECONDS", 10, "connect and read timeout of one delivery attempt", minimum=1
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
    # Observability (common.metrics): Prometheus endpoints, for the local stack and the RQ worker.
    metrics_enabled: bool = setting(
        "METRICS_ENABLED",
        False,
        "the functions answer `GET /metrics` (Prometheus text format; the local stack sets `true`; "
        "in production the log-based metrics count the same events)",
    )
    metrics_port: int = setting(
        "METRICS_PORT", 0, "`worker.py` serves Prometheus metrics on this port (`/metrics`); `0` is off"
    )

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

    def webhook_secret(self, api_key_digest: str | None) -> str | None:
        """The signing secret of the caller's API key, else the `*` one, else None."""
        secrets = dict(self.webhook_secrets)
        return secrets.get(api_key_digest or "") or secrets.get("*")

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
    bad = [h for h in settings.api_key_hashes if not re.fullmatch(r"[0-9a-f]{64}", h)]
    if bad:
        raise ConfigError(f"API_KEY_HASHES: {bad[0]!r} is not a SHA-256 hex digest (printf %s KEY | sha256sum)")
    if settings.upload_url and not re.fullmatch(_ORIGIN + r"(/[^\s?#\"'<>;]*)?", settings.upload_url):
        raise ConfigError(f"UPLOAD_URL={settings.upload_url!r}: expected the upload function's http(s) URL")
    # A browser sends its origin as scheme://host[:port], nothing more; anything else never matches.
    bad = [o for o in settings.cors_allowed_origins if o != "*" and not re.fullmatch(_ORIGIN, o)]
    if bad:
        raise ConfigError(f"CORS_ALLOWED_ORIGINS: {bad[0]!r} is not an origin (scheme://host[:port], no path) or *")
    return settings


def _read(env: Mapping[str, str]) -> Settings:
    return Settings(**{f.name: f.metadata["variable"].parse(env) for f in fields(Settings)})
