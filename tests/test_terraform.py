"""Offline checks of terraform/ (the Google provider cannot be downloaded here, so no init/validate):
`terraform fmt`, checkov with zero failed checks, and the project's own policies over the parsed
HCL (python-hcl2): the exact IAM grants, who may invoke the OCR function, bucket hardening, the
Firestore index against the code's query, the queue against TASK_MAX_ATTEMPTS, and every setting
of common/config.py either set on the function that needs it or safe at its default.

A missing tool (terraform, the checkov venv from scripts/setup.sh, python-hcl2) fails under CI
and is a visible skip elsewhere. The last tests break a copy of terraform/ on purpose and make
sure both the policy checks and checkov notice.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess

import pytest

from common import config
from tests.helpers import ROOT, TF_DIR, missing

CHECKOV = os.path.join(ROOT, ".venv-checkov", "bin", "checkov")
FUNCTIONS = ("upload", "ocr", "status")
BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}

# Every grant in terraform/, as (member, role, resource). "project" is the project itself.
IAM_ALLOWLIST = {
    ("upload", "roles/storage.objectCreator", "google_storage_bucket.receipts"),
    ("upload", "roles/datastore.user", "project"),
    ("upload", "roles/cloudtasks.enqueuer", "google_cloud_tasks_queue.ocr"),
    ("upload", "roles/iam.serviceAccountUser", "google_service_account.invoker"),
    ("upload", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.api_key_hashes"),
    ("ocr", "roles/storage.objectViewer", "google_storage_bucket.receipts"),
    ("ocr", "roles/datastore.user", "project"),
    ("ocr", "roles/cloudtasks.enqueuer", "google_cloud_tasks_queue.ocr"),
    ("ocr", "roles/iam.serviceAccountUser", "google_service_account.invoker"),
    ("upload", "roles/cloudtasks.enqueuer", "google_cloud_tasks_queue.notify"),
    ("upload", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.webhook_secrets"),
    ("ocr", "roles/cloudtasks.enqueuer", "google_cloud_tasks_queue.notify"),
    ("ocr", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.webhook_secrets"),
    ("status", "roles/datastore.user", "project"),
    ("status", "${google_project_iam_custom_role.receipt_eraser.name}", "google_storage_bucket.receipts"),
    ("status", "roles/storage.objectViewer", "google_storage_bucket.receipts"),  # GET /jobs/<id>/file
    # POST /jobs/<id>/review queues the review's webhook, an OIDC task as the invoker.
    ("status", "roles/cloudtasks.enqueuer", "google_cloud_tasks_queue.notify"),
    ("status", "roles/iam.serviceAccountUser", "google_service_account.invoker"),
    *(
        (fn, "roles/secretmanager.secretAccessor", f"google_secret_manager_secret.{secret}")
        for fn in ("upload", "ocr")
        for secret in ("pix_client_secret", "pix_client_cert", "pix_client_key")
    ),
    ("upload", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.pix_webhook_secret"),
    # Each tenant's own PSP (var.tenant_psps): its credentials, its webhook's path secret.
    ("upload", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.tenant_psp_credentials"),
    ("ocr", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.tenant_psp_credentials"),
    ("upload", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.tenant_psp_webhook_secret"),
    ("status", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.api_key_hashes"),
    ("upload", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.tenants"),
    ("status", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.tenants"),
    ("ocr", "roles/secretmanager.secretAccessor", "google_secret_manager_secret.tenants"),
    ("build", "roles/run.builder", "project"),
    ("build", "roles/storage.objectViewer", "google_storage_bucket.source"),
    ("invoker", "roles/run.invoker", "google_cloudfunctions2_function.ocr"),
    ("allUsers", "roles/run.invoker", "google_cloudfunctions2_function.upload"),
    ("allUsers", "roles/run.invoker", "google_cloudfunctions2_function.status"),
}
# Grants that exist only with some settings: grant -> its `count`.
CONDITIONAL_GRANTS = {
    # The inline fallback reads the receipt back to run its job.
    ("upload", "roles/storage.objectViewer", "google_storage_bucket.receipts"): "${var.sync_fallback ? 1 : 0}",
}
# The attribute naming the resource a grant is on, per IAM member resource type.
IAM_TARGET = {
    "google_project_iam_member": "project",
    "google_storage_bucket_iam_member": "bucket",
    "google_cloud_tasks_queue_iam_member": "name",
    "google_service_account_iam_member": "service_account_id",
    "google_secret_manager_secret_iam_member": "secret_id",
    "google_cloud_run_service_iam_member": "service",
    "google_cloud_run_v2_service_iam_member": "name",
    "google_cloudfunctions2_function_iam_member": "cloud_function",
}

# *_iam_* resources that grant nothing themselves: audit logging, and a role's definition (granted
# by an *_iam_member of the allowlist).
NOT_GRANTS = {"google_project_iam_audit_config", "google_project_iam_custom_role"}

# Read by the platform, not by common/config.py: allowed on any function.
RUNTIME_SETTINGS = {"THREADS": "functions-framework's gunicorn threads, one per concurrent request"}

# Which function needs which setting of common/config.py.
NEEDED_BY = {
    "GOOGLE_CLOUD_PROJECT": FUNCTIONS,
    "LOG_LEVEL": FUNCTIONS,
    "JOB_STORE": FUNCTIONS,
    "FIRESTORE_DATABASE": FUNCTIONS,
    "JOBS_COLLECTION": FUNCTIONS,
    "BLOB_STORE": FUNCTIONS,
    "GCS_BUCKET": FUNCTIONS,
    "TASK_QUEUE": FUNCTIONS,
    "TASKS_LOCATION": FUNCTIONS,
    "TASKS_QUEUE_NAME": ("upload", "ocr"),
    "OCR_FUNCTION_URL": FUNCTIONS,
    "TASKS_SERVICE_ACCOUNT": FUNCTIONS,
    "TASKS_AUDIENCE": FUNCTIONS,
    "TASK_MAX_ATTEMPTS": ("upload", "ocr"),
    "JOB_TIMEOUT_SECONDS": ("upload", "ocr"),
    "OCR_ENGINE": ("upload", "ocr"),
    "EXPECTED_RECEIVER_NAME": FUNCTIONS,
    "EXPECTED_RECEIVER_DOCUMENTS": FUNCTIONS,
    "EXPECTED_RECEIVER_PIX_KEYS": FUNCTIONS,
    "SYNC_FALLBACK": ("upload",),
    "RETENTION_DAYS": ("upload",),
    "STATUS_BASE_URL": ("upload",),
    "REQUIRE_API_KEY": ("upload", "status"),
    "API_KEY_HASHES": ("upload", "status"),
    "TENANTS": FUNCTIONS,  # keys to tenants (upload, status); each tenant's expected receiver (upload, ocr)
    "OIDC_AUDIENCE": ("ocr",),
    "OIDC_INVOKER_EMAIL": ("ocr",),
    "OIDC_BEHIND_CLOUD_RUN_IAM": ("ocr",),
    "CORS_ALLOWED_ORIGINS": ("upload", "status"),
    "UPLOAD_URL": ("status",),
    "WEBHOOK_SECRETS": ("upload", "ocr"),
    "NOTIFY_QUEUE_NAME": FUNCTIONS,  # the status function: a review's webhook (common/review.py)
    "NOTIFY_MAX_ATTEMPTS": ("ocr",),
    # The PSP (common.confirmation): the OCR function confirms after extraction and in the
    # reconciler's pass, the upload function in its inline fallback and on the PSP's webhook.
    "PIX_CONFIRMATION": ("upload", "ocr"),
    "PIX_API_URL": ("upload", "ocr"),
    "PIX_CLIENT_ID": ("upload", "ocr"),
    "PIX_CLIENT_SECRET": ("upload", "ocr"),
    "PIX_CLIENT_CERT": ("upload", "ocr"),
    "PIX_CLIENT_KEY": ("upload", "ocr"),
    "PIX_WEBHOOK_SECRET": ("upload",),
    "PIX_WEBHOOK_CERT_HEADER": ("upload",),
}
# Settings no function sets: their default is right in production.
SAFE_DEFAULTS = {
    "LOCAL_BLOB_DIR": "only for BLOB_STORE=local",
    "SQLITE_PATH": "only for JOB_STORE=sqlite",
    "INLINE_RECOVERY_SECONDS": "only for TASK_QUEUE=inline (a deployment has Cloud Scheduler run the reconciler)",
    "STORAGE_RETRY_SECONDS": "20 s of client retries, then the task queue retries the job",
    "FIRESTORE_RETRY_SECONDS": "60 s of client retries on reads (Google's default), then 503 and the queue retries",
    "RQ_ASYNC_ENABLED": "the original's switch; its default true keeps TASK_QUEUE=cloudtasks",
    "TASKS_EMULATOR_HOST": "must stay unset in production: tasks would go unsigned over plain gRPC",
    "REDIS_URL": "only for TASK_QUEUE=rq",
    "RQ_QUEUE_NAME": "only for TASK_QUEUE=rq",
    "RECONCILE_QUEUED_AFTER_SECONDS": "600 s: two reconciler passes after a lost task at the least",
    "MAX_UPLOAD_BYTES": "16 MiB, the documented API limit, under gen2's 32 MB request limit",
    "MAX_IMAGE_PIXELS": "50 megapixels fit the upload function's 1 GiB at its concurrency",
    "MAX_PDF_PAGES": "20 pages, the documented API limit",
    "JOB_LEASE_SECONDS": "defaults to JOB_TIMEOUT_SECONDS + 60, which Terraform sets",
    "VISION_API_ENDPOINT": "empty is Google's endpoint with the function's credentials",
    "OCR_MAX_SIDE": "2000 px, what the accuracy suite measured",
    "OCR_THREADS": "only for OCR_ENGINE=rapidocr (a deployment reads with Cloud Vision); 0 = the cores it may use",
    "OCR_WORKERS_PER_MACHINE": "only for OCR_ENGINE=rapidocr; one function instance is one engine",
    "PROGRESS_INTERVAL_MS": "1 s between progress writes: a one-image job writes only its claim and its end",
    "OIDC_CERTS_URL": "Google's token-signing certificates; another URL only in tests",
    "WEBHOOK_ALLOW_PRIVATE_URLS": "must stay false in production: callbacks to private addresses are SSRF",
    "NOTIFY_TIMEOUT_SECONDS": "10 s for a whole delivery attempt, well inside the notify task's deadline",
    "NOTIFY_BACKOFF_SECONDS": "only for the inline and RQ queues; "
    "the notify queue's retry_config backs off in Cloud Tasks",
    "RQ_NOTIFY_QUEUE_NAME": "only for TASK_QUEUE=rq",
    "METRICS_ENABLED": "off: in production the log-based metrics (metrics.tf) count the same events",
    "METRICS_PORT": "0 = off; only worker.py (the RQ stack) reads it",
    "METRICS_HOST": "loopback; only worker.py (the RQ stack) reads it, with METRICS_PORT",
    "PIX_TOKEN_URL": "only for PIX_CONFIRMATION=api_pix; PIX_API_URL + /oauth/token by default",
    "PIX_CA_BUNDLE": "the system's CAs sign a production PSP's server certificate",
    "PIX_SCOPE": "pix.read is what confirming needs",
    "PIX_TIMEOUT_SECONDS": "10 s per call, inside the job's timeout",
    "PIX_RETRIES": "two retries within an attempt, then the reconciler's backoff",
    "PIX_WINDOW_MINUTES": "15 minutes around paid_at",
    "PIX_RECHECK_SECONDS": "a minute, doubling up to an hour",
    "PIX_RECHECK_MAX_ATTEMPTS": "10 rechecks cover about four hours of PSP outage",
}


# --- the parsed configuration -------------------------------------------------------------------


def load_tf(directory: str) -> dict:
    """Every *.tf file of `directory`, merged: {"resource": {type: {name: body}}, "variable":
    {name: body}, "locals": {name: value}}. Strings keep Terraform's "${...}" references."""
    try:
        import hcl2
    except ImportError:
        missing("python-hcl2")
    options = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    tf: dict = {"resource": {}, "variable": {}, "locals": {}}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".tf"):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                parsed = hcl2.load(f, serialization_options=options)
            for block in parsed.get("resource", []):
                for rtype, named in block.items():
                    tf["resource"].setdefault(rtype, {}).update(named)
            for block in parsed.get("variable", []):
                tf["variable"].update(block)
            for block in parsed.get("locals", []):
                tf["locals"].update(block)
    return tf


