# Publisher: what `edgeflag publish` / `rollback` / `history` need, and nothing more.
# It reads the manifest and current.efr and writes new objects (conditional PUTs:
# If-None-Match: * / If-Match), only under the prefix. No DeleteObject: the history
# in versions/ and audit/ cannot be erased with these credentials.
data "aws_iam_policy_document" "publisher" {
  statement {
    sid       = "ReadWriteRulesets"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.rulesets.arn}/${local.key_prefix}*"]
  }

  # ListBucket makes S3 answer 404 instead of 403 for a key that does not exist yet
  # (manifest.json before the first publish).
  statement {
    sid       = "ListPrefix"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.rulesets.arn]

    dynamic "condition" {
      for_each = var.restrict_list_to_prefix && local.key_prefix != "" ? [1] : []
      content {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [var.prefix, "${local.key_prefix}*"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.use_kms ? [1] : []
    content {
      sid       = "UseBucketKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
}

# Reader: services that read rulesets straight from S3 with credentials (the usual
# path is anonymous, through CloudFront).
data "aws_iam_policy_document" "reader" {
  statement {
    sid       = "ReadRulesets"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.rulesets.arn}/${local.key_prefix}*"]
  }

  dynamic "statement" {
    for_each = local.use_kms ? [1] : []
    content {
      sid       = "DecryptWithBucketKey"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_policy" "publisher" {
  name        = "${var.bucket_name}-edgeflag-publisher"
  description = "edgeflag publish to s3://${var.bucket_name}/${local.key_prefix}"
  policy      = data.aws_iam_policy_document.publisher.json
}

resource "aws_iam_policy" "reader" {
  name        = "${var.bucket_name}-edgeflag-reader"
  description = "read edgeflag rulesets from s3://${var.bucket_name}/${local.key_prefix}"
  policy      = data.aws_iam_policy_document.reader.json
}

resource "aws_iam_role_policy_attachment" "publisher" {
  for_each   = toset(var.publisher_role_names)
  role       = each.value
  policy_arn = aws_iam_policy.publisher.arn
}

resource "aws_iam_role_policy_attachment" "reader" {
  for_each   = toset(var.reader_role_names)
  role       = each.value
  policy_arn = aws_iam_policy.reader.arn
}
