# The PSPs' webhook behind an external Application Load Balancer that terminates their mutual TLS
# (docs/psp.md#the-push-side-your-psps-webhook). Off while var.pix_webhook_domain is empty: then
# put your own in front, or none. Cloud Functions cannot check a client certificate; this load
# balancer refuses every connection whose certificate does not chain to one of the PSPs' CAs
# (var.pix_webhook_ca_pems, a Certificate Manager trust config), and tells the upload function
# that it verified in X-Client-Cert-Chain-Verified (PIX_WEBHOOK_CERT_HEADER): pushes without
# `true` there are refused. Point var.pix_webhook_domain's DNS A record at the output
# pix_webhook_ip; Google's managed certificate for it is issued once it resolves there.
locals {
  pix_webhook_lb          = var.pix_webhook_domain != ""
  pix_webhook_lb_count    = local.pix_webhook_lb ? 1 : 0
  pix_webhook_cert_header = "X-Client-Cert-Chain-Verified"
}

resource "google_compute_global_address" "pix_webhook" {
  count   = local.pix_webhook_lb_count
  project = var.project_id
  name    = "${var.name_prefix}-pix-webhook"

  depends_on = [google_project_service.apis]
}

resource "google_compute_managed_ssl_certificate" "pix_webhook" {
  count   = local.pix_webhook_lb_count
  project = var.project_id
  name    = "${var.name_prefix}-pix-webhook"

  managed {
    domains = [var.pix_webhook_domain]
  }

  depends_on = [google_project_service.apis]
}

# The CAs that sign the PSPs' client certificates (each tenant's PSP's and the pix_* one's).
resource "google_certificate_manager_trust_config" "pix_webhook" {
  count    = local.pix_webhook_lb_count
  project  = var.project_id
  location = "global"
  name     = "${var.name_prefix}-pix-webhook"
  labels   = local.labels

  trust_stores {
    dynamic "trust_anchors" {
      for_each = var.pix_webhook_ca_pems
      content {
        pem_certificate = trust_anchors.value
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_network_security_server_tls_policy" "pix_webhook" {
  count    = local.pix_webhook_lb_count
  project  = var.project_id
  location = "global"
  name     = "${var.name_prefix}-pix-webhook"
  labels   = local.labels

  mtls_policy {
    client_validation_mode         = "REJECT_INVALID"
    client_validation_trust_config = google_certificate_manager_trust_config.pix_webhook[0].id
  }
}

# The upload function (a gen2 function is a Cloud Run service of the same name) as the backend.
resource "google_compute_region_network_endpoint_group" "pix_webhook" {
  count                 = local.pix_webhook_lb_count
  project               = var.project_id
  region                = var.region
  name                  = "${var.name_prefix}-pix-webhook"
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = google_cloudfunctions2_function.upload.name
  }
}

resource "google_compute_backend_service" "pix_webhook" {
  count                 = local.pix_webhook_lb_count
  project               = var.project_id
  name                  = "${var.name_prefix}-pix-webhook"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  # Whatever a client sends in this header, the load balancer's value is what the function reads
  # last; with REJECT_INVALID no connection without a verified certificate gets this far at all.
  custom_request_headers = ["${local.pix_webhook_cert_header}: {client_cert_chain_verified}"]

  backend {
    group = google_compute_region_network_endpoint_group.pix_webhook[0].id
  }

  log_config {
    enable = true
  }
}

resource "google_compute_url_map" "pix_webhook" {
  count           = local.pix_webhook_lb_count
  project         = var.project_id
  name            = "${var.name_prefix}-pix-webhook"
  default_service = google_compute_backend_service.pix_webhook[0].id
}

resource "google_compute_target_https_proxy" "pix_webhook" {
  count             = local.pix_webhook_lb_count
  project           = var.project_id
  name              = "${var.name_prefix}-pix-webhook"
  url_map           = google_compute_url_map.pix_webhook[0].id
  ssl_certificates  = [google_compute_managed_ssl_certificate.pix_webhook[0].id]
  server_tls_policy = google_network_security_server_tls_policy.pix_webhook[0].id
  ssl_policy        = google_compute_ssl_policy.pix_webhook[0].id
}

# TLS 1.2 and up, modern ciphers only.
resource "google_compute_ssl_policy" "pix_webhook" {
  count           = local.pix_webhook_lb_count
  project         = var.project_id
  name            = "${var.name_prefix}-pix-webhook"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"

  depends_on = [google_project_service.apis]
}

resource "google_compute_global_forwarding_rule" "pix_webhook" {
  count                 = local.pix_webhook_lb_count
  project               = var.project_id
  name                  = "${var.name_prefix}-pix-webhook"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  port_range            = "443"
  target                = google_compute_target_https_proxy.pix_webhook[0].id
  ip_address            = google_compute_global_address.pix_webhook[0].id
}
