variable "project_id" {
  description = "ID of the (billing-enabled) Google Cloud project to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lowercase letters, digits or hyphens), not its name or number."
  }
}

variable "region" {
  description = "Region of the functions, buckets, Cloud Tasks queue and Scheduler job. southamerica-east1 (São Paulo) keeps receipts in Brazil."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or southamerica-east1."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore database (a region such as us-central1, or a multi-region such as nam5). null: the same as region. It cannot be changed after creation."
  type        = string
  default     = null

  validation {
    condition     = var.firestore_location == null || can(regex("^[a-z0-9-]+$", var.firestore_location))
    error_message = "firestore_location must be a Firestore location id such as us-central1 or nam5."
  }
}

variable "name_prefix" {
  description = "Prefix of the functions' and service accounts' names (<prefix>-upload, <prefix>-ocr, ...)."
  type        = string
  default     = "receipts"

  validation {
    # Service account ids are 6-30 characters ("<prefix>-invoker" is the longest), and the OCR
    # function's deterministic URL <prefix>-ocr-<project number> must fit one 63-character label.
    condition     = can(regex("^[a-z][a-z0-9-]{2,19}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 4-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "receipts_bucket_name" {
  description = "Name of the bucket holding the uploaded receipts (globally unique). null: <project_id>-receipts."
  type        = string
  default     = null

  validation {
    condition     = var.receipts_bucket_name == null || can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.receipts_bucket_name))
    error_message = "receipts_bucket_name must be 3-63 lowercase letters, digits, hyphens or underscores (no dots)."
  }
}

variable "source_bucket_name" {
  description = "Name of the bucket holding the functions' source zips (globally unique). null: <project_id>-functions-source."
  type        = string
  default     = null

  validation {
    condition     = var.source_bucket_name == null || can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.source_bucket_name))
    error_message = "source_bucket_name must be 3-63 lowercase letters, digits, hyphens or underscores (no dots)."
  }
}

variable "retention_days" {
  description = "Days an uploaded receipt is kept. After that it becomes a noncurrent version, deleted noncurrent_retention_days later (then Cloud Storage's soft delete keeps it 7 more days)."
  type        = number
  default     = 90

  validation {
    condition     = var.retention_days >= 1 && var.retention_days <= 3650 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days must be a whole number of days between 1 and 3650."
  }
}

variable "noncurrent_retention_days" {
  description = "Days a noncurrent (deleted or expired) receipt version is kept before it is deleted for good."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_retention_days >= 1 && var.noncurrent_retention_days <= 365 && floor(var.noncurrent_retention_days) == var.noncurrent_retention_days
    error_message = "noncurrent_retention_days must be a whole number of days between 1 and 365."
  }
}

variable "expected_receiver_name" {
  description = "EXPECTED_RECEIVER_NAME: your name as receipts show it (accents and case are ignored). Empty: not checked."
  type        = string
  default     = ""
}

variable "expected_receiver_documents" {
  description = "EXPECTED_RECEIVER_DOCUMENTS: your CPF/CNPJ numbers, any punctuation."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for d in var.expected_receiver_documents : !strcontains(d, ",")])
    error_message = "A document must not contain a comma (the list is passed comma-separated)."
  }
}

variable "expected_receiver_pix_keys" {
  description = "EXPECTED_RECEIVER_PIX_KEYS: your PIX keys (phone, e-mail, CPF/CNPJ or random key)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for k in var.expected_receiver_pix_keys : !strcontains(k, ",")])
    error_message = "A PIX key must not contain a comma (the list is passed comma-separated)."
  }
}

variable "api_key_hashes" {
  description = "SHA-256 hex digests (64 lowercase hex characters) of the API keys accepted in the X-API-Key header of the upload and status functions. Stored in Secret Manager; the keys themselves never reach Terraform."
  type        = list(string)
  sensitive   = true

  validation {
    condition     = length(var.api_key_hashes) > 0 && alltrue([for h in var.api_key_hashes : can(regex("^[0-9a-f]{64}$", h))])
    error_message = "api_key_hashes must hold at least one SHA-256 hex digest (64 lowercase hex characters), e.g. from `printf %s KEY | sha256sum`."
  }
}

