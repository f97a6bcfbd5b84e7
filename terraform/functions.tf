# The three gen2 functions. Their environment is written out per function (no merge()) so what
# each one gets can be read here and is checked by tests/test_terraform.py against
# common/config.py. Variables left out keep a default that is right in production (the test
# lists them with a reason each).

resource "google_cloudfunctions2_function" "ocr" {
  project     = var.project_id
  location    = var.region
  name        = local.names.ocr
  description = "Runs one OCR job per Cloud Tasks task; POST /reconcile is the reconciler pass."
  labels      = local.labels

  build_config {
    runtime         = "python312"
    entry_point     = "run_ocr_job"
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source["ocr"].name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.ocr.email
    # Reached only by Cloud Tasks and Cloud Scheduler of this project, which Cloud Run counts as
    # internal traffic; the internet cannot reach it at all.
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    available_memory                 = "2Gi"
    available_cpu                    = "1"
    max_instance_request_concurrency = var.ocr_concurrency
    min_instance_count               = 0
    max_instance_count               = local.ocr_instances
    # Must outlast each task's dispatch deadline (JOB_TIMEOUT_SECONDS + 60).
    timeout_seconds = local.ocr_timeout_seconds

    environment_variables = {
      # functions-framework's gunicorn threads: one per concurrent request (Google's advice for Python).
      THREADS                     = tostring(var.ocr_concurrency)
      GOOGLE_CLOUD_PROJECT        = var.project_id
      LOG_LEVEL                   = var.log_level
      BLOB_STORE                  = "gcs"
      GCS_BUCKET                  = google_storage_bucket.receipts.name
      JOB_STORE                   = "firestore"
      FIRESTORE_DATABASE          = google_firestore_database.default.name
      JOBS_COLLECTION             = local.jobs_collection
      TASK_QUEUE                  = "cloudtasks"
      TASKS_LOCATION              = google_cloud_tasks_queue.ocr.location
      TASKS_QUEUE_NAME            = google_cloud_tasks_queue.ocr.name
      OCR_FUNCTION_URL            = local.ocr_audience # its own URL: the deterministic one (no self-reference)
      TASKS_SERVICE_ACCOUNT       = google_service_account.invoker.email
      TASKS_AUDIENCE              = local.ocr_audience
      TASK_MAX_ATTEMPTS           = tostring(var.task_max_attempts)
      JOB_TIMEOUT_SECONDS         = tostring(var.job_timeout_seconds)
      OCR_ENGINE                  = "vision"
      EXPECTED_RECEIVER_NAME      = var.expected_receiver_name
      EXPECTED_RECEIVER_DOCUMENTS = join(",", var.expected_receiver_documents)
      EXPECTED_RECEIVER_PIX_KEYS  = join(",", var.expected_receiver_pix_keys)
      # The function checks the OIDC token of every request itself: this audience, this email.
      OIDC_AUDIENCE      = local.ocr_audience
      OIDC_INVOKER_EMAIL = google_service_account.invoker.email
      # Cloud Run verifies the token's signature (only the invoker holds run.invoker here) and
      # forwards it with the signature removed; the function checks the claims. Never on a
      # function that allows unauthenticated calls.
      OIDC_BEHIND_CLOUD_RUN_IAM = "true"
      # Webhooks: delivered by this function's /notify from the notify queue.
      NOTIFY_QUEUE_NAME   = google_cloud_tasks_queue.notify.name
      NOTIFY_MAX_ATTEMPTS = tostring(var.notify_max_attempts)
      # Payment confirmation with the PSP (docs/psp.md): off while var.pix_api_url and var.tenant_psps are empty.
      PIX_CONFIRMATION = local.pix_enabled ? "api_pix" : "none"
      PIX_API_URL      = var.pix_api_url
      PIX_CLIENT_ID    = var.pix_client_id
      PIX_CLIENT_CERT  = "${local.pix_cert_dir}/${local.pix_cert_file}"
      PIX_CLIENT_KEY   = "${local.pix_key_dir}/${local.pix_key_file}"
    }

    secret_environment_variables {
      key        = "WEBHOOK_SECRETS"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.webhook_secrets.secret_id
      version    = google_secret_manager_secret_version.webhook_secrets.version
    }

    secret_environment_variables {
      key        = "TENANTS"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.tenants.secret_id
      version    = google_secret_manager_secret_version.tenants.version
    }

    secret_environment_variables {
      key        = "PIX_CLIENT_SECRET"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.pix_client_secret.secret_id
      version    = google_secret_manager_secret_version.pix_client_secret.version
    }

    secret_volumes {
      mount_path = local.pix_cert_dir
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.pix_client_cert.secret_id
      versions {
        version = google_secret_manager_secret_version.pix_client_cert.version
        path    = local.pix_cert_file
      }
    }

    secret_volumes {
      mount_path = local.pix_key_dir
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.pix_client_key.secret_id
      versions {
        version = google_secret_manager_secret_version.pix_client_key.version
        path    = local.pix_key_file
      }
    }

    # Each tenant's own PSP (var.tenant_psps): the client secret its TENANTS psp names, and its
    # certificate and key where that psp says they are.
    dynamic "secret_environment_variables" {
      for_each = local.tenant_psp_names
      content {
        key        = "${local.tenant_psp_env[secret_environment_variables.key]}_CLIENT_SECRET"
        project_id = data.google_project.this.number
        secret     = google_secret_manager_secret.tenant_psp_credentials["${secret_environment_variables.key}/client-secret"].secret_id
        version    = google_secret_manager_secret_version.tenant_psp_credentials["${secret_environment_variables.key}/client-secret"].version
      }
    }

    dynamic "secret_volumes" {
      for_each = local.tenant_psp_mounts
      content {
        mount_path = secret_volumes.value.dir
        project_id = data.google_project.this.number
        secret     = google_secret_manager_secret.tenant_psp_credentials[secret_volumes.key].secret_id
        versions {
          version = google_secret_manager_secret_version.tenant_psp_credentials[secret_volumes.key].version
          path    = secret_volumes.value.file
        }
      }
    }
  }

  depends_on = [
    google_project_iam_member.build_run_builder,
    google_storage_bucket_iam_member.build_source_viewer,
    google_secret_manager_secret_iam_member.ocr_webhook_secrets,
    google_secret_manager_secret_iam_member.ocr_tenants,
    google_secret_manager_secret_iam_member.ocr_pix_client_secret,
    google_secret_manager_secret_iam_member.ocr_pix_client_cert,
    google_secret_manager_secret_iam_member.ocr_pix_client_key,
    google_secret_manager_secret_iam_member.ocr_tenant_psp_credentials,
  ]
}

