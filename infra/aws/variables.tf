variable "region" {
  description = "AWS region of the bucket (CloudFront itself is global)."
  type        = string
  default     = "us-east-1"
}

variable "bucket_name" {
  description = "Name of the S3 bucket that holds the published rulesets (globally unique)."
  type        = string
}

variable "prefix" {
  description = "Key prefix inside the bucket, without leading or trailing slash; empty for the bucket root. Objects are <prefix>/<env>/current.efr etc."
  type        = string
  default     = ""

  validation {
    condition     = !startswith(var.prefix, "/") && !endswith(var.prefix, "/")
    error_message = "prefix must not start or end with '/'."
  }
}

variable "kms_key_arn" {
  description = "KMS key for default bucket encryption (SSE-KMS). null = SSE-S3 (AES256). With a KMS key, its key policy must also let cloudfront.amazonaws.com decrypt (condition AWS:SourceArn = the distribution ARN, see the README)."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete a bucket that still holds objects (and all their versions)."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten object versions (old current.efr / manifest.json bodies) are deleted. versions/*.efr are never overwritten, so the ruleset history is kept regardless."
  type        = number
  default     = 90
}

variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}

variable "aliases" {
  description = "Optional custom domain names for the distribution (needs acm_certificate_arn, in us-east-1)."
  type        = list(string)
  default     = []
}

variable "acm_certificate_arn" {
  description = "ACM certificate (us-east-1) for the aliases; null = the *.cloudfront.net certificate."
  type        = string
  default     = null
}

variable "cors_allowed_origins" {
  description = "Origins allowed to read rulesets from browsers (Access-Control-Allow-Origin)."
  type        = list(string)
  default     = ["*"]
}

variable "current_max_ttl" {
  description = "Upper bound (seconds) on how long CloudFront may keep */current.efr and other mutable objects without revalidating. The origin says max-age=0, so the effective TTL is 0: every request is revalidated by ETag."
  type        = number
  default     = 60
}

variable "publisher_role_names" {
  description = "IAM role names to attach the publisher policy to (e.g. the CI role that runs `edgeflag publish`)."
  type        = list(string)
  default     = []
}

variable "reader_role_names" {
  description = "IAM role names to attach the read-only policy to (services that read rulesets from S3 with credentials instead of through CloudFront)."
  type        = list(string)
  default     = []
}

variable "restrict_list_to_prefix" {
  description = "Limit the publisher's s3:ListBucket with an s3:prefix condition. ListBucket is what makes S3 answer 404 (not 403) for a missing manifest.json on the first publish; if that first publish fails with AccessDenied, set this to false."
  type        = bool
  default     = true
}

variable "example_environment" {
  description = "Environment name used in the example client URL output."
  type        = string
  default     = "production"
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default = {
    project = "edgeflag"
  }
}
