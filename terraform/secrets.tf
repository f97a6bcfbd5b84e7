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
  secret = google_secret_manager_secret.tenants.id
  # A tenant of var.tenant_psps gets its psp object (the API Pix, and the variables and files its
  # credentials reach the functions as); the others psp = null: the pix_* PSP.
  secret_data = jsonencode({ for name, t in var.tenants : name => merge(t, { psp = lookup(local.tenant_psp_config, name, null) }) })

  # A change makes a new version, and the functions a revision pinned to it: the old version goes
  # only after that, since instances of the running revision still read it when they start.
  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = alltrue([for name in local.tenant_psp_names : contains(keys(var.tenants), name)])
      error_message = "Every name of tenant_psps must be a tenant of var.tenants."
    }
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

# Each tenant's own PSP (var.tenant_psps): its OAuth2 client secret (PIX_<TENANT>_CLIENT_SECRET),
# client certificate and key (mounted as files) for the OCR and upload functions, one secret each,
# <prefix>-pix-<tenant>-client-secret, -client-cert, -client-key.
resource "google_secret_manager_secret" "tenant_psp_credentials" {
  for_each  = local.tenant_psp_credentials
  project   = var.project_id
  secret_id = "${var.name_prefix}-pix-${each.value.tenant}-${each.value.kind}"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "tenant_psp_credentials" {
  for_each    = local.tenant_psp_credentials
  secret      = google_secret_manager_secret.tenant_psp_credentials[each.key].id
  secret_data = var.tenant_psps[each.value.tenant][each.value.field]

  lifecycle {
    create_before_destroy = true
  }
}

# Its webhook's path secret (PIX_<TENANT>_WEBHOOK_SECRET) for the upload function alone,
# <prefix>-pix-<tenant>-webhook-secret. Unset is written as one space, which the code reads as none.
resource "google_secret_manager_secret" "tenant_psp_webhook_secret" {
  for_each  = local.tenant_psp_names
  project   = var.project_id
  secret_id = "${var.name_prefix}-pix-${each.key}-webhook-secret"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "tenant_psp_webhook_secret" {
  for_each    = local.tenant_psp_names
  secret      = google_secret_manager_secret.tenant_psp_webhook_secret[each.key].id
  secret_data = var.tenant_psps[each.key].webhook_secret != "" ? var.tenant_psps[each.key].webhook_secret : " "

  lifecycle {
    create_before_destroy = true
  }
}

# PIX_CLIENT_SECRET for the OCR and upload functions: the OAuth2 client secret of the PSP's API Pix.
# Secret Manager refuses an empty payload: unset is written as one space, which the code reads as none.
resource "google_secret_manager_secret" "pix_client_secret" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-pix-client-secret"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "pix_client_secret" {
  secret      = google_secret_manager_secret.pix_client_secret.id
  secret_data = var.pix_client_secret != "" ? var.pix_client_secret : " "

  lifecycle {
    create_before_destroy = true
  }
}

# The client certificate the PSP signed (mutual TLS), mounted as a file in the OCR and upload functions.
# Secret Manager refuses an empty payload: unset is written as one space, which the code reads as none.
resource "google_secret_manager_secret" "pix_client_cert" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-pix-client-cert"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "pix_client_cert" {
  secret      = google_secret_manager_secret.pix_client_cert.id
  secret_data = var.pix_client_cert_pem != "" ? var.pix_client_cert_pem : " "

  lifecycle {
    create_before_destroy = true
  }
}

# Its private key, mounted the same way; readable only by the OCR and upload functions' service accounts.
# Secret Manager refuses an empty payload: unset is written as one space, which the code reads as none.
resource "google_secret_manager_secret" "pix_client_key" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-pix-client-key"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "pix_client_key" {
  secret      = google_secret_manager_secret.pix_client_key.id
  secret_data = var.pix_client_key_pem != "" ? var.pix_client_key_pem : " "

  lifecycle {
    create_before_destroy = true
  }
}

# PIX_WEBHOOK_SECRET for the upload function: the path secret of the PSP's webhook.
# Secret Manager refuses an empty payload: unset is written as one space, which the code reads as none.
resource "google_secret_manager_secret" "pix_webhook_secret" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-pix-webhook-secret"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "pix_webhook_secret" {
  secret      = google_secret_manager_secret.pix_webhook_secret.id
  secret_data = var.pix_webhook_secret != "" ? var.pix_webhook_secret : " "

  lifecycle {
    create_before_destroy = true
  }
}
