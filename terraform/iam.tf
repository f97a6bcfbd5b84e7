# One service account per function, one for the OIDC tokens of Cloud Tasks and Cloud Scheduler,
# one for Cloud Build. Every grant is a single member on the narrowest resource that has IAM;
# tests/test_terraform.py holds the exact allowlist. No basic role (owner/editor/viewer) anywhere.

resource "google_service_account" "upload" {
  project      = var.project_id
  account_id   = local.names.upload
  display_name = "PIX receipts: upload function"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "ocr" {
  project      = var.project_id
  account_id   = local.names.ocr
  display_name = "PIX receipts: OCR function (and reconciler)"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "status" {
  project      = var.project_id
  account_id   = local.names.status
  display_name = "PIX receipts: status function"
  depends_on   = [google_project_service.apis]
}

# The identity in the OIDC tokens that Cloud Tasks and Cloud Scheduler send to the OCR function.
# It can do one thing: invoke the OCR function.
resource "google_service_account" "invoker" {
  project      = var.project_id
  account_id   = local.names.invoker
  display_name = "PIX receipts: invokes the OCR function (Cloud Tasks, Cloud Scheduler)"
  depends_on   = [google_project_service.apis]
}

# Cloud Build runs the functions' builds as this account instead of the project's default
# (Compute Engine) service account, which may hold Editor or, in newer projects, nothing.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = local.names.build
  display_name = "PIX receipts: builds the functions"
  depends_on   = [google_project_service.apis]
}

# --- upload -----------------------------------------------------------------------------------

# Writes receipts. objectCreator: the code writes with if_generation_match=0 (create-only, a
# duplicate answers 412, which it treats as "already stored") and never lists or deletes.
resource "google_storage_bucket_iam_member" "upload_receipts_creator" {
  bucket = google_storage_bucket.receipts.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.upload.member
}

# Reads receipts back only to run a job inline, when Cloud Tasks is unreachable and
# sync_fallback is on (SYNC_FALLBACK=true); with the default false it never reads one.
resource "google_storage_bucket_iam_member" "upload_receipts_viewer" {
  count = var.sync_fallback ? 1 : 0

  bucket = google_storage_bucket.receipts.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.upload.member
}

# Firestore has no IAM below the project (no per-database or per-collection roles on a resource;
# IAM conditions on a database name exist but there is one database here), so the job store's
# read-write role is granted on the project. datastore.user can read and write entities only:
# no indexes, no databases, no admin.
resource "google_project_iam_member" "upload_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.upload.member
}

resource "google_cloud_tasks_queue_iam_member" "upload_enqueuer" {
  project  = var.project_id
  location = google_cloud_tasks_queue.ocr.location
  name     = google_cloud_tasks_queue.ocr.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.upload.member
}

# Creating a task with an OIDC token of the invoker account requires actAs on that account.
resource "google_service_account_iam_member" "upload_acts_as_invoker" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.upload.member
}

resource "google_secret_manager_secret_iam_member" "upload_api_key_hashes" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.api_key_hashes.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.upload.member
}

resource "google_secret_manager_secret_iam_member" "upload_tenants" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.tenants.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.upload.member
}

# --- ocr ----------------------------------------------------------------------------------------

# Reads receipts. Cloud Vision needs no IAM role: images:annotate is authorized by the API being
# enabled on the project the caller's credentials belong to.
resource "google_storage_bucket_iam_member" "ocr_receipts_viewer" {
  bucket = google_storage_bucket.receipts.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.ocr.member
}

# Claims jobs and writes results (transactions): read-write, project-wide as above.
resource "google_project_iam_member" "ocr_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.ocr.member
}

# The reconciler (POST /reconcile) re-enqueues lost and stuck jobs as OIDC tasks.
resource "google_cloud_tasks_queue_iam_member" "ocr_enqueuer" {
  project  = var.project_id
  location = google_cloud_tasks_queue.ocr.location
  name     = google_cloud_tasks_queue.ocr.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.ocr.member
}

resource "google_service_account_iam_member" "ocr_acts_as_invoker" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.ocr.member
}

# --- status -------------------------------------------------------------------------------------

# Reads jobs, and deletes one with its index records on DELETE /jobs/<id> (erasure).
resource "google_project_iam_member" "status_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.status.member
}

# Erasure deletes the job's receipt, each of its versions (the bucket is versioned): listing the
# versions and deleting them, nothing more. No predefined role has only these two (objectUser
# would also let the status function write receipts), hence a custom role.
resource "google_project_iam_custom_role" "receipt_eraser" {
  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_receipt_eraser"
  title       = "PIX receipts: erase receipts"
  description = "Lists and deletes receipt object versions (DELETE /jobs/<id> on the status function)."
  permissions = ["storage.objects.delete", "storage.objects.list"]
}

resource "google_storage_bucket_iam_member" "status_receipts_eraser" {
  bucket = google_storage_bucket.receipts.name
  role   = google_project_iam_custom_role.receipt_eraser.name
  member = google_service_account.status.member
}

# The review queue shows a reviewer the receipt beside its fields (GET /jobs/<id>/file).
resource "google_storage_bucket_iam_member" "status_receipts_viewer" {
  bucket = google_storage_bucket.receipts.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.status.member
}

resource "google_secret_manager_secret_iam_member" "status_api_key_hashes" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.api_key_hashes.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.status.member
}

resource "google_secret_manager_secret_iam_member" "status_tenants" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.tenants.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.status.member
}