@pytest.fixture(scope="session")
def tf() -> dict:
    return load_tf(TF_DIR)


def resolve(tf: dict, value):
    """A value that is exactly "${local.X}" becomes the local's value (again resolved)."""
    match = re.fullmatch(r"\$\{local\.(\w+)\}", value) if isinstance(value, str) else None
    return resolve(tf, tf["locals"][match.group(1)]) if match else value


def refers_to(value, reference: str) -> bool:
    return isinstance(value, str) and re.search(rf"\b{re.escape(reference)}\b", value) is not None


def function(tf: dict, name: str) -> dict:
    return tf["resource"]["google_cloudfunctions2_function"][name]


def function_env(tf: dict, name: str) -> dict:
    """The environment of one function: its variables plus its secret variables (as "<secret>")."""
    service = function(tf, name)["service_config"][0]
    env = dict(service.get("environment_variables", {}))
    env.update({s["key"]: "<secret>" for s in service.get("secret_environment_variables", [])})
    return env


def grants(tf: dict, counted: bool = False) -> list[tuple[str, str, str]]:
    """(member, role, resource) of every *_iam_member; members are service account resource
    names (upload, ocr, ...) or literals such as allUsers. `counted`: (member, role, resource,
    count) with the grant's `count` (None when it always exists)."""
    found = []
    for rtype, attribute in IAM_TARGET.items():
        for body in tf["resource"].get(rtype, {}).values():
            sa = re.search(r"google_service_account\.(\w+)\.(?:member|email)", body["member"])
            target = body[attribute]
            if attribute == "project":
                target = "project" if target == "${var.project_id}" else target
            else:
                ref = re.search(r"(google_\w+)\.(\w+)(?:\[[^\]]*\])?\.", target)  # a for_each one's too
                target = f"{ref.group(1)}.{ref.group(2)}" if ref else target
            grant = (sa.group(1) if sa else body["member"], body["role"], target)
            found.append((*grant, body.get("count")) if counted else grant)
    return found


