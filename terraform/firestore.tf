resource "google_firestore_database" "default" {
  project     = var.project_id
  name        = "(default)"
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  # `terraform destroy` leaves the database (and its jobs) in place.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.apis]
}

# FirestoreJobStore.list (common/jobstore.py), used by the reconciler:
#   jobs.where("status", "==", s).order_by("created_at", DESCENDING).limit(n)
# An equality filter plus an order on another field needs this composite index.
resource "google_firestore_index" "jobs_by_status_created_at" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.jobs_collection

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
}

# GET /jobs and its counts (FirestoreJobStore.page and .count, common/jobstore.py) for one tenant:
#   jobs.where("tenant", "==", t)[.where("status", "==", s)].order_by("created_at", DESCENDING)
# Each combination of equality filters with the order needs its own composite index.
resource "google_firestore_index" "jobs_by_tenant_created_at" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.jobs_collection

  fields {
    field_path = "tenant"
    order      = "ASCENDING"
  }
  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
}

resource "google_firestore_index" "jobs_by_tenant_status_created_at" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.jobs_collection

  fields {
    field_path = "tenant"
    order      = "ASCENDING"
  }
  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
}

# The review queue (FirestoreJobStore.review_page and .count_needs_review, common/jobstore.py):
#   jobs[.where("tenant", "==", t)].where("result.data.needs_review", "==", True)
#       .order_by("created_at", ASCENDING)
# oldest first; each combination of its equality filters with the order has its composite index.
resource "google_firestore_index" "jobs_needing_review_created_at" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.jobs_collection

  fields {
    field_path = "result.data.needs_review"
    order      = "ASCENDING"
  }
  fields {
    field_path = "created_at"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "jobs_by_tenant_needing_review_created_at" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.jobs_collection

  fields {
    field_path = "tenant"
    order      = "ASCENDING"
  }
  fields {
    field_path = "result.data.needs_review"
    order      = "ASCENDING"
  }
  fields {
    field_path = "created_at"
    order      = "ASCENDING"
  }
}

# Retention (RETENTION_DAYS = var.retention_days, as the receipts bucket's lifecycle rule): every job
# document, hash pointer (jobs_by_sha256), transaction record (jobs_transactions) and Pix the PSP
# pushed (jobs_pix) carries
# `expires_at`, a timestamp (common/jobstore.py); the TTL policy deletes a document once it has
# passed, usually within a day. The field is exempt from indexing (index_config {}): no query uses
# it, and an index on an ever-increasing timestamp is a write hotspot Google advises against.
resource "google_firestore_field" "expires_at" {
  for_each = toset([
    local.jobs_collection,
    "${local.jobs_collection}_by_sha256",
    "${local.jobs_collection}_transactions",
    "${local.jobs_collection}_pix",
  ])

  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = each.key
  field      = "expires_at"

  index_config {}
  ttl_config {}
}
