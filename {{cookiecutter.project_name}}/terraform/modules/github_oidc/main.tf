locals {
  issuer = "token.actions.githubusercontent.com"
  # The repository's subject claim is customised to repo, context and ref (the
  # README's one-time `gh api` command), so each subject names the branch too.
  # `python scripts/ci.py oidc-subject-check` verifies the customisation.
  #
  # Pull requests (context "pull_request", ref their merge commit) and main.
  plan_subjects = [
    "repo:${var.repository}:pull_request:ref:refs/pull/*/merge",
    "repo:${var.repository}:ref:refs/heads/main:ref:refs/heads/main",
  ]
  # A job gets the environment context only after the GitHub environment's
  # protection rules passed, and the ref says it runs from main: a deployment
  # dispatched from any other branch cannot assume the role.
  deploy_subjects = ["repo:${var.repository}:environment:${var.environment}:ref:refs/heads/main"]
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
    # StringLike for the pull requests' numbers; the main subject has no wildcard.
    plan   = { test = "StringLike", subjects = local.plan_subjects }
    deploy = { test = "StringEquals", subjects = local.deploy_subjects }
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
      test     = each.value.test
      variable = "${local.issuer}:sub"
      values   = each.value.subjects
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
  description          = "Deployments of ${var.repository} from main to GitHub environment ${var.environment}"
  assume_role_policy   = data.aws_iam_policy_document.trust["deploy"].json
  max_session_duration = var.max_session_duration
}

# What a plan reads, named resource by resource, and the state lock: the root's
# ci_plan_policy module, shared with gitlab_oidc.
resource "aws_iam_role_policy" "plan" {
  name   = "terraform-plan"
  role   = aws_iam_role.plan.id
  policy = var.plan_policy_json
}

resource "aws_iam_role_policy_attachment" "deploy" {
  for_each   = toset(var.deploy_policy_arns)
  role       = aws_iam_role.deploy.name
  policy_arn = each.value
}