# --- the policy checks (each returns its violations; the tests want none) -----------------------


def iam_violations(tf: dict) -> list[str]:
    problems = [
        f"{rtype}: use *_iam_member, never an authoritative binding/policy or an unknown type"
        for rtype in tf["resource"]
        if "_iam_" in rtype and rtype not in IAM_TARGET and rtype not in NOT_GRANTS
    ]
    found = {g[:3]: g[3] for g in grants(tf, counted=True)}
    expected = {**{g: None for g in IAM_ALLOWLIST}, **CONDITIONAL_GRANTS}
    problems += [f"grant not in the allowlist: {g}" for g in sorted(set(found) - set(expected))]
    problems += [f"grant missing: {g}" for g in sorted(set(expected) - set(found))]
    problems += [
        f"{g} must have count = {expected[g]}, not {found[g]}"
        for g in sorted(set(found) & set(expected))
        if found[g] != expected[g]
    ]
    return problems


def basic_role_violations(tf: dict) -> list[str]:
    return [
        f"{rtype}.{name} grants {body['role']}"
        for rtype, named in tf["resource"].items()
        for name, body in named.items()
        if isinstance(body.get("role"), str) and body["role"] in BASIC_ROLES
    ]


def ocr_invoker_violations(tf: dict) -> list[str]:
    """Only the invoker service account may invoke the OCR function, and only it signs the
    tokens the OCR function accepts."""
    invoke = re.compile(
        r"roles/(run\.(invoker|servicesInvoker|admin|developer)|cloudfunctions\.(invoker|admin|developer))$"
    )
    problems = [
        f"{g} can invoke the OCR function"
        for g in grants(tf)
        if g[2] in ("project", "google_cloudfunctions2_function.ocr")
        and invoke.match(g[1])
        and g[:2] != ("invoker", "roles/run.invoker")
    ]
    if function(tf, "ocr")["service_config"][0].get("ingress_settings") != "ALLOW_INTERNAL_ONLY":
        problems.append("the OCR function's ingress must be ALLOW_INTERNAL_ONLY")
    if not refers_to(function_env(tf, "ocr").get("OIDC_INVOKER_EMAIL"), "google_service_account.invoker.email"):
        problems.append("OIDC_INVOKER_EMAIL must be the invoker service account's email")
    # Tokens whose signature Cloud Run removed are trusted only where Cloud Run checked them.
    if function_env(tf, "ocr").get("OIDC_BEHIND_CLOUD_RUN_IAM") != "true":
        problems.append(
            "the OCR function must set OIDC_BEHIND_CLOUD_RUN_IAM=true (Cloud Run removes the token's signature)"
        )
    if ("invoker", "roles/run.invoker", "google_cloudfunctions2_function.ocr") not in grants(tf):
        problems.append("the invoker must hold roles/run.invoker on the OCR function (Cloud Run's IAM check)")
    problems += [
        f"the public {fn} function must not set OIDC_BEHIND_CLOUD_RUN_IAM"
        for fn in ("upload", "status")
        if "OIDC_BEHIND_CLOUD_RUN_IAM" in function_env(tf, fn)
    ]
    return problems


def bucket_violations(tf: dict) -> list[str]:
    problems = []
    for name, bucket in tf["resource"]["google_storage_bucket"].items():
        if bucket.get("uniform_bucket_level_access") is not True:
            problems.append(f"{name}: uniform_bucket_level_access must be true")
        if bucket.get("public_access_prevention") != "enforced":
            problems.append(f"{name}: public_access_prevention must be enforced")
        if bucket.get("versioning", [{}])[0].get("enabled") is not True:
            problems.append(f"{name}: versioning must be enabled")
    receipts = tf["resource"]["google_storage_bucket"]["receipts"]
    rules = [(r["action"][0]["type"], r["condition"][0]) for r in receipts.get("lifecycle_rule", [])]
    if ("Delete", {"age": "${var.retention_days}", "with_state": "LIVE"}) not in rules:
        problems.append(
            "receipts: no lifecycle rule deleting live objects (with_state LIVE) older than var.retention_days"
        )
    if not any(kind == "Delete" and "days_since_noncurrent_time" in cond for kind, cond in rules):
        problems.append("receipts: no lifecycle rule deleting noncurrent versions")
    if receipts.get("force_destroy") is not False:
        problems.append("receipts: force_destroy must be false")
    return problems


# The Firestore collections whose documents carry `expires_at` (common/jobstore.py), and the
# permissions of the status function's custom role on the receipts bucket (common/erasure.py).
TTL_COLLECTIONS = ("{jobs}", "{jobs}_by_sha256", "{jobs}_transactions", "{jobs}_pix")
ERASER_PERMISSIONS = {"storage.objects.delete", "storage.objects.list"}


