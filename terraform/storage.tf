# Receipts: private, versioned, deleted after var.retention_days.
#
# Encryption: Google-managed keys (AES-256 at rest), no CMEK. A customer-managed key would add a
# KMS key ring that can never be deleted, a per-key-version cost and key rotation to run, for no
# protection the project needs today; add `encryption { default_kms_key_name = ... }` (and grant
# the Cloud Storage service agent roles/cloudkms.cryptoKeyEncrypterDecrypter on the key) when a
# compliance regime asks for CMEK.
resource "google_storage_bucket" "receipts" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Data Access audit logs for Cloud Storage (google_project_iam_audit_config.storage, enabled by default), the current replacement for legacy usage logs, which would need yet another bucket.
  name                        = local.receipts_bucket
  project                     = var.project_id
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  # A receipt older than retention_days is deleted (it becomes a noncurrent version)...
  lifecycle_rule {
    condition {
      age = var.retention_days
      # Live objects only: without it the rule also matches noncurrent versions (their age counts
      # from creation), deleting them at once instead of noncurrent_retention_days later.
      with_state = "LIVE"
    }
    action {
      type = "Delete"
    }
  }

  # ...and a noncurrent version (expired, deleted or overwritten) goes noncurrent_retention_days later.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_retention_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# The functions' source zips, built by `make package` into dist/. Only Cloud Build reads them.
resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Holds only the functions' build inputs, which are also in git; Data Access audit logs (google_project_iam_audit_config.storage) cover reads.
  name                        = local.source_bucket
  project                     = var.project_id
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = local.labels

  versioning {
    enabled = true
  }

  # A replaced zip (the object name carries its hash) turns noncurrent; keep it a week.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# One object per function, named after the zip's SHA-256: a code change is a new object name,
# which makes Terraform update (rebuild and redeploy) that function and only that one.
# `make package` builds the zips deterministically, so an unchanged function keeps its hash.
resource "google_storage_bucket_object" "source" {
  for_each = toset(["upload", "ocr", "status"])

  bucket       = google_storage_bucket.source.name
  name         = "${each.key}-${filesha256("${path.module}/../dist/${each.key}.zip")}.zip"
  source       = "${path.module}/../dist/${each.key}.zip"
  content_type = "application/zip"
}

# Who read or wrote which receipt: Data Access audit logs for Cloud Storage.
resource "google_project_iam_audit_config" "storage" {
  count = var.enable_storage_data_access_logs ? 1 : 0

  project = var.project_id
  service = "storage.googleapis.com"

  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}
