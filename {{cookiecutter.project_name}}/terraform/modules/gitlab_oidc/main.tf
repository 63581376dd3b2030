locals {
  # The issuer is the instance's URL; IAM names the condition keys after its host.
  issuer = trimprefix(trimsuffix(var.url, "/"), "https://")
  # GitLab's default subject: project_path:<group>/<project>:ref_type:<branch|tag>:ref:<name>.
  # Merge request pipelines run on their source branch: any branch of this project.
  plan_subjects = ["project_path:${var.project_path}:ref_type:branch:ref:*"]
  # Deploy jobs run on main only; protect the GitLab environments and main so
  # that only approvers run them.
  deploy_subjects = ["project_path:${var.project_path}:ref_type:branch:ref:main"]
  provider_arn    = var.create_provider ? aws_iam_openid_connect_provider.gitlab[0].arn : data.aws_iam_openid_connect_provider.gitlab[0].arn
}

# The jobs' ID tokens carry the instance URL as their audience (id_tokens: aud in .gitlab-ci.yml).
resource "aws_iam_openid_connect_provider" "gitlab" {
  count          = var.create_provider ? 1 : 0
  url            = "https://${local.issuer}"
  client_id_list = ["https://${local.issuer}"]
}

data "aws_iam_openid_connect_provider" "gitlab" {
  count = var.create_provider ? 0 : 1
  url   = "https://${local.issuer}"
}

data "aws_iam_policy_document" "trust" {
  for_each = {
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
      values   = ["https://${local.issuer}"]
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
  description          = "terraform plan and slim CI from merge requests of ${var.project_path}"
  assume_role_policy   = data.aws_iam_policy_document.trust["plan"].json
  max_session_duration = var.max_session_duration
}

resource "aws_iam_role" "deploy" {
  name                 = var.deploy_role_name
  description          = "Deployments of ${var.project_path} from main to ${var.environment}"
  assume_role_policy   = data.aws_iam_policy_document.trust["deploy"].json
  max_session_duration = var.max_session_duration
}

# The same policy as github_oidc's plan role: the root's ci_plan_policy module.
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