def retention_violations(tf: dict) -> list[str]:
    """Jobs and their index records expire with the receipts: a TTL policy on `expires_at` in every
    collection that holds them, RETENTION_DAYS the bucket's lifecycle age, and erasure may delete
    receipts (its custom role grants only that)."""
    problems = []
    jobs = config.Settings().jobs_collection
    fields = tf["resource"].get("google_firestore_field", {}).get("expires_at")
    if fields is None:
        return ["no google_firestore_field.expires_at (the TTL policy of the job store's documents)"]
    # for_each = toset([local.jobs_collection, "${local.jobs_collection}_by_sha256", ...])
    listed = re.fullmatch(r"\$\{toset\(\[(.*)\]\)\}", fields.get("for_each", ""))
    items = [item.strip().strip('"') for item in listed.group(1).split(",")] if listed else []
    collections = {re.sub(r"\$\{local\.jobs_collection\}|^local\.jobs_collection$", jobs, i) for i in items if i}
    wanted = {c.format(jobs=jobs) for c in TTL_COLLECTIONS}
    problems += [f"no TTL policy on {c}.expires_at" for c in sorted(wanted - collections)]
    if fields.get("field") != "expires_at" or fields.get("collection") != "${each.key}":
        problems.append("google_firestore_field.expires_at must set field expires_at on each collection")
    if fields.get("ttl_config") != [{}]:
        problems.append("google_firestore_field.expires_at has no ttl_config")
    if resolve(tf, tf["locals"]["jobs_collection"]) != jobs:
        problems.append("local.jobs_collection is not JOBS_COLLECTION's default")
    if function_env(tf, "upload").get("RETENTION_DAYS") != "${tostring(var.retention_days)}":
        problems.append("RETENTION_DAYS on the upload function must be var.retention_days (the bucket's age rule)")
    role = tf["resource"].get("google_project_iam_custom_role", {}).get("receipt_eraser", {})
    if set(role.get("permissions", [])) != ERASER_PERMISSIONS:
        problems.append(f"the receipt_eraser role must grant exactly {sorted(ERASER_PERMISSIONS)}")
    return problems


def code_queries() -> tuple[str, list[list[tuple[str, str]]]]:
    """The Firestore queries of FirestoreJobStore.list, .page and .count: the equality filters of
    its `_where` (tenant, status) in every combination, ordered by created_at, newest first. The
    collection, and the index fields of each combination that needs a composite index (a lone
    order needs none)."""
    with open(os.path.join(ROOT, "common", "jobstore.py"), encoding="utf-8") as f:
        source = f.read()
    store = source[source.index("class FirestoreJobStore") :]
    where = store[store.index("    def _where(") :]
    where = where[: where.index("\n    def ", 1)]
    equal = re.findall(r'FieldFilter\("(\w+)", "=="', where)
    order = re.search(r'order_by\("(\w+)", direction=[\w.]*Query\.(ASCENDING|DESCENDING)\)', store)
    combinations = [[f for i, f in enumerate(equal) if mask >> i & 1] for mask in range(1, 2 ** len(equal))]
    return config.Settings().jobs_collection, [
        [(f, "ASCENDING") for f in filters] + [(order.group(1), order.group(2))] for filters in combinations
    ]


def index_violations(tf: dict) -> list[str]:
    collection, queries = code_queries()
    problems = []
    for fields in queries:
        matching = [
            index
            for index in tf["resource"].get("google_firestore_index", {}).values()
            if resolve(tf, index["collection"]) == collection
            and [(f["field_path"], f["order"]) for f in index["fields"]] == fields
        ]
        if not matching:
            problems.append(f"no google_firestore_index on {collection} with fields {fields} (FirestoreJobStore)")
        problems += [
            f"JOBS_COLLECTION on {fn} is not the index's collection"
            for index in matching
            for fn in FUNCTIONS
            if function_env(tf, fn).get("JOBS_COLLECTION") != index["collection"]
        ]
    return problems


def queue_violations(tf: dict) -> list[str]:
    queue = tf["resource"]["google_cloud_tasks_queue"]["ocr"]
    retry = queue["retry_config"][0]
    problems = []
    if retry["max_attempts"] != "${var.task_max_attempts}":
        problems.append("the queue's max_attempts must be var.task_max_attempts")
    problems += [
        f"TASK_MAX_ATTEMPTS on {fn} must be var.task_max_attempts"
        for fn in FUNCTIONS
        if "TASK_MAX_ATTEMPTS" in function_env(tf, fn)
        and not refers_to(function_env(tf, fn)["TASK_MAX_ATTEMPTS"], "var.task_max_attempts")
    ]
    if tf["variable"]["task_max_attempts"]["default"] != config.Settings().task_max_attempts:
        problems.append("var.task_max_attempts' default must be the code's TASK_MAX_ATTEMPTS default")
    if (retry["min_backoff"], retry["max_backoff"], retry["max_doublings"]) != ("10s", "300s", 4):
        problems.append("retry_config must back off 10s..300s with 4 doublings")
    ocr = function(tf, "ocr")["service_config"][0]
    notify = tf["resource"]["google_cloud_tasks_queue"].get("notify")
    for variables in SIZES:
        dispatches = {
            name: evaluate(tf, q["rate_limits"][0]["max_concurrent_dispatches"], variables)
            for name, q in tf["resource"]["google_cloud_tasks_queue"].items()
        }
        slots = evaluate(tf, ocr["max_instance_count"], variables) * evaluate(
            tf, ocr["max_instance_request_concurrency"], variables
        )
        if dispatches["ocr"] != variables["ocr_max_instances"] * variables["ocr_concurrency"]:
            problems.append(
                f"{variables}: the ocr queue must dispatch ocr_max_instances x ocr_concurrency tasks at once"
            )
        if sum(dispatches.values()) > slots:
            problems.append(
                f"{variables}: the queues dispatch {dispatches}, more than the OCR function's {slots} slots"
            )
    if not notify or notify["retry_config"][0]["max_attempts"] != "${var.notify_max_attempts}":
        problems.append("a notify queue whose max_attempts is var.notify_max_attempts must exist")
    if not refers_to(function_env(tf, "ocr").get("NOTIFY_MAX_ATTEMPTS"), "var.notify_max_attempts"):
        problems.append("NOTIFY_MAX_ATTEMPTS on the OCR function must be var.notify_max_attempts")
    if tf["variable"]["notify_max_attempts"]["default"] != config.Settings().notify_max_attempts:
        problems.append("var.notify_max_attempts' default must be the code's NOTIFY_MAX_ATTEMPTS default")
    problems += [
        f"NOTIFY_QUEUE_NAME on {fn} must be the notify queue's name"
        for fn in ("upload", "ocr")
        if not refers_to(function_env(tf, fn).get("NOTIFY_QUEUE_NAME"), "google_cloud_tasks_queue.notify.name")
    ]
    longest_job = max(
        int(n) for n in re.findall(r"<=\s*(\d+)", tf["variable"]["job_timeout_seconds"]["validation"][0]["condition"])
    )
    if resolve(tf, ocr["timeout_seconds"]) < longest_job + 60:
        problems.append("the OCR function's timeout must outlast a task's dispatch deadline (job timeout + 60 s)")
    return problems


