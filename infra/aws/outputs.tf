locals {
  destination = var.prefix == "" ? "s3://${aws_s3_bucket.rulesets.id}" : "s3://${aws_s3_bucket.rulesets.id}/${var.prefix}"
  client_base = "https://${length(var.aliases) > 0 ? var.aliases[0] : aws_cloudfront_distribution.rulesets.domain_name}/${local.key_prefix}"
}

output "bucket" {
  description = "The S3 bucket holding the rulesets."
  value       = aws_s3_bucket.rulesets.id
}

output "bucket_region" {
  description = "Region of the bucket (AWS_REGION for the publisher)."
  value       = var.region
}

output "distribution_id" {
  description = "CloudFront distribution id."
  value       = aws_cloudfront_distribution.rulesets.id
}

output "distribution_domain" {
  description = "CloudFront domain name."
  value       = aws_cloudfront_distribution.rulesets.domain_name
}

output "publish_destination" {
  description = "The --to argument of edgeflag publish."
  value       = local.destination
}

output "publish_command" {
  description = "How CI publishes (run with credentials that carry the publisher policy)."
  value       = "AWS_REGION=${var.region} edgeflag publish flags/ --to ${local.destination}"
}

output "client_url_template" {
  description = "URL a client polls; replace <env> with the environment name."
  value       = "${local.client_base}<env>/current.efr"
}

output "client_url_example" {
  description = "Client URL for var.example_environment."
  value       = "${local.client_base}${var.example_environment}/current.efr"
}

output "publisher_policy_arn" {
  description = "IAM policy for the publisher (Get/Put under the prefix, ListBucket)."
  value       = aws_iam_policy.publisher.arn
}

output "reader_policy_arn" {
  description = "IAM policy for credentialed readers (GetObject under the prefix)."
  value       = aws_iam_policy.reader.arn
}
