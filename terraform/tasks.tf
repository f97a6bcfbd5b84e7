# The queue the upload function (and the reconciler) hand jobs to; it POSTs {"job_id"} to the OCR
# function with an OIDC token of the invoker service account.
resource "google_cloud_tasks_queue" "ocr" {
  name     = local.names.ocr_queue
  project  = var.project_id
  location = var.region

  retry_config {
    # The same value as the functions' TASK_MAX_ATTEMPTS: the OCR function fails the job on
    # the last attempt (X-CloudTasks-TaskRetryCount + 1 == TASK_MAX_ATTEMPTS).
    max_attempts  = var.task_max_attempts
    min_backoff   = "10s"
    max_backoff   = "300s"
    max_doublings = 4
  }

  rate_limits {
    # No more tasks in flight than OCR instances x their concurrency: the rest wait in the
    # queue instead of bouncing off a saturated function and burning attempts.
    max_concurrent_dispatches = local.ocr_slots
    max_dispatches_per_second = var.tasks_max_dispatches_per_second
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.apis]
}

# The low-priority queue of webhooks: it POSTs {"job_id"} to the OCR function's /notify, which
# delivers that job's notification. Its own queue, rate and retries, so a slow or broken
# receiver never holds up OCR. Each delivery takes an OCR function slot while it waits; the
# function has instances for them on top of the OCR jobs' (local.ocr_instances).
resource "google_cloud_tasks_queue" "notify" {
  name     = local.names.notify_queue
  project  = var.project_id
  location = var.region

  retry_config {
    # The same value as the OCR function's NOTIFY_MAX_ATTEMPTS: the last attempt records
    # the notification as failed (X-CloudTasks-TaskRetryCount + 1 == NOTIFY_MAX_ATTEMPTS).
    max_attempts  = var.notify_max_attempts
    min_backoff   = "10s"
    max_backoff   = "600s"
    max_doublings = 5
  }

  rate_limits {
    max_concurrent_dispatches = var.notify_max_concurrent_dispatches
    max_dispatches_per_second = var.notify_max_dispatches_per_second
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.apis]
}
