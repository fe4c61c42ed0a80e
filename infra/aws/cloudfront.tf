resource "aws_cloudfront_origin_access_control" "rulesets" {
  name                              = "${var.bucket_name}-oac"
  description                       = "edgeflag rulesets in s3://${var.bucket_name}"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# Mutable objects (<env>/current.efr, manifest.json): the origin sends
# `public, max-age=0, must-revalidate` / `no-cache`, so with min and default TTL 0
# CloudFront keeps the object but revalidates it with the origin (a conditional GET)
# on every request, and answers a client's own If-None-Match with 304.
# Nothing from the request is part of the cache key: query strings cannot bust it.
resource "aws_cloudfront_cache_policy" "revalidate" {
  name        = "${var.bucket_name}-edgeflag-revalidate"
  comment     = "edgeflag current.efr / manifest: honour origin Cache-Control, revalidate by ETag"
  min_ttl     = 0
  default_ttl = 0
  max_ttl     = var.current_max_ttl

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = false
    enable_accept_encoding_brotli = false

    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

# <env>/versions/<n>.efr are written once and never change (`immutable`): cache a year.
resource "aws_cloudfront_cache_policy" "immutable" {
  name        = "${var.bucket_name}-edgeflag-immutable"
  comment     = "edgeflag versions/*.efr: written once, cached long"
  min_ttl     = 86400
  default_ttl = 31536000
  max_ttl     = 31536000

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = false
    enable_accept_encoding_brotli = false

    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

# Forwards Origin / Access-Control-Request-* so S3 can answer CORS preflights.
data "aws_cloudfront_origin_request_policy" "cors_s3" {
  name = "Managed-CORS-S3Origin"
}

# CORS on every response (as `edgeflag serve` does), exposing the headers a polling
# client needs to read.
resource "aws_cloudfront_response_headers_policy" "cors" {
  name    = "${var.bucket_name}-edgeflag-cors"
  comment = "edgeflag: CORS for cross-origin polling"

  cors_config {
    access_control_allow_credentials = false
    origin_override                  = true
    access_control_max_age_sec       = 86400

    access_control_allow_origins {
      items = var.cors_allowed_origins
    }
    access_control_allow_methods {
      items = ["GET", "HEAD", "OPTIONS"]
    }
    access_control_allow_headers {
      items = ["If-None-Match", "If-Modified-Since"]
    }
    access_control_expose_headers {
      items = ["ETag", "Link", "Retry-After"]
    }
  }
}

locals {
  origin_id = "s3-${var.bucket_name}"
  behaviors = [
    { path = "${local.key_prefix}*/versions/*", cache_policy = aws_cloudfront_cache_policy.immutable.id },
    { path = "${local.key_prefix}*/current.efr", cache_policy = aws_cloudfront_cache_policy.revalidate.id },
  ]
}

resource "aws_cloudfront_distribution" "rulesets" {
  enabled         = true
  comment         = "edgeflag rulesets (s3://${var.bucket_name}/${local.key_prefix})"
  is_ipv6_enabled = true
  http_version    = "http2and3"
  price_class     = var.price_class
  aliases         = var.aliases

  origin {
    origin_id                = local.origin_id
    domain_name              = aws_s3_bucket.rulesets.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.rulesets.id
  }

  dynamic "ordered_cache_behavior" {
    for_each = local.behaviors
    content {
      path_pattern               = ordered_cache_behavior.value.path
      target_origin_id           = local.origin_id
      viewer_protocol_policy     = "redirect-to-https"
      allowed_methods            = ["GET", "HEAD", "OPTIONS"]
      cached_methods             = ["GET", "HEAD"]
      compress                   = false
      cache_policy_id            = ordered_cache_behavior.value.cache_policy
      origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.cors_s3.id
      response_headers_policy_id = aws_cloudfront_response_headers_policy.cors.id
    }
  }

  # manifest.json, audit/*.json and anything else: honour the origin (no-cache).
  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = false
    cache_policy_id            = aws_cloudfront_cache_policy.revalidate.id
    origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.cors_s3.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.cors.id
  }

  # A key that does not exist yet (a version about to be published, an environment
  # before its first publish) comes back 403 from S3 through OAC; never cache that.
  custom_error_response {
    error_code            = 403
    error_caching_min_ttl = 0
  }
  custom_error_response {
    error_code            = 404
    error_caching_min_ttl = 0
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.acm_certificate_arn == null
    acm_certificate_arn            = var.acm_certificate_arn
    ssl_support_method             = var.acm_certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.acm_certificate_arn == null ? "TLSv1" : "TLSv1.2_2021"
  }
}