# --- build --------------------------------------------------------------------------------------

# The role Google documents for a custom build service account of Cloud Run functions: build,
# push the image to Artifact Registry, write build logs.
resource "google_project_iam_member" "build_run_builder" {
  project = var.project_id
  role    = "roles/run.builder"
  member  = google_service_account.build.member
}

resource "google_storage_bucket_iam_member" "build_source_viewer" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# --- invoking the functions ---------------------------------------------------------------------
# A gen2 function is served by a Cloud Run service of the same name; invoking it takes
# roles/run.invoker on that service (granted here through the Cloud Run Admin API v1 resource,
# which checkov's public-access check CKV_GCP_102 covers).

# Only the invoker account may call the OCR function (its ingress is internal-only as well, and
# the function verifies the token's audience and email itself).
resource "google_cloud_run_service_iam_member" "ocr_invoker" {
  project  = var.project_id
  location = google_cloudfunctions2_function.ocr.location
  service  = google_cloudfunctions2_function.ocr.name
  role     = "roles/run.invoker"
  member   = google_service_account.invoker.member
}

# The upload and status functions are public HTTP endpoints: each request must carry an API key
# (X-API-Key), checked by the functions themselves against API_KEY_HASHES (REQUIRE_API_KEY=true).
resource "google_cloud_run_service_iam_member" "upload_public" {
  #checkov:skip=CKV_GCP_102:Public by design: clients without Google identities call it; every request is authenticated by the function with an API key (REQUIRE_API_KEY=true, API_KEY_HASHES from Secret Manager).
  project  = var.project_id
  location = google_cloudfunctions2_function.upload.location
  service  = google_cloudfunctions2_function.upload.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_service_iam_member" "status_public" {
  #checkov:skip=CKV_GCP_102:Public by design: clients without Google identities poll it; every request is authenticated by the function with an API key (REQUIRE_API_KEY=true, API_KEY_HASHES from Secret Manager).
  project  = var.project_id
  location = google_cloudfunctions2_function.status.location
  service  = google_cloudfunctions2_function.status.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- webhooks ------------------------------------------------------------------------------------

# The OCR function queues a job's webhook when the job ends (and the reconciler resends lost
# ones); the upload function does too when its inline fallback ends a job, and the status
# function after a review.
resource "google_cloud_tasks_queue_iam_member" "ocr_notify_enqueuer" {
  project  = var.project_id
  location = google_cloud_tasks_queue.notify.location
  name     = google_cloud_tasks_queue.notify.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.ocr.member
}

resource "google_cloud_tasks_queue_iam_member" "upload_notify_enqueuer" {
  project  = var.project_id
  location = google_cloud_tasks_queue.notify.location
  name     = google_cloud_tasks_queue.notify.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.upload.member
}

# The status function queues the webhook of a job a person reviewed (POST /jobs/<id>/review).
resource "google_cloud_tasks_queue_iam_member" "status_notify_enqueuer" {
  project  = var.project_id
  location = google_cloud_tasks_queue.notify.location
  name     = google_cloud_tasks_queue.notify.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.status.member
}

resource "google_service_account_iam_member" "status_acts_as_invoker" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.status.member
}

resource "google_secret_manager_secret_iam_member" "ocr_webhook_secrets" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.webhook_secrets.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.ocr.member
}

# Each job's receipt is checked against its tenant's expected receiver.
resource "google_secret_manager_secret_iam_member" "ocr_tenants" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.tenants.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.ocr.member
}

resource "google_secret_manager_secret_iam_member" "upload_webhook_secrets" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.webhook_secrets.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.upload.member
}

resource "google_secret_manager_secret_iam_member" "ocr_pix_client_secret" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.pix_client_secret.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.ocr.member
}

resource "google_secret_manager_secret_iam_member" "ocr_pix_client_cert" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.pix_client_cert.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.ocr.member
}

resource "google_secret_manager_secret_iam_member" "ocr_pix_client_key" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.pix_client_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.ocr.member
}

resource "google_secret_manager_secret_iam_member" "upload_pix_client_secret" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.pix_client_secret.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.upload.member
}

resource "google_secret_manager_secret_iam_member" "upload_pix_client_cert" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.pix_client_cert.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.upload.member
}

resource "google_secret_manager_secret_iam_member" "upload_pix_client_key" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.pix_client_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.upload.member
}

resource "google_secret_manager_secret_iam_member" "upload_pix_webhook_secret" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.pix_webhook_secret.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.upload.member
}

# Each tenant's own PSP (var.tenant_psps): its credentials for the OCR and upload functions, its
# webhook secret for the upload function alone.
resource "google_secret_manager_secret_iam_member" "ocr_tenant_psp_credentials" {
  for_each  = local.tenant_psp_credentials
  project   = var.project_id
  secret_id = google_secret_manager_secret.tenant_psp_credentials[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.ocr.member
}

resource "google_secret_manager_secret_iam_member" "upload_tenant_psp_credentials" {
  for_each  = local.tenant_psp_credentials
  project   = var.project_id
  secret_id = google_secret_manager_secret.tenant_psp_credentials[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.upload.member
}

resource "google_secret_manager_secret_iam_member" "upload_tenant_psp_webhook_secret" {
  for_each  = local.tenant_psp_names
  project   = var.project_id
  secret_id = google_secret_manager_secret.tenant_psp_webhook_secret[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.upload.member
}
