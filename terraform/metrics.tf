# Log-based metrics from the functions' structured logs (one JSON object per line on stdout,
# which Cloud Run turns into jsonPayload; see common/log.py). Jobs end in the OCR function, or in
# the upload function when it runs one inline.
locals {
  job_logs_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "(resource.labels.service_name=\"${local.names.ocr}\" OR resource.labels.service_name=\"${local.names.upload}\")",
  ])
}

resource "google_logging_metric" "jobs_finished" {
  project     = var.project_id
  name        = "${var.name_prefix}/jobs_finished"
  description = "Jobs that ended finished (a receipt read)."
  filter      = "${local.job_logs_filter} AND jsonPayload.event=\"job_finished\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "jobs_failed" {
  project     = var.project_id
  name        = "${var.name_prefix}/jobs_failed"
  description = "Jobs that ended failed, by error_code (no_receipt_found, timeout, ...)."
  filter      = "${local.job_logs_filter} AND jsonPayload.event=\"job_failed\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "error_code"
      value_type  = "STRING"
      description = "The failed job's error_code."
    }
  }
  label_extractors = {
    error_code = "EXTRACT(jsonPayload.error_code)"
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "job_duration" {
  project         = var.project_id
  name            = "${var.name_prefix}/job_duration_ms"
  description     = "Duration of finished jobs in milliseconds (jsonPayload.duration_ms)."
  filter          = "${local.job_logs_filter} AND jsonPayload.event=\"job_finished\""
  value_extractor = "EXTRACT(jsonPayload.duration_ms)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
  }

  # 50 ms x 2^i: 50 ms to about 7 minutes (the job timeout is at most 480 s).
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 14
      growth_factor      = 2
      scale              = 50
    }
  }

  depends_on = [google_project_service.apis]
}

# The rest of the Prometheus metrics of common/metrics.py, from the same log events. The queue
# depth needs no log metric: Cloud Tasks reports cloudtasks.googleapis.com/queue/depth itself.
resource "google_logging_metric" "jobs_queued" {
  project     = var.project_id
  name        = "${var.name_prefix}/jobs_queued"
  description = "Jobs created and handed to the task queue (upload function)."
  filter      = "${local.job_logs_filter} AND jsonPayload.event=\"job_queued\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "jobs_started" {
  project     = var.project_id
  name        = "${var.name_prefix}/jobs_started"
  description = "Job attempts started (a retried job counts once per attempt)."
  filter      = "${local.job_logs_filter} AND jsonPayload.event=\"job_started\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "uploads_rejected" {
  project     = var.project_id
  name        = "${var.name_prefix}/uploads_rejected"
  description = "Uploads refused with a 4xx, by code (file_too_large, mime_mismatch, ...)."
  filter      = "${local.job_logs_filter} AND jsonPayload.event=\"upload_rejected\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "code"
      value_type  = "STRING"
      description = "The refusal's machine code."
    }
  }
  label_extractors = {
    code = "EXTRACT(jsonPayload.code)"
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "notification_attempts" {
  project     = var.project_id
  name        = "${var.name_prefix}/notification_attempts"
  description = "Webhook delivery attempts, by outcome: delivered, retry (the receiver failed; tried again later) or failed (gave up)."
  filter = join(" AND ", [local.job_logs_filter, "(${join(" OR ", [
    "jsonPayload.event=\"notification_delivered\"",
    "jsonPayload.event=\"notification_retry\"",
    "jsonPayload.event=\"notification_failed\"",
  ])})"])

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "delivered, retry or failed."
    }
  }
  label_extractors = {
    # No backslash: the regex would go through two languages' escapes (HCL's, then the
    # extractor's string literal).
    outcome = "REGEXP_EXTRACT(jsonPayload.event, \"notification_([a-z]+)\")"
  }

  depends_on = [google_project_service.apis]
}
