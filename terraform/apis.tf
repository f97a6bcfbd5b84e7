# Every API the pipeline uses. Enable these first on a brand-new project:
#   terraform apply -target=google_project_service.apis
# (see docs/deployment.md). Eventarc is not needed: all three functions are HTTP
# functions, invoked directly (by clients, Cloud Tasks and Cloud Scheduler).
locals {
  apis = toset(concat([
    "artifactregistry.googleapis.com",     # images of the functions (gcf-artifacts)
    "cloudbuild.googleapis.com",           # builds the functions from the zips
    "cloudfunctions.googleapis.com",       # the three gen2 functions
    "cloudresourcemanager.googleapis.com", # data.google_project, project IAM
    "cloudscheduler.googleapis.com",       # the reconciler's schedule
    "cloudtasks.googleapis.com",           # the OCR queue
    "firestore.googleapis.com",            # the job store
    "iam.googleapis.com",                  # service accounts
    "logging.googleapis.com",              # log-based metrics
    "monitoring.googleapis.com",           # their time series
    "run.googleapis.com",                  # gen2 functions run as Cloud Run services
    "secretmanager.googleapis.com",        # the API key hashes
    "storage.googleapis.com",              # receipts and function sources
    "vision.googleapis.com",               # OCR_ENGINE=vision
    ], var.pix_webhook_domain == "" ? [] : [
    "certificatemanager.googleapis.com", # the webhook load balancer's trust config (webhook_lb.tf)
    "compute.googleapis.com",            # the load balancer itself
    "networksecurity.googleapis.com",    # its server TLS policy (mutual TLS)
  ]))
}

resource "google_project_service" "apis" {
  for_each = local.apis

  project = var.project_id
  service = each.value

  # Destroying this stack must not switch APIs off for anything else in the project.
  disable_on_destroy = false
}
