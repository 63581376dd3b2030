data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  uses_secret = contains(["secrets_manager", "ecs_secrets"], var.credentials_source)
}

check "credentials_location_given" {
  assert {
    condition = (
      (local.uses_secret && var.credentials_secret_arn != "") ||
      (var.credentials_source == "ssm_parameter_store" && var.credentials_parameter_path != "") ||
      (var.credentials_source == "glue_connection" && var.glue_connection_name != "")
    )
    error_message = "credentials_source ${var.credentials_source} needs its secret ARN, parameter path or Glue connection name."
  }
}

# Only ECS tasks of this account may assume the roles (no confused deputy).
data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# ---- execution role: what ECS needs to start the container ------------------

resource "aws_iam_role" "execution" {
  name                 = var.execution_role_name
  description          = "ECS pulls the dbt image, writes its logs and injects its secrets"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "execution" {
  # GetAuthorizationToken has no resource-level permissions: AWS accepts only "*".
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullTheDbtImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.repository_arn]
  }

  statement {
    sid       = "WriteContainerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = var.credentials_source == "ecs_secrets" ? [1] : []

    content {
      sid       = "InjectTheCredentialsSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.credentials_secret_arn]
    }
  }

  dynamic "statement" {
    for_each = var.credentials_source == "ecs_secrets" ? [1] : []

    content {
      sid       = "DecryptTheCredentialsSecret"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "start-dbt-task"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# ---- task role: what dbt itself calls ---------------------------------------

resource "aws_iam_role" "task" {
  name                 = var.task_role_name
  description          = "The dbt process: reads the warehouse credentials, uploads docs and artifacts"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "UploadDocsAndArtifacts"
    actions   = ["s3:PutObject"]
    resources = ["${var.docs_bucket_arn}/${var.docs_prefix}/*"]
  }

  statement {
    sid       = "EncryptUploads"
    actions   = ["kms:GenerateDataKey"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = var.credentials_source == "secrets_manager" ? [1] : []

    content {
      sid       = "ReadTheCredentialsSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.credentials_secret_arn]
    }
  }

  dynamic "statement" {
    for_each = var.credentials_source == "secrets_manager" ? [1] : []

    content {
      sid       = "DecryptTheCredentialsSecret"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.credentials_source == "ssm_parameter_store" ? [1] : []

    content {
      sid     = "ReadTheCredentialParameters"
      actions = ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"]
      # The path itself (for GetParametersByPath) and every parameter below it.
      resources = [
        "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.credentials_parameter_path}",
        "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.credentials_parameter_path}/*",
      ]
    }
  }

  dynamic "statement" {
    for_each = var.credentials_source == "glue_connection" ? [1] : []

    content {
      sid     = "ReadTheGlueConnection"
      actions = ["glue:GetConnection"]
      # Glue authorises a connection read against the catalog and the connection.
      resources = [
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:connection/${var.glue_connection_name}",
      ]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "run-dbt"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