resource "google_cloudfunctions2_function" "status" {
  #checkov:skip=CKV_GCP_124:A public API by design (ingress ALLOW_ALL): its clients are outside Google Cloud; every request must carry an API key the function checks (REQUIRE_API_KEY=true). Put an external load balancer with Cloud Armor in front to restrict it further.
  project     = var.project_id
  location    = var.region
  name        = local.names.status
  description = "Job status JSON (GET /jobs/<job_id>/status), job listing, upload page and dashboard (X-API-Key required)."
  labels      = local.labels

  build_config {
    runtime         = "python312"
    entry_point     = "job_status"
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source["status"].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.status.email
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    available_memory                 = "256Mi"
    available_cpu                    = "1" # concurrency above 1 needs a whole CPU
    max_instance_request_concurrency = local.status_concurrency
    min_instance_count               = 0
    max_instance_count               = var.status_max_instances
    timeout_seconds                  = 30

    environment_variables = {
      THREADS              = tostring(local.status_concurrency)
      GOOGLE_CLOUD_PROJECT = var.project_id
      LOG_LEVEL            = var.log_level
      JOB_STORE            = "firestore"
      FIRESTORE_DATABASE   = google_firestore_database.default.name
      JOBS_COLLECTION      = local.jobs_collection
      # DELETE /jobs/<id> erases the job's receipt too (common/erasure.py).
      BLOB_STORE      = "gcs"
      GCS_BUCKET      = google_storage_bucket.receipts.name
      REQUIRE_API_KEY = "true"
      # Where the status function's upload page sends receipts (the upload function's own uri
      # would be a cycle: the upload function depends on this one for STATUS_BASE_URL).
      UPLOAD_URL = local.run_urls.upload
      # Other sites' pages that may read statuses (the function's own pages need no CORS).
      CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins)
      # POST /jobs/<id>/review (common/review.py): a corrected receipt is checked against the
      # expected receiver again, and the review's webhook goes on the notify queue (an OIDC task
      # to the OCR function's /notify, as the other functions send them).
      EXPECTED_RECEIVER_NAME      = var.expected_receiver_name
      EXPECTED_RECEIVER_DOCUMENTS = join(",", var.expected_receiver_documents)
      EXPECTED_RECEIVER_PIX_KEYS  = join(",", var.expected_receiver_pix_keys)
      TASK_QUEUE                  = "cloudtasks"
      TASKS_LOCATION              = google_cloud_tasks_queue.notify.location
      NOTIFY_QUEUE_NAME           = google_cloud_tasks_queue.notify.name
      OCR_FUNCTION_URL            = local.ocr_audience # the deterministic URL: no dependency on the OCR function
      TASKS_SERVICE_ACCOUNT       = google_service_account.invoker.email
      TASKS_AUDIENCE              = local.ocr_audience
    }

    secret_environment_variables {
      key        = "API_KEY_HASHES"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.api_key_hashes.secret_id
      # A pinned version: new hashes roll out as a new revision, at once.
      version = google_secret_manager_secret_version.api_key_hashes.version
    }

    secret_environment_variables {
      key        = "TENANTS"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.tenants.secret_id
      version    = google_secret_manager_secret_version.tenants.version
    }
  }

  depends_on = [
    google_project_iam_member.build_run_builder,
    google_storage_bucket_iam_member.build_source_viewer,
    google_secret_manager_secret_iam_member.status_api_key_hashes,
    google_secret_manager_secret_iam_member.status_tenants,
  ]
}

