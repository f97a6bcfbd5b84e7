# The reconciler pass: every 5 minutes, POST <ocr>/reconcile with an OIDC token of the invoker
# account (audience: the OCR function's URL, the same as the tasks' tokens).
resource "google_cloud_scheduler_job" "reconcile" {
  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-reconcile"
  description      = "Re-enqueues lost or stuck OCR jobs (common/reconcile.py)."
  schedule         = var.reconcile_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "180s"

  retry_config {
    # The next pass comes in minutes anyway.
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloudfunctions2_function.ocr.service_config[0].uri}/reconcile"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = local.ocr_audience
    }
  }

  # Cloud Scheduler gets 403s until the invoker may invoke the OCR function.
  depends_on = [google_cloud_run_service_iam_member.ocr_invoker]
}
