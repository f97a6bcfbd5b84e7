"""Every setting of the pipeline, read from environment variables in this one place.

The README's configuration table lists the same variables with the same defaults; keep them in
step. Defaults give the embedded local mode: a local directory, SQLite and inline processing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting has a value the pipeline cannot use; raised at start-up, never per request."""


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
class Settings:
    project_id: str = "receipts-local"
    blob_store: str = "local"
    local_blob_dir: str = "var/blobs"
    gcs_bucket: str = "receipts-local"
    storage_retry_seconds: int = 20
    job_store: str = "sqlite"
    sqlite_path: str = "var/jobs.sqlite3"
    firestore_database: str = "(default)"
    jobs_collection: str = "jobs"
    firestore_retry_seconds: int = 60
    task_queue: str = "inline"
    sync_fallback: bool = True
    task_max_attempts: int = 5
    job_timeout_seconds: int = 300
    tasks_location: str = "us-central1"
    tasks_queue_name: str = "ocr"
    tasks_emulator_host: str = ""
    ocr_function_url: str = ""
    tasks_service_account: str = ""
    tasks_audience: str = ""
    redis_url: str = "redis://localhost:6379/0"
    rq_queue_name: str = "ocr"
    reconcile_queued_after_seconds: int = 600
    status_base_url: str = ""
    max_upload_bytes: int = 16 * MIB
    max_image_pixels: int = 50_000_000
    max_pdf_pages: int = 20
    job_lease_seconds: int = 360  # default: the job timeout plus a minute
    ocr_engine: str = "rapidocr"
    vision_endpoint: str = ""
    ocr_max_side: int = 2000
    expected_receiver_name: str = ""
    expected_receiver_documents: tuple[str, ...] = field(default_factory=tuple)
    expected_receiver_pix_keys: tuple[str, ...] = field(default_factory=tuple)
    log_level: str = "INFO"
    require_api_key: bool = True
    api_key_hashes: tuple[str, ...] = field(default_factory=tuple)
    oidc_audience: str = ""
    oidc_invoker_email: str = ""
    oidc_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"
    oidc_behind_cloud_run_iam: bool = False  # Cloud Run checked the token's signature (common.auth)
    upload_url: str = ""
    cors_allowed_origins: tuple[str, ...] = field(default_factory=tuple)
    # Webhooks (common.notify)
    webhook_secrets: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (key digest or "*", secret)
    webhook_allow_private_urls: bool = False
    notify_max_attempts: int = 5
    notify_timeout_seconds: int = 10
    notify_backoff_seconds: int = 10
    notify_queue_name: str = "notify"
    rq_notify_queue_name: str = "notify"
    # Observability (common.metrics): Prometheus endpoints, for the local stack and the RQ worker.
    metrics_enabled: bool = False  # the functions answer GET /metrics
    metrics_port: int = 0  # worker.py serves /metrics on this port; 0 = off

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


