locals {
  names = {
    upload  = "${var.name_prefix}-upload"
    ocr     = "${var.name_prefix}-ocr"
    status  = "${var.name_prefix}-status"
    invoker = "${var.name_prefix}-invoker"
    build   = "${var.name_prefix}-build"
    # Cloud Tasks queues. A deleted queue's name cannot be used again for about 7 days.
    ocr_queue    = "${var.name_prefix}-ocr"
    notify_queue = "${var.name_prefix}-notify"
  }

  receipts_bucket    = coalesce(var.receipts_bucket_name, "${var.project_id}-receipts")
  source_bucket      = coalesce(var.source_bucket_name, "${var.project_id}-functions-source")
  firestore_location = coalesce(var.firestore_location, var.region)

  # JOBS_COLLECTION: the collection the code reads and the composite index covers.
  jobs_collection = "jobs"
  # The PSP's credentials (terraform/secrets.tf), mounted as files where the functions read them.
  pix_enabled   = var.pix_api_url != "" || length(local.tenant_psp_names) > 0
  pix_cert_dir  = "/secrets/pix-cert"
  pix_key_dir   = "/secrets/pix-key"
  pix_cert_file = "client.pem"
  pix_key_file  = "client-key.pem"

  # Each tenant's own PSP (var.tenant_psps, docs/psp.md#one-psp-per-tenant). Its tenants' names are
  # not secret (for_each needs them in the clear); its credentials are.
  tenant_psp_names = nonsensitive(toset(keys(var.tenant_psps)))
  # One Secret Manager secret per tenant and credential: "<tenant>/<kind>" -> where it goes.
  tenant_psp_credentials = merge([for name in local.tenant_psp_names : {
    "${name}/client-secret" = { tenant = name, kind = "client-secret", field = "client_secret", dir = "", file = "" }
    "${name}/client-cert"   = { tenant = name, kind = "client-cert", field = "client_cert_pem", dir = "/secrets/pix-${name}-cert", file = local.pix_cert_file }
    "${name}/client-key"    = { tenant = name, kind = "client-key", field = "client_key_pem", dir = "/secrets/pix-${name}-key", file = local.pix_key_file }
  }]...)
  tenant_psp_mounts = { for key, c in local.tenant_psp_credentials : key => c if c.dir != "" }
  # The variables holding a tenant's secrets: PIX_<TENANT>_CLIENT_SECRET and _WEBHOOK_SECRET (its
  # name in capitals, - as _), as its psp object in TENANTS names them.
  tenant_psp_env = { for name in local.tenant_psp_names : name => "PIX_${upper(replace(name, "-", "_"))}" }
  # The psp object Terraform writes into each such tenant's TENANTS entry (common/config.py TenantPsp).
  tenant_psp_config = { for name in local.tenant_psp_names : name => {
    api_url            = var.tenant_psps[name].api_url
    client_id          = var.tenant_psps[name].client_id
    client_secret_env  = "${local.tenant_psp_env[name]}_CLIENT_SECRET"
    client_cert        = "/secrets/pix-${name}-cert/${local.pix_cert_file}"
    client_key         = "/secrets/pix-${name}-key/${local.pix_key_file}"
    webhook_secret_env = "${local.tenant_psp_env[name]}_WEBHOOK_SECRET"
  } }

  # Each function's deterministic Cloud Run URL (https://SERVICE-PROJECT_NUMBER.REGION.run.app),
  # known before the function exists, so it can be used where the function's own `uri` would make
  # a dependency cycle: the OCR function's own URL in its environment, and the status page's
  # UPLOAD_URL (the upload function already depends on the status function for STATUS_BASE_URL).
  run_urls = { for key in ["upload", "ocr", "status"] :
    key => "https://${local.names[key]}-${data.google_project.this.number}.${var.region}.run.app"
  }

  # The audience of every OIDC token sent to the OCR function (Cloud Tasks from the upload and
  # OCR functions, Cloud Scheduler) and the one the function checks (OIDC_AUDIENCE). Cloud Run
  # accepts a token whose audience is any of the service's run.app URLs.
  ocr_audience = local.run_urls.ocr

  # The OCR function's timeout; each task's dispatch deadline (job_timeout_seconds + 60, at most
  # 480 + 60 by the variable's validation) must fit in it.
  ocr_timeout_seconds = 540

  # Requests one status instance serves at once: each is a single Firestore read.
  status_concurrency = 80

  # Cloud Tasks never has more tasks in flight than the OCR function can run at once. The function
  # serves two queues, each task taking one request slot: OCR jobs (at most ocr_slots at once) and
  # webhook deliveries (at most notify_max_concurrent_dispatches), so its instances cover both.
  ocr_slots     = var.ocr_max_instances * var.ocr_concurrency
  ocr_instances = var.ocr_max_instances + ceil(var.notify_max_concurrent_dispatches / var.ocr_concurrency)

  labels = {
    app = "pix-receipts"
  }
}
