data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.alias}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:This is a key policy: its "*" resource is this key alone, and the account root must administer it.
  #checkov:skip=CKV_AWS_111:This is a key policy: its "*" resource is this key alone, and CloudWatch Logs' use is bound to named log groups.
  #checkov:skip=CKV_AWS_356:This is a key policy: a key policy names its resource as "*", meaning this key alone.
  # The account's IAM policies decide who uses the key; without this statement
  # nobody could administer it. In a key policy, "*" means this key only.
  statement {
    sid       = "AccountIamPoliciesGovernTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts on its own behalf, so the service needs the key,
  # but only for the log groups named here.
  dynamic "statement" {
    for_each = length(var.log_group_names) > 0 ? [1] : []

    content {
      sid = "CloudWatchLogsForTheseLogGroups"
      actions = [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:Describe*",
      ]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = ["logs.${local.region}.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values = [
          for name in var.log_group_names :
          "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${name}"
        ]
      }
    }
  }
}