variable "tenants" {
  description = "Named tenants (TENANTS): name -> its API key digests (several keys share the tenant's jobs: add the new key's digest, move clients over, drop the old one) and optionally its own expected receiver (empty: the expected_receiver_* variables). A digest of api_key_hashes that no tenant lists is a tenant of its own. Webhook secrets go in webhook_secrets under the tenant's name. Stored in Secret Manager."
  type = map(object({
    api_key_hashes              = list(string)
    expected_receiver_name      = optional(string, "")
    expected_receiver_documents = optional(list(string), [])
    expected_receiver_pix_keys  = optional(list(string), [])
  }))
  default   = {}
  sensitive = true

  validation {
    condition     = alltrue([for name, t in var.tenants : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", name)) && length(t.api_key_hashes) > 0 && alltrue([for h in t.api_key_hashes : can(regex("^[0-9a-f]{64}$", h))])])
    error_message = "Tenant names are 1-64 letters, digits, _ or -; each tenant needs at least one SHA-256 hex digest in api_key_hashes."
  }
}

variable "upload_max_instances" {
  description = "Most instances of the upload function."
  type        = number
  default     = 10

  validation {
    condition     = var.upload_max_instances >= 1 && var.upload_max_instances <= 1000
    error_message = "upload_max_instances must be between 1 and 1000."
  }
}

variable "upload_concurrency" {
  description = "Requests one upload instance serves at once (each may decode an image of up to 50 megapixels in its 1 GiB)."
  type        = number
  default     = 4

  validation {
    condition     = var.upload_concurrency >= 1 && var.upload_concurrency <= 8
    error_message = "upload_concurrency must be between 1 and 8."
  }
}

variable "ocr_max_instances" {
  description = "Instances of the OCR function for OCR jobs: the ocr queue dispatches at most ocr_max_instances x ocr_concurrency tasks at once. The function gets ceil(notify_max_concurrent_dispatches / ocr_concurrency) more instances for webhook deliveries."
  type        = number
  default     = 5

  validation {
    condition     = var.ocr_max_instances >= 1 && var.ocr_max_instances <= 100
    error_message = "ocr_max_instances must be between 1 and 100."
  }
}

variable "ocr_concurrency" {
  description = "Jobs one OCR instance (2 GiB, 1 CPU) runs at once."
  type        = number
  default     = 1

  validation {
    condition     = var.ocr_concurrency >= 1 && var.ocr_concurrency <= 4
    error_message = "ocr_concurrency must be between 1 and 4."
  }
}

variable "status_max_instances" {
  description = "Most instances of the status function (each serves 80 requests at once)."
  type        = number
  default     = 10

  validation {
    condition     = var.status_max_instances >= 1 && var.status_max_instances <= 1000
    error_message = "status_max_instances must be between 1 and 1000."
  }
}

variable "task_max_attempts" {
  description = "TASK_MAX_ATTEMPTS: attempts per job. The Cloud Tasks queue's max_attempts and the functions get the same value."
  type        = number
  default     = 5

  validation {
    condition     = var.task_max_attempts >= 1 && var.task_max_attempts <= 100
    error_message = "task_max_attempts must be between 1 and 100."
  }
}

variable "job_timeout_seconds" {
  description = "JOB_TIMEOUT_SECONDS: a job running longer fails with `timeout`. Each task's dispatch deadline is this + 60 s, which must fit the OCR function's 540 s timeout."
  type        = number
  default     = 300

  validation {
    condition     = var.job_timeout_seconds >= 1 && var.job_timeout_seconds <= 480
    error_message = "job_timeout_seconds must be between 1 and 480 (480 + 60 = the OCR function's 540 s timeout)."
  }
}

variable "tasks_max_dispatches_per_second" {
  description = "Most tasks the OCR queue starts per second."
  type        = number
  default     = 5

  validation {
    condition     = var.tasks_max_dispatches_per_second > 0 && var.tasks_max_dispatches_per_second <= 500
    error_message = "tasks_max_dispatches_per_second must be above 0 and at most 500."
  }
}

variable "sync_fallback" {
  description = "SYNC_FALLBACK: run a job inside the upload request when Cloud Tasks is unreachable. false (recommended): answer 503 queue_unavailable instead (see docs/deployment.md)."
  type        = bool
  default     = false
}

variable "reconcile_schedule" {
  description = "Cron schedule (UTC) of the reconciler pass that re-enqueues lost or stuck jobs."
  type        = string
  default     = "*/5 * * * *"

  validation {
    condition     = length(split(" ", var.reconcile_schedule)) == 5
    error_message = "reconcile_schedule must be a five-field cron expression."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the three functions."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "enable_storage_data_access_logs" {
  description = "Turn on Data Access audit logs (DATA_READ, DATA_WRITE) for Cloud Storage in the project, so every read and write of a receipt is recorded. They are billed as Cloud Logging ingestion."
  type        = bool
  default     = true
}

variable "cors_allowed_origins" {
  description = "Origins (scheme://host[:port]) of other sites whose web pages may call the upload and status functions (CORS_ALLOWED_ORIGINS). The status function's own pages are always allowed to upload."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[^/,]+$", o))])
    error_message = "Each origin must be scheme://host[:port], without a path or a comma."
  }
}

variable "webhook_secrets" {
  description = "Webhook signing secrets (WEBHOOK_SECRETS): tenant (a name of var.tenants, or an API key SHA-256 digest) -> secret (at least 16 characters), or \"*\" -> the secret while there is a single tenant (with two or more, each needs its own: tenants sharing a secret could forge each other's webhooks). A tenant without one: its uploads with a callback_url are refused (webhooks_not_configured). Stored in Secret Manager."
  type        = map(string)
  default     = {}
  sensitive   = true

  validation {
    condition     = alltrue([for k, v in var.webhook_secrets : (k == "*" || can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", k))) && length(v) >= 16 && !strcontains(v, ",")])
    error_message = "webhook_secrets keys must be tenant names, API key digests or \"*\"; secrets at least 16 characters, without commas."
  }
}

variable "notify_max_attempts" {
  description = "NOTIFY_MAX_ATTEMPTS: delivery attempts per webhook. The notify queue's max_attempts and the OCR function get the same value."
  type        = number
  default     = 5

  validation {
    condition     = var.notify_max_attempts >= 1 && var.notify_max_attempts <= 100
    error_message = "notify_max_attempts must be between 1 and 100."
  }
}

variable "notify_max_concurrent_dispatches" {
  description = "Most webhook deliveries in flight at once. Each holds an OCR function slot while it waits for the receiver; the function has instances for them on top of ocr_max_instances."
  type        = number
  default     = 2

  validation {
    condition     = var.notify_max_concurrent_dispatches >= 1 && var.notify_max_concurrent_dispatches <= 1000
    error_message = "notify_max_concurrent_dispatches must be between 1 and 1000."
  }
}

variable "notify_max_dispatches_per_second" {
  description = "Most webhook deliveries the notify queue starts per second."
  type        = number
  default     = 2

  validation {
    condition     = var.notify_max_dispatches_per_second > 0 && var.notify_max_dispatches_per_second <= 500
    error_message = "notify_max_dispatches_per_second must be above 0 and at most 500."
  }
}

# Payment confirmation with the receiver's PSP through the BCB API Pix (docs/psp.md). Empty
# pix_api_url: off (PIX_CONFIRMATION=none). The credentials go to Secret Manager; the client
# certificate and its key reach the OCR and upload functions as mounted files.
variable "pix_api_url" {
  description = "Base URL of your PSP's API Pix (https://...). Empty: payments are not confirmed with the PSP."
  type        = string
  default     = ""

  validation {
    condition     = var.pix_api_url == "" || startswith(var.pix_api_url, "https://")
    error_message = "pix_api_url must be an https:// URL (the API Pix is served over mutual TLS) or empty."
  }
}

variable "pix_client_id" {
  description = "OAuth2 client id your PSP issued for its API Pix."
  type        = string
  default     = ""
}

variable "pix_client_secret" {
  description = "OAuth2 client secret your PSP issued (PIX_CLIENT_SECRET, from Secret Manager)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "pix_client_cert_pem" {
  description = "The client certificate your PSP signed for mutual TLS, PEM (mounted from Secret Manager)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "pix_client_key_pem" {
  description = "That certificate's private key, PEM (mounted from Secret Manager; also held by the Terraform state)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "pix_webhook_secret" {
  description = "Path secret of the PSP's webhook (POST /pix-webhook/<secret>/pix on the upload function), at least 16 characters. Empty: no push endpoint."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.pix_webhook_secret == "" || length(var.pix_webhook_secret) >= 16
    error_message = "pix_webhook_secret must be empty or at least 16 characters."
  }
}

variable "tenant_psps" {
  description = "Tenants' own PSPs (docs/psp.md#one-psp-per-tenant): a name of var.tenants -> its API Pix base URL, OAuth2 client id and secret, client certificate and key (PEM) and optionally its webhook's path secret. Each credential goes to a Secret Manager secret of its own (<prefix>-pix-<tenant>-<kind>); the tenant's TENANTS entry gets the psp object naming them. Tenants not listed use the pix_* PSP."
  type = map(object({
    api_url         = string
    client_id       = string
    client_secret   = string
    client_cert_pem = string
    client_key_pem  = string
    webhook_secret  = optional(string, "")
  }))
  default   = {}
  sensitive = true

  validation {
    condition     = alltrue([for name, p in var.tenant_psps : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", name)) && startswith(p.api_url, "https://") && p.client_id != "" && p.client_secret != "" && p.client_cert_pem != "" && p.client_key_pem != "" && (p.webhook_secret == "" || length(p.webhook_secret) >= 16)])
    error_message = "Each tenant_psps entry is named like a tenant and needs an https:// api_url, a client_id, a client_secret, a client_cert_pem and a client_key_pem; a webhook_secret is empty or at least 16 characters."
  }

  validation {
    condition     = length(distinct([for name in keys(var.tenant_psps) : upper(replace(name, "-", "_"))])) == length(var.tenant_psps)
    error_message = "Two tenant_psps names differ only in case or in - versus _: their PIX_<TENANT>_* variables would be the same."
  }
}

variable "pix_webhook_domain" {
  description = "The domain (a DNS name you control) of an external Application Load Balancer terminating the PSPs' mutual TLS in front of the upload function for their webhook (terraform/webhook_lb.tf); register https://<domain>/pix-webhook/<secret> with each PSP. Empty: no load balancer."
  type        = string
  default     = ""

  validation {
    condition     = var.pix_webhook_domain == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.pix_webhook_domain))
    error_message = "pix_webhook_domain must be empty or a lowercase DNS name such as pix-webhook.example.com."
  }
}

variable "pix_webhook_ca_pems" {
  description = "With pix_webhook_domain: the CA certificates (PEM) that sign the PSPs' client certificates for their calls to the webhook (ask each bank for its webhook's CA chain); only connections with a certificate chaining to one reach the function."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for pem in var.pix_webhook_ca_pems : strcontains(pem, "-----BEGIN CERTIFICATE-----")])
    error_message = "Each pix_webhook_ca_pems entry must be a PEM certificate."
  }
}

variable "pix_webhook_cert_header" {
  description = "Header your mTLS-terminating load balancer sets to true when the PSP's client certificate verified (PIX_WEBHOOK_CERT_HEADER); pushes without it are refused."
  type        = string
  default     = ""
}
