locals {
  # "" or "<prefix>/": what every key of the layout starts with
  key_prefix = var.prefix == "" ? "" : "${var.prefix}/"
  use_kms    = var.kms_key_arn != null
}

resource "aws_s3_bucket" "rulesets" {
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "rulesets" {
  bucket = aws_s3_bucket.rulesets.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "rulesets" {
  bucket = aws_s3_bucket.rulesets.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "rulesets" {
  bucket = aws_s3_bucket.rulesets.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "rulesets" {
  bucket = aws_s3_bucket.rulesets.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = local.use_kms
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "rulesets" {
  bucket = aws_s3_bucket.rulesets.id

  # current.efr and manifest.json are replaced on every publish; their old bodies
  # stay as noncurrent versions (every ruleset also lives on in versions/).
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.rulesets]
}

# Browsers send a CORS preflight (If-None-Match is not a safelisted header); CloudFront
# forwards OPTIONS to S3 (origin request policy Managed-CORS-S3Origin), which answers it.
resource "aws_s3_bucket_cors_configuration" "rulesets" {
  bucket = aws_s3_bucket.rulesets.id

  cors_rule {
    allowed_methods = ["GET", "HEAD"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["If-None-Match", "If-Modified-Since"]
    expose_headers  = ["ETag"]
    max_age_seconds = 86400
  }
}

# Only CloudFront (this distribution, through Origin Access Control) reads anonymously
# on behalf of clients; nothing is public. TLS is required for every request.
data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "CloudFrontReadsRulesets"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.rulesets.arn}/${local.key_prefix}*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.rulesets.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.rulesets.arn, "${aws_s3_bucket.rulesets.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "rulesets" {
  bucket = aws_s3_bucket.rulesets.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.rulesets]
}
