# API_KEY_HASHES for the upload and status functions: SHA-256 digests of the accepted API keys,
# comma-separated. The keys themselves are never given to Terraform; the digests are marked
# sensitive (kept out of plans and logs), but like every value they are in the Terraform state.
resource "google_secret_manager_secret" "api_key_hashes" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-api-key-hashes"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "api_key_hashes" {
  secret      = google_secret_manager_secret.api_key_hashes.id
  secret_data = join(",", var.api_key_hashes)

  # A change makes a new version, and the functions a revision pinned to it: the old version goes
  # only after that, since instances of the running revision still read it when they start.
  lifecycle {
    create_before_destroy = true
  }
}

# TENANTS for the three functions: named tenants as JSON (common/tenants.py), each with its API
# key digests (several keys share one tenant's jobs: rotation without downtime) and its own
# expected receiver. Upload and status map a key to its tenant; OCR checks each job's receipt
# against its tenant's receiver. "{}" when there are none (every digest its own tenant).
resource "google_secret_manager_secret" "tenants" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-tenants"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "tenants" {
  secret      = google_secret_manager_secret.tenants.id
  secret_data = jsonencode(var.tenants)

  # A change makes a new version, and the functions a revision pinned to it: the old version goes
  # only after that, since instances of the running revision still read it when they start.
  lifecycle {
    create_before_destroy = true
  }
}

# WEBHOOK_SECRETS for the upload function (refuses a callback_url without a secret) and the OCR
# function (signs deliveries): "digest=secret" pairs, comma-separated. Secret Manager refuses an
# empty payload, so no secrets are written as one space, which the code reads as none.
resource "google_secret_manager_secret" "webhook_secrets" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-webhook-secrets"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "webhook_secrets" {
  secret      = google_secret_manager_secret.webhook_secrets.id
  secret_data = length(var.webhook_secrets) > 0 ? join(",", [for k, v in var.webhook_secrets : "${k}=${v}"]) : " "

  # A change makes a new version, and the functions a revision pinned to it: the old version goes
  # only after that, since instances of the running revision still read it when they start.
  lifecycle {
    create_before_destroy = true
  }
}
