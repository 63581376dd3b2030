locals {
  issuer = "token.actions.githubusercontent.com"
  # A pull request's token says only "pull_request": the plan role trusts that and main.
  plan_subjects = [
    "repo:${var.repository}:pull_request",
    "repo:${var.repository}:ref:refs/heads/main",
  ]
  # A job that names a GitHub environment gets this subject, and only after the
  # environment's protection rules (required reviewers, branch policy) passed.
  deploy_subjects = ["repo:${var.repository}:environment:${var.environment}"]
  provider_arn    = var.create_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn
}

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.create_provider ? 1 : 0
  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_provider ? 0 : 1
  url   = "https://${local.issuer}"
}

data "aws_iam_policy_document" "trust" {
  for_each = {
    plan   = local.plan_subjects
    deploy = local.deploy_subjects
  }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "plan" {
  name                 = var.plan_role_name
  description          = "terraform plan and slim CI from pull requests of ${var.repository}"
  assume_role_policy   = data.aws_iam_policy_document.trust["plan"].json
  max_session_duration = var.max_session_duration
}

resource "aws_iam_role" "deploy" {
  name                 = var.deploy_role_name
  description          = "Deployments of ${var.repository} to GitHub environment ${var.environment}"
  assume_role_policy   = data.aws_iam_policy_document.trust["deploy"].json
  max_session_duration = var.max_session_duration
}

resource "aws_iam_role_policy_attachment" "plan" {
  for_each   = toset(var.plan_policy_arns)
  role       = aws_iam_role.plan.name
  policy_arn = each.value
}

resource "aws_iam_role_policy_attachment" "deploy" {
  for_each   = toset(var.deploy_policy_arns)
  role       = aws_iam_role.deploy.name
  policy_arn = each.value
}

# Read-only everywhere else, but a plan takes the state lock like an apply does:
# with S3 lock files that is writing and removing <key>.tflock beside the state.
data "aws_iam_policy_document" "state_lock" {
  statement {
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.state_bucket_arn}/*.tflock"]
  }
}

resource "aws_iam_role_policy" "plan_state_lock" {
  name   = "terraform-state-lock"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.state_lock.json
}