def _task_queue(env: Mapping[str, str]) -> str:
    queue = _choice(env, "TASK_QUEUE", "inline", ("inline", "cloudtasks", "rq"))
    # The original system's switch: RQ_ASYNC_ENABLED=false meant "always process synchronously".
    if not _bool(env, "RQ_ASYNC_ENABLED", True):
        return "inline"
    return queue


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
    return Settings(
        project_id=env.get("GOOGLE_CLOUD_PROJECT", "").strip() or "receipts-local",
        blob_store=_choice(env, "BLOB_STORE", "local", ("local", "gcs")),
        local_blob_dir=env.get("LOCAL_BLOB_DIR", "").strip() or "var/blobs",
        gcs_bucket=env.get("GCS_BUCKET", "").strip() or "receipts-local",
        storage_retry_seconds=_int(env, "STORAGE_RETRY_SECONDS", 20),
        job_store=_choice(env, "JOB_STORE", "sqlite", ("sqlite", "firestore")),
        sqlite_path=env.get("SQLITE_PATH", "").strip() or "var/jobs.sqlite3",
        firestore_database=env.get("FIRESTORE_DATABASE", "").strip() or "(default)",
        jobs_collection=env.get("JOBS_COLLECTION", "").strip() or "jobs",
        firestore_retry_seconds=_int(env, "FIRESTORE_RETRY_SECONDS", 60, minimum=1),
        task_queue=_task_queue(env),
        sync_fallback=_bool(env, "SYNC_FALLBACK", True),
        task_max_attempts=_int(env, "TASK_MAX_ATTEMPTS", 5, minimum=1),
        job_timeout_seconds=_int(env, "JOB_TIMEOUT_SECONDS", 300, minimum=1),
        tasks_location=env.get("TASKS_LOCATION", "").strip() or "us-central1",
        tasks_queue_name=env.get("TASKS_QUEUE_NAME", "").strip() or "ocr",
        tasks_emulator_host=env.get("TASKS_EMULATOR_HOST", "").strip(),
        ocr_function_url=env.get("OCR_FUNCTION_URL", "").strip(),
        tasks_service_account=env.get("TASKS_SERVICE_ACCOUNT", "").strip(),
        tasks_audience=env.get("TASKS_AUDIENCE", "").strip() or env.get("OCR_FUNCTION_URL", "").strip(),
        redis_url=env.get("REDIS_URL", "").strip() or "redis://localhost:6379/0",
        rq_queue_name=env.get("RQ_QUEUE_NAME", "").strip() or "ocr",
        reconcile_queued_after_seconds=_int(env, "RECONCILE_QUEUED_AFTER_SECONDS", 600, minimum=1),
        status_base_url=env.get("STATUS_BASE_URL", "").strip().rstrip("/"),
        max_upload_bytes=_int(env, "MAX_UPLOAD_BYTES", 16 * MIB, minimum=1),
        max_image_pixels=_int(env, "MAX_IMAGE_PIXELS", 50_000_000, minimum=1),
        max_pdf_pages=_int(env, "MAX_PDF_PAGES", 20, minimum=1),
        job_lease_seconds=_int(env, "JOB_LEASE_SECONDS", 0, minimum=0)
        or _int(env, "JOB_TIMEOUT_SECONDS", 300, minimum=1) + 60,
        ocr_engine=_choice(env, "OCR_ENGINE", "rapidocr", ("rapidocr", "vision")),
        vision_endpoint=env.get("VISION_API_ENDPOINT", "").strip(),
        ocr_max_side=_int(env, "OCR_MAX_SIDE", 2000, minimum=320),
        expected_receiver_name=env.get("EXPECTED_RECEIVER_NAME", "").strip(),
        expected_receiver_documents=_list(env, "EXPECTED_RECEIVER_DOCUMENTS"),
        expected_receiver_pix_keys=_list(env, "EXPECTED_RECEIVER_PIX_KEYS"),
        log_level=_choice(env, "LOG_LEVEL", "INFO", ("debug", "info", "warning", "error")).upper(),
        require_api_key=_bool(env, "REQUIRE_API_KEY", True),
        api_key_hashes=tuple(h.lower() for h in _list(env, "API_KEY_HASHES")),
        oidc_audience=env.get("OIDC_AUDIENCE", "").strip(),
        oidc_invoker_email=env.get("OIDC_INVOKER_EMAIL", "").strip(),
        oidc_certs_url=env.get("OIDC_CERTS_URL", "").strip() or "https://www.googleapis.com/oauth2/v1/certs",
        oidc_behind_cloud_run_iam=_bool(env, "OIDC_BEHIND_CLOUD_RUN_IAM", False),
        upload_url=env.get("UPLOAD_URL", "").strip(),
        cors_allowed_origins=tuple(o.lower().rstrip("/") for o in _list(env, "CORS_ALLOWED_ORIGINS")),
        webhook_secrets=_webhook_secrets(env),
        webhook_allow_private_urls=_bool(env, "WEBHOOK_ALLOW_PRIVATE_URLS", False),
        notify_max_attempts=_int(env, "NOTIFY_MAX_ATTEMPTS", 5, minimum=1),
        notify_timeout_seconds=_int(env, "NOTIFY_TIMEOUT_SECONDS", 10, minimum=1),
        notify_backoff_seconds=_int(env, "NOTIFY_BACKOFF_SECONDS", 10, minimum=0),
        notify_queue_name=env.get("NOTIFY_QUEUE_NAME", "").strip() or "notify",
        rq_notify_queue_name=env.get("RQ_NOTIFY_QUEUE_NAME", "").strip() or "notify",
        # Observability
        metrics_enabled=_bool(env, "METRICS_ENABLED", False),
        metrics_port=_int(env, "METRICS_PORT", 0),
    )