resource "google_cloudfunctions2_function" "upload" {
  #checkov:skip=CKV_GCP_124:A public API by design (ingress ALLOW_ALL): its clients are outside Google Cloud; every request must carry an API key the function checks (REQUIRE_API_KEY=true). Put an external load balancer with Cloud Armor in front to restrict it further.
  project     = var.project_id
  location    = var.region
  name        = local.names.upload
  description = "POST / a PIX receipt (multipart): stores it, creates the job, enqueues it (X-API-Key required)."
  labels      = local.labels

  build_config {
    runtime         = "python312"
    entry_point     = "upload_receipt"
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source["upload"].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.upload.email
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    available_memory                 = "1Gi"
    available_cpu                    = "1"
    max_instance_request_concurrency = var.upload_concurrency
    min_instance_count               = 0
    max_instance_count               = var.upload_max_instances
    # With the inline fallback on, one request may run a whole job.
    timeout_seconds = var.sync_fallback ? local.ocr_timeout_seconds : 120

    environment_variables = {
      THREADS               = tostring(var.upload_concurrency)
      GOOGLE_CLOUD_PROJECT  = var.project_id
      LOG_LEVEL             = var.log_level
      BLOB_STORE            = "gcs"
      GCS_BUCKET            = google_storage_bucket.receipts.name
      JOB_STORE             = "firestore"
      FIRESTORE_DATABASE    = google_firestore_database.default.name
      JOBS_COLLECTION       = local.jobs_collection
      TASK_QUEUE            = "cloudtasks"
      TASKS_LOCATION        = google_cloud_tasks_queue.ocr.location
      TASKS_QUEUE_NAME      = google_cloud_tasks_queue.ocr.name
      OCR_FUNCTION_URL      = google_cloudfunctions2_function.ocr.service_config[0].uri
      TASKS_SERVICE_ACCOUNT = google_service_account.invoker.email
      TASKS_AUDIENCE        = local.ocr_audience
      STATUS_BASE_URL       = google_cloudfunctions2_function.status.service_config[0].uri
      # Jobs expire when the bucket deletes their receipts (the TTL policy of firestore.tf).
      RETENTION_DAYS = tostring(var.retention_days)
      # false: when Cloud Tasks is unreachable, answer 503 queue_unavailable (and fail the job)
      # rather than run OCR inside the upload request (see docs/deployment.md).
      SYNC_FALLBACK       = tostring(var.sync_fallback)
      TASK_MAX_ATTEMPTS   = tostring(var.task_max_attempts)
      JOB_TIMEOUT_SECONDS = tostring(var.job_timeout_seconds)
      # Used only by the inline fallback (sync_fallback = true).
      OCR_ENGINE                  = "vision"
      EXPECTED_RECEIVER_NAME      = var.expected_receiver_name
      EXPECTED_RECEIVER_DOCUMENTS = join(",", var.expected_receiver_documents)
      EXPECTED_RECEIVER_PIX_KEYS  = join(",", var.expected_receiver_pix_keys)
      REQUIRE_API_KEY             = "true"
      # The status function's upload page posts receipts from its origin (either of its URLs),
      # plus other sites' pages.
      CORS_ALLOWED_ORIGINS = join(",", distinct(concat(
        [google_cloudfunctions2_function.status.service_config[0].uri, local.run_urls.status],
        var.cors_allowed_origins,
      )))
      # Webhooks: a job this function ends (inline fallback) queues its notification.
      NOTIFY_QUEUE_NAME = google_cloud_tasks_queue.notify.name
      # Payment confirmation with the PSP (docs/psp.md): off while var.pix_api_url and var.tenant_psps are empty.
      PIX_CONFIRMATION = local.pix_enabled ? "api_pix" : "none"
      PIX_API_URL      = var.pix_api_url
      PIX_CLIENT_ID    = var.pix_client_id
      PIX_CLIENT_CERT  = "${local.pix_cert_dir}/${local.pix_cert_file}"
      PIX_CLIENT_KEY   = "${local.pix_key_dir}/${local.pix_key_file}"
      # The PSP's webhook: behind a load balancer that terminates its mutual TLS (docs/psp.md).
      PIX_WEBHOOK_CERT_HEADER = local.pix_webhook_lb ? local.pix_webhook_cert_header : var.pix_webhook_cert_header
    }

    secret_environment_variables {
      key        = "API_KEY_HASHES"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.api_key_hashes.secret_id
      version    = google_secret_manager_secret_version.api_key_hashes.version
    }

    secret_environment_variables {
      key        = "WEBHOOK_SECRETS"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.webhook_secrets.secret_id
      version    = google_secret_manager_secret_version.webhook_secrets.version
    }

    secret_environment_variables {
      key        = "TENANTS"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.tenants.secret_id
      version    = google_secret_manager_secret_version.tenants.version
    }

    secret_environment_variables {
      key        = "PIX_CLIENT_SECRET"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.pix_client_secret.secret_id
      version    = google_secret_manager_secret_version.pix_client_secret.version
    }

    secret_volumes {
      mount_path = local.pix_cert_dir
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.pix_client_cert.secret_id
      versions {
        version = google_secret_manager_secret_version.pix_client_cert.version
        path    = local.pix_cert_file
      }
    }

    secret_volumes {
      mount_path = local.pix_key_dir
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.pix_client_key.secret_id
      versions {
        version = google_secret_manager_secret_version.pix_client_key.version
        path    = local.pix_key_file
      }
    }

    secret_environment_variables {
      key        = "PIX_WEBHOOK_SECRET"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.pix_webhook_secret.secret_id
      version    = google_secret_manager_secret_version.pix_webhook_secret.version
    }

    # Each tenant's own PSP (var.tenant_psps): the client secret its TENANTS psp names, and its
    # certificate and key where that psp says they are.
    dynamic "secret_environment_variables" {
      for_each = local.tenant_psp_names
      content {
        key        = "${local.tenant_psp_env[secret_environment_variables.key]}_CLIENT_SECRET"
        project_id = data.google_project.this.number
        secret     = google_secret_manager_secret.tenant_psp_credentials["${secret_environment_variables.key}/client-secret"].secret_id
        version    = google_secret_manager_secret_version.tenant_psp_credentials["${secret_environment_variables.key}/client-secret"].version
      }
    }

    dynamic "secret_volumes" {
      for_each = local.tenant_psp_mounts
      content {
        mount_path = secret_volumes.value.dir
        project_id = data.google_project.this.number
        secret     = google_secret_manager_secret.tenant_psp_credentials[secret_volumes.key].secret_id
        versions {
          version = google_secret_manager_secret_version.tenant_psp_credentials[secret_volumes.key].version
          path    = secret_volumes.value.file
        }
      }
    }

    dynamic "secret_environment_variables" {
      for_each = local.tenant_psp_names
      content {
        key        = "${local.tenant_psp_env[secret_environment_variables.key]}_WEBHOOK_SECRET"
        project_id = data.google_project.this.number
        secret     = google_secret_manager_secret.tenant_psp_webhook_secret[secret_environment_variables.key].secret_id
        version    = google_secret_manager_secret_version.tenant_psp_webhook_secret[secret_environment_variables.key].version
      }
    }
  }

  depends_on = [
    google_project_iam_member.build_run_builder,
    google_storage_bucket_iam_member.build_source_viewer,
    google_secret_manager_secret_iam_member.upload_api_key_hashes,
    google_secret_manager_secret_iam_member.upload_webhook_secrets,
    google_secret_manager_secret_iam_member.upload_tenants,
    google_secret_manager_secret_iam_member.upload_pix_client_secret,
    google_secret_manager_secret_iam_member.upload_pix_client_cert,
    google_secret_manager_secret_iam_member.upload_pix_client_key,
    google_secret_manager_secret_iam_member.upload_pix_webhook_secret,
    google_secret_manager_secret_iam_member.upload_tenant_psp_credentials,
    google_secret_manager_secret_iam_member.upload_tenant_psp_webhook_secret,
  ]
}