# Sizes to check the queues against the OCR function with (the variables' defaults, and more).
SIZES = [
    {"ocr_max_instances": i, "ocr_concurrency": c, "notify_max_concurrent_dispatches": n}
    for i in (1, 5, 100)
    for c in (1, 3, 4)
    for n in (1, 2, 7)
]


def evaluate(tf: dict, value, variables: dict):
    """A number of terraform/ (a literal, or arithmetic and ceil() over locals and variables)
    with the given variables, the others at their defaults."""
    if not isinstance(value, str):
        return value
    expression = value[2:-1] if value.startswith("${") and value.endswith("}") else value
    expression = re.sub(
        r"\blocal\.(\w+)", lambda m: f"({evaluate(tf, tf['locals'][m.group(1)], variables)})", expression
    )
    expression = re.sub(
        r"\bvar\.(\w+)",
        lambda m: repr(variables.get(m.group(1), tf["variable"][m.group(1)].get("default"))),
        expression,
    )
    return eval(expression, {"__builtins__": {}, "ceil": math.ceil})  # noqa: S307 (our own files' arithmetic)


def config_settings() -> set[str]:
    """Every environment variable common/config.py reads (each declared once there)."""
    return config.variables_read()


def env_violations(tf: dict) -> list[str]:
    read = config_settings()
    problems = [
        f"{name}: read by common/config.py but neither set by Terraform (NEEDED_BY) nor in SAFE_DEFAULTS"
        for name in sorted(read - set(NEEDED_BY) - set(SAFE_DEFAULTS))
    ]
    for name, needers in NEEDED_BY.items():
        problems += [f"{name} is not set on the {fn} function" for fn in needers if name not in function_env(tf, fn)]
    for fn in FUNCTIONS:
        env = function_env(tf, fn)
        problems += [
            f"{fn} sets {name}, which common/config.py does not read"
            for name in env
            if name not in read and name not in RUNTIME_SETTINGS
        ]
        problems += [
            f"{fn} sets {name}: production must not point at an emulator"
            for name in env
            if name.endswith("_EMULATOR_HOST")
        ]
        concurrency = function(tf, fn)["service_config"][0]["max_instance_request_concurrency"]
        if re.sub(r"tostring\((.*)\)", r"\1", str(env.get("THREADS"))) != concurrency:
            problems.append(f"THREADS on {fn} must be its max_instance_request_concurrency")
    return problems


# --- formatting and checkov ----------------------------------------------------------------------


