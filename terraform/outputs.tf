output "upload_url" {
  description = "POST a receipt here (multipart field `file`, header X-API-Key)."
  value       = google_cloudfunctions2_function.upload.service_config[0].uri
}

output "status_url" {
  description = "The status function; GET <status_url>/jobs/<job_id>/status (header X-API-Key)."
  value       = google_cloudfunctions2_function.status.service_config[0].uri
}

output "status_url_example" {
  description = "A job's status URL, with <job_id> to fill in (the upload answers it as status_url)."
  value       = "${google_cloudfunctions2_function.status.service_config[0].uri}/jobs/<job_id>/status"
}

output "ocr_url" {
  description = "The OCR function (internal ingress: only Cloud Tasks and Cloud Scheduler reach it)."
  value       = google_cloudfunctions2_function.ocr.service_config[0].uri
}

output "ocr_oidc_audience" {
  description = "The audience of every OIDC token sent to the OCR function (its deterministic run.app URL)."
  value       = local.ocr_audience
}

output "receipts_bucket" {
  description = "The bucket holding the uploaded receipts."
  value       = google_storage_bucket.receipts.name
}

output "invoker_service_account" {
  description = "The service account whose OIDC tokens Cloud Tasks and Cloud Scheduler send to the OCR function."
  value       = google_service_account.invoker.email
}

output "tenants_secret" {
  description = "The Secret Manager secret holding TENANTS (JSON)."
  value       = google_secret_manager_secret.tenants.id
}

output "api_key_secret" {
  description = "The Secret Manager secret holding API_KEY_HASHES."
  value       = google_secret_manager_secret.api_key_hashes.id
}

output "pix_webhook_ip" {
  description = "With pix_webhook_domain: the address its DNS A record must point at (the mTLS load balancer of the PSPs' webhook)."
  value       = local.pix_webhook_lb ? google_compute_global_address.pix_webhook[0].address : null
}