def run_checkov(directory: str) -> dict:
    if not os.access(CHECKOV, os.X_OK):
        missing("checkov (.venv-checkov)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))}
    run = subprocess.run(
        [CHECKOV, "-d", directory, "--framework", "terraform", "--compact", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode in (0, 1), run.stderr[-2000:]
    report = json.loads(run.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.fixture(scope="module")
def checkov_report() -> dict:
    return run_checkov(TF_DIR)


def test_terraform_fmt():
    terraform = shutil.which("terraform")
    if not terraform:
        missing("terraform")
    run = subprocess.run([terraform, "fmt", "-check", "-recursive", "-diff", TF_DIR], capture_output=True, text=True)
    assert run.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{run.stdout}{run.stderr}"


def test_checkov_passes_and_every_skip_is_justified(checkov_report):
    failed = checkov_report["results"].get("failed_checks", [])
    assert not failed, [(c["check_id"], c["resource"], c["check_name"]) for c in failed]
    assert checkov_report["summary"]["parsing_errors"] == 0
    for check in checkov_report["results"].get("skipped_checks", []):
        assert len(check["check_result"].get("suppress_comment", "")) >= 20, (check["check_id"], check["resource"])


# --- the policies --------------------------------------------------------------------------------


def test_iam_grants_are_exactly_the_allowlist(tf):
    assert iam_violations(tf) == []


def test_no_basic_roles(tf):
    assert basic_role_violations(tf) == []


def test_only_the_invoker_can_invoke_the_ocr_function(tf):
    assert ocr_invoker_violations(tf) == []


def test_every_oidc_token_has_the_audience_the_ocr_function_checks(tf):
    ocr_env, upload_env = function_env(tf, "ocr"), function_env(tf, "upload")
    oidc = tf["resource"]["google_cloud_scheduler_job"]["reconcile"]["http_target"][0]["oidc_token"][0]
    audiences = {ocr_env["OIDC_AUDIENCE"], ocr_env["TASKS_AUDIENCE"], upload_env["TASKS_AUDIENCE"], oidc["audience"]}
    assert audiences == {"${local.ocr_audience}"}
    assert (
        "${google_service_account.invoker.email}"
        == oidc["service_account_email"]
        == ocr_env["TASKS_SERVICE_ACCOUNT"]
        == upload_env["TASKS_SERVICE_ACCOUNT"]
    )


def test_buckets_are_private_versioned_and_expire(tf):
    assert bucket_violations(tf) == []


def test_source_objects_are_named_after_their_zip_hash(tf):
    source = tf["resource"]["google_storage_bucket_object"]["source"]
    assert f'filesha256("{source["source"]}")' in source["name"]
    for fn in FUNCTIONS:
        storage = function(tf, fn)["build_config"][0]["source"][0]["storage_source"][0]
        assert storage["object"] == f'${{google_storage_bucket_object.source["{fn}"].name}}'


def test_jobs_and_their_records_expire_with_the_receipts(tf):
    assert retention_violations(tf) == []


def test_firestore_index_matches_the_code_query(tf):
    assert index_violations(tf) == []
    collection, queries = code_queries()
    # The reconciler's (status), GET /jobs' (tenant) and its filter and counts (tenant, status).
    assert [[f for f, _ in fields[:-1]] for fields in queries] == [["tenant"], ["status"], ["tenant", "status"]]


def review_queries() -> list[list[tuple[str, str]]]:
    """The review queue's queries (FirestoreJobStore._review_where and .review_page): the optional
    tenant filter, then the flag, ordered by created_at oldest first; one index per combination."""
    with open(os.path.join(ROOT, "common", "jobstore.py"), encoding="utf-8") as f:
        source = f.read()
    store = source[source.index("class FirestoreJobStore") :]
    where = store[store.index("    def _review_where(") :]
    where = where[: where.index("\n    def ", 1)]
    optional = re.findall(r'FieldFilter\("(\w+)", "=="', where)
    flag = re.search(r'^NEEDS_REVIEW_FIELD = "([\w.]+)"', source, re.M).group(1)
    assert 'FieldFilter(NEEDS_REVIEW_FIELD, "==", True)' in where
    page = store[store.index("    def review_page(") :]
    assert 'order_by("created_at", direction=ascending)' in page and "Query.ASCENDING" in page
    return [
        [(f, "ASCENDING") for f in chosen] + [(flag, "ASCENDING"), ("created_at", "ASCENDING")]
        for chosen in ([], optional)
    ]


def test_the_review_queue_has_its_firestore_indexes(tf):
    collection = config.Settings().jobs_collection
    queries = review_queries()
    assert [[f for f, _ in fields] for fields in queries] == [
        ["result.data.needs_review", "created_at"],
        ["tenant", "result.data.needs_review", "created_at"],
    ]
    indexes = [
        [(f["field_path"], f["order"]) for f in index["fields"]]
        for index in tf["resource"]["google_firestore_index"].values()
        if resolve(tf, index["collection"]) == collection
    ]
    assert [fields for fields in queries if fields not in indexes] == []


def test_a_missing_tenant_index_is_caught(tf):
    indexes = dict(tf["resource"]["google_firestore_index"])
    del indexes["jobs_by_tenant_status_created_at"]
    broken = {**tf, "resource": {**tf["resource"], "google_firestore_index": indexes}}
    [problem] = index_violations(broken)
    assert "('tenant', 'ASCENDING'), ('status', 'ASCENDING'), ('created_at', 'DESCENDING')" in problem


def test_queue_matches_task_max_attempts_and_the_ocr_function(tf):
    assert queue_violations(tf) == []


def test_every_setting_is_set_where_needed_or_safe_by_default(tf):
    assert env_violations(tf) == []


def test_function_environments_are_accepted_by_config(tf):
    """Each function's environment, with its references filled in (variables at their defaults,
    secrets and resource attributes as placeholders), is one common/config.py accepts."""

    def value(name, raw):
        var = re.fullmatch(r"\$\{(?:tostring\()?var\.(\w+)\)?\}", str(raw))
        if var:
            default = tf["variable"][var.group(1)].get("default", "x")
            return str(default).lower() if isinstance(default, bool) else str(default)
        if raw == "<secret>" and name in ("WEBHOOK_SECRETS", "PIX_CLIENT_SECRET", "PIX_WEBHOOK_SECRET"):
            return " "  # what Terraform writes for none
        if raw == "<secret>" and name == "TENANTS":  # jsonencode of the empty map
            return "{}"
        choice = re.fullmatch(r'\$\{local\.\w+ \? "([^"]*)" : "([^"]*)"\}', str(raw))
        if choice:  # a switch on a variable at its default (pix_api_url empty: confirmation off)
            return choice.group(2)
        if raw == "<secret>":  # API_KEY_HASHES: the secret holds SHA-256 digests
            return "0" * 64
        if "${" not in str(raw):
            return str(raw)
        if "join(" in raw:  # lists, empty by default
            return ""
        return "https://x.example" if name.endswith(("_URL", "_AUDIENCE")) else "x"

    for fn in FUNCTIONS:
        settings = config.from_env({name: value(name, raw) for name, raw in function_env(tf, fn).items()})
        assert settings.job_store == "firestore"
        if fn != "status":
            assert (settings.blob_store, settings.task_queue, settings.ocr_engine) == ("gcs", "cloudtasks", "vision")
        if fn == "ocr":
            assert settings.oidc_audience and settings.oidc_invoker_email and settings.oidc_behind_cloud_run_iam
        else:
            assert settings.require_api_key and settings.api_key_hashes


def test_checkov_skips_are_inline_and_justified():
    for name in sorted(os.listdir(TF_DIR)):
        if name.endswith(".tf"):
            with open(os.path.join(TF_DIR, name), encoding="utf-8") as f:
                for line in f:
                    if "checkov:skip" in line:
                        assert re.fullmatch(r"\s*#checkov:skip=CKV2?_[A-Z]+_\d+:.{20,}\n", line), line


# --- the tests of the tests ----------------------------------------------------------------------

BROKEN = """
resource "google_project_iam_member" "ocr_editor" {
  project = var.project_id
  role    = "roles/editor"
  member  = "serviceAccount:${google_service_account.ocr.email}"
}
"""


def test_an_editor_grant_is_caught_by_the_policies_and_by_checkov(tmp_path):
    broken = tmp_path / "terraform"
    shutil.copytree(TF_DIR, broken, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    (broken / "broken.tf").write_text(BROKEN)
    tf = load_tf(str(broken))
    assert any("roles/editor" in p for p in iam_violations(tf))
    assert basic_role_violations(tf) == ["google_project_iam_member.ocr_editor grants roles/editor"]
    failed = run_checkov(str(broken))["results"].get("failed_checks", [])
    assert any(c["resource"] == "google_project_iam_member.ocr_editor" for c in failed), failed


def test_every_prometheus_metric_event_has_a_log_based_metric(tf):
    """common/metrics.py counts log events; Cloud Monitoring must count the same ones."""
    import inspect

    from common import metrics

    counted = set(re.findall(r'name == "(\w+)"', inspect.getsource(metrics._observe)))
    filters = " ".join(body["filter"] for body in tf["resource"]["google_logging_metric"].values())
    assert counted and all(
        f'jsonPayload.event=\\"{event}\\"' in filters or f'jsonPayload.event="{event}"' in filters for event in counted
    ), (counted, filters)


def test_the_queues_never_dispatch_more_than_the_ocr_function_serves(tmp_path):
    """Webhook deliveries take OCR function slots too: without instances of their own the
    function is saturated before the ocr queue's limit, and tasks bounce off it."""
    broken = tmp_path / "terraform"
    shutil.copytree(TF_DIR, broken, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    functions_tf = (broken / "functions.tf").read_text()
    (broken / "functions.tf").write_text(
        functions_tf.replace(
            "max_instance_count               = local.ocr_instances",
            "max_instance_count               = var.ocr_max_instances",
        )
    )
    problems = queue_violations(load_tf(str(broken)))
    assert len(problems) == len(SIZES) and all("more than the OCR function's" in p for p in problems), problems


def test_secret_versions_are_created_before_the_old_ones_are_destroyed(tf):
    """Running revisions pin a secret version: destroying it first would fail every instance
    that starts before the new revision takes over."""
    for name, version in tf["resource"]["google_secret_manager_secret_version"].items():
        assert version.get("lifecycle", [{}])[0].get("create_before_destroy") is True, name


def test_queue_names_carry_the_prefix(tf):
    """Two stacks in one project and region must not share a queue (and a deleted queue's name
    stays blocked for days)."""
    for name, queue in tf["resource"]["google_cloud_tasks_queue"].items():
        key = re.fullmatch(r"\$\{local\.names\.(\w+)\}", queue["name"])
        assert key and tf["locals"]["names"][key.group(1)].startswith("${var.name_prefix}-"), (name, queue["name"])


def hcl_string(raw: str) -> str:
    """The value Terraform gives a quoted string as python-hcl2 keeps it (escapes not applied)."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), raw)


def test_label_extractor_regexes_match_the_events_they_label(tf):
    checked = 0
    for name, metric in tf["resource"]["google_logging_metric"].items():
        events = re.findall(r'jsonPayload\.event=\\"(\w+)\\"', metric["filter"])
        for _label, extractor in metric.get("label_extractors", {}).items():
            regex = re.fullmatch(r'REGEXP_EXTRACT\(jsonPayload\.event, "(.*)"\)', hcl_string(extractor))
            if not regex:
                continue
            # A backslash would go through HCL's escapes and then the extractor's string literal's.
            assert "\\" not in regex.group(1), (name, regex.group(1))
            outcomes = {re.fullmatch(regex.group(1), event).group(1) for event in events}
            assert outcomes == {"delivered", "retry", "failed"}, (name, outcomes)
            checked += 1
    assert checked == 1


CLIENT_OF = {
    ("BLOB_STORE", "gcs"): "google-cloud-storage",
    ("JOB_STORE", "firestore"): "google-cloud-firestore",
    ("TASK_QUEUE", "cloudtasks"): "google-cloud-tasks",
    ("OCR_ENGINE", "vision"): "google-cloud-vision",
}


def test_each_function_requires_the_clients_its_settings_use(tf):
    for fn in FUNCTIONS:
        with open(os.path.join(ROOT, "functions", fn, "requirements.txt"), encoding="utf-8") as f:
            required = {
                re.split(r"[<>=~!\[ ]", line.strip())[0].lower()
                for line in f
                if line.strip() and not line.startswith("#")
            }
        env = function_env(tf, fn)
        needed = {package for (name, value), package in CLIENT_OF.items() if env.get(name) == value}
        assert needed and needed <= required, (fn, needed - required)


def test_the_psps_credentials_reach_the_functions_only_from_secret_manager(tf):
    """The client secret is a secret environment variable, the certificate and its key are
    Secret Manager volumes at the paths PIX_CLIENT_CERT and PIX_CLIENT_KEY name; no credential is
    a plain environment variable, every variable holding one is sensitive, and only the upload
    and OCR functions may read them (the IAM allowlist)."""
    for name in ("pix_client_secret", "pix_client_cert_pem", "pix_client_key_pem", "pix_webhook_secret"):
        assert tf["variable"][name].get("sensitive") is True, name
    for fn in ("upload", "ocr"):
        service = function(tf, fn)["service_config"][0]
        plain = service["environment_variables"]
        assert not {"PIX_CLIENT_SECRET", "PIX_WEBHOOK_SECRET"} & set(plain)
        assert not any(
            refers_to(v, f"var.{n}")
            for v in plain.values()
            for n in ("pix_client_secret", "pix_client_cert_pem", "pix_client_key_pem", "pix_webhook_secret")
        )
        secret_env = {s["key"]: s["secret"] for s in service["secret_environment_variables"]}
        assert refers_to(secret_env["PIX_CLIENT_SECRET"], "google_secret_manager_secret.pix_client_secret.secret_id")
        mounts = {
            resolve(tf, v["mount_path"]) + "/" + resolve(tf, v["versions"][0]["path"]): v["secret"]
            for v in service["secret_volumes"]
        }
        files = {
            key: tf["locals"][d] + "/" + tf["locals"][f]
            for key, d, f in (
                ("PIX_CLIENT_CERT", "pix_cert_dir", "pix_cert_file"),
                ("PIX_CLIENT_KEY", "pix_key_dir", "pix_key_file"),
            )
        }
        assert plain["PIX_CLIENT_CERT"] == "${local.pix_cert_dir}/${local.pix_cert_file}"
        assert plain["PIX_CLIENT_KEY"] == "${local.pix_key_dir}/${local.pix_key_file}"
        assert refers_to(mounts[files["PIX_CLIENT_CERT"]], "google_secret_manager_secret.pix_client_cert.secret_id")
        assert refers_to(mounts[files["PIX_CLIENT_KEY"]], "google_secret_manager_secret.pix_client_key.secret_id")
    assert "secret_volumes" not in function(tf, "status")["service_config"][0]
    assert "PIX_WEBHOOK_SECRET" not in function_env(tf, "ocr")


def dynamic_blocks(service: dict, name: str) -> list[dict]:
    """The generators of `dynamic "NAME"` in a parsed block (for_each and content)."""
    found = []
    for item in service.get("dynamic", []):
        generator = item.get(name)
        if generator is not None:
            found.append(generator[0] if isinstance(generator, list) else generator)
    return found


def test_each_tenants_psp_reaches_the_functions_only_from_secret_manager(tf):
    """var.tenant_psps: per tenant, the client secret is a secret environment variable named as
    the tenant's psp object in TENANTS names it, the certificate and key are Secret Manager
    volumes at the files it names, the webhook secret reaches the upload function alone, and the
    psp object Terraform writes is one common/config.py accepts."""
    assert tf["variable"]["tenant_psps"].get("sensitive") is True
    locals_ = {name: re.sub(r"\s+", "", str(value)) for name, value in tf["locals"].items()}  # spacing aside

    def code(text: str) -> str:
        return re.sub(r"\s+", "", text)

    assert locals_["tenant_psp_env"] == code(
        '${{ for name in local.tenant_psp_names : name => "PIX_${upper(replace(name, "-", "_"))}" }}'
    )
    psp = locals_["tenant_psp_config"]
    assert (
        "${local.tenant_psp_env[name]}_CLIENT_SECRET" in psp and "${local.tenant_psp_env[name]}_WEBHOOK_SECRET" in psp
    )
    assert (
        "/secrets/pix-${name}-cert/${local.pix_cert_file}" in psp
        and "/secrets/pix-${name}-key/${local.pix_key_file}" in psp
    )
    credentials = locals_["tenant_psp_credentials"]
    assert code('"/secrets/pix-${name}-cert", file = local.pix_cert_file') in credentials
    assert code('"/secrets/pix-${name}-key", file = local.pix_key_file') in credentials
    tenants_secret = code(tf["resource"]["google_secret_manager_secret_version"]["tenants"]["secret_data"])
    assert code("lookup(local.tenant_psp_config, name, null)") in tenants_secret
    for fn in ("upload", "ocr"):
        service = function(tf, fn)["service_config"][0]
        envs = {
            g["content"][0]["key"]: g["content"][0]["secret"]
            for g in dynamic_blocks(service, "secret_environment_variables")
        }
        expected = {"${local.tenant_psp_env[secret_environment_variables.key]}_CLIENT_SECRET"}
        if fn == "upload":
            expected.add("${local.tenant_psp_env[secret_environment_variables.key]}_WEBHOOK_SECRET")
        assert set(envs) == expected, fn
        assert refers_to(
            envs["${local.tenant_psp_env[secret_environment_variables.key]}_CLIENT_SECRET"],
            "google_secret_manager_secret.tenant_psp_credentials",
        )
        [volumes] = dynamic_blocks(service, "secret_volumes")
        assert volumes["for_each"] == "${local.tenant_psp_mounts}"
        content = volumes["content"][0]
        assert (content["mount_path"], content["versions"][0]["path"]) == (
            "${secret_volumes.value.dir}",
            "${secret_volumes.value.file}",
        )
        assert refers_to(content["secret"], "google_secret_manager_secret.tenant_psp_credentials")
        assert not any(refers_to(v, "var.tenant_psps") for v in service["environment_variables"].values())
    assert dynamic_blocks(function(tf, "status")["service_config"][0], "secret_environment_variables") == []
    # What those names come to for a tenant "acme-pay", as common/config.py reads it.
    table = {
        "acme-pay": {
            "api_key_hashes": ["0" * 64],
            "psp": {
                "api_url": "https://pix.bank.example/api/v2",
                "client_id": "id",
                "client_secret_env": "PIX_ACME_PAY_CLIENT_SECRET",
                "client_cert": "/secrets/pix-acme-pay-cert/client.pem",
                "client_key": "/secrets/pix-acme-pay-key/client-key.pem",
                "webhook_secret_env": "PIX_ACME_PAY_WEBHOOK_SECRET",
            },
        },
        "other": {"api_key_hashes": ["1" * 64], "psp": None},
    }
    env = {"PIX_CONFIRMATION": "api_pix", "TENANTS": json.dumps(table), "PIX_ACME_PAY_CLIENT_SECRET": "s3cr3t"}
    for fn_env in ({}, {"PIX_ACME_PAY_WEBHOOK_SECRET": "w" * 16}):  # the OCR function has no webhook secret
        settings = config.from_env({**env, **fn_env})
        [acme, other] = settings.tenants
        assert acme.psp.client_secret == "s3cr3t" and other.psp is None
        assert acme.psp.webhook_secret == fn_env.get("PIX_ACME_PAY_WEBHOOK_SECRET", "")


def test_the_webhooks_load_balancer_refuses_a_psp_without_a_verified_certificate(tf):
    """terraform/webhook_lb.tf, on with var.pix_webhook_domain: mutual TLS (REJECT_INVALID against
    a trust config of the PSPs' CAs) on the HTTPS proxy in front of the upload function, and the
    header the function checks (PIX_WEBHOOK_CERT_HEADER) set by the backend from the verdict."""
    resources = tf["resource"]
    assert tf["locals"]["pix_webhook_lb"] == '${var.pix_webhook_domain != ""}'
    for rtype in (
        "google_compute_global_address",
        "google_compute_managed_ssl_certificate",
        "google_certificate_manager_trust_config",
        "google_network_security_server_tls_policy",
        "google_compute_region_network_endpoint_group",
        "google_compute_backend_service",
        "google_compute_url_map",
        "google_compute_target_https_proxy",
        "google_compute_ssl_policy",
        "google_compute_global_forwarding_rule",
    ):
        assert resources[rtype]["pix_webhook"]["count"] == "${local.pix_webhook_lb_count}", rtype
    policy = resources["google_network_security_server_tls_policy"]["pix_webhook"]["mtls_policy"][0]
    assert policy["client_validation_mode"] == "REJECT_INVALID"
    assert refers_to(policy["client_validation_trust_config"], "google_certificate_manager_trust_config.pix_webhook")
    [anchors] = dynamic_blocks(
        resources["google_certificate_manager_trust_config"]["pix_webhook"]["trust_stores"][0], "trust_anchors"
    )
    assert anchors["for_each"] == "${var.pix_webhook_ca_pems}"
    proxy = resources["google_compute_target_https_proxy"]["pix_webhook"]
    assert refers_to(proxy["server_tls_policy"], "google_network_security_server_tls_policy.pix_webhook")
    neg = resources["google_compute_region_network_endpoint_group"]["pix_webhook"]
    assert neg["network_endpoint_type"] == "SERVERLESS"
    assert refers_to(neg["cloud_run"][0]["service"], "google_cloudfunctions2_function.upload.name")
    backend = resources["google_compute_backend_service"]["pix_webhook"]
    assert backend["custom_request_headers"] == ["${local.pix_webhook_cert_header}: {client_cert_chain_verified}"]
    assert function_env(tf, "upload")["PIX_WEBHOOK_CERT_HEADER"] == (
        "${local.pix_webhook_lb ? local.pix_webhook_cert_header : var.pix_webhook_cert_header}"
    )
    header = tf["locals"]["pix_webhook_cert_header"]
    settings = config.from_env({"PIX_WEBHOOK_CERT_HEADER": header})
    assert settings.pix_webhook_cert_header == "X-Client-Cert-Chain-Verified"
