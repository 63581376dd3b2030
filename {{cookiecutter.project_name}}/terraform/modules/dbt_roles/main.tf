data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  uses_secret = contains(["secrets_manager", "ecs_secrets"], var.credentials_source)

  redshift_arn = "arn:${local.partition}:redshift:${local.region}:${local.account_id}"
  provisioned  = var.warehouse.type == "provisioned"
  # The runner looks up an empty host from the cluster identifier.
  looks_up_host = local.provisioned && var.warehouse.host == ""

  docs_prefix_arn = "${var.docs_bucket_arn}/${var.docs_prefix}"
  upload_arn      = var.upload_prefix == "" ? "${local.docs_prefix_arn}/*" : "${local.docs_prefix_arn}/${var.upload_prefix}/*"
}

check "credentials_location_given" {
  assert {
    condition = (
      (local.uses_secret && var.credentials_secret_arn != "") ||
      (var.credentials_source == "ssm_parameter_store" && var.credentials_parameter_path != "") ||
      (var.credentials_source == "glue_connection" && var.glue_connection_name != "") ||
      var.credentials_source == "iam"
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
    resources = [local.upload_arn]
  }

  # Objects the task reads back (CI: the deployment's manifest and its own uploads).
  dynamic "statement" {
    for_each = length(var.read_keys) > 0 ? [1] : []

    content {
      sid       = "ReadDocsObjects"
      actions   = ["s3:GetObject"]
      resources = [for key in var.read_keys : "${local.docs_prefix_arn}/${key}"]
    }
  }

  dynamic "statement" {
    for_each = length(var.read_keys) > 0 ? [1] : []

    content {
      sid       = "DecryptDocsObjects"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
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

  dynamic "statement" {
    for_each = var.credentials_source == "ssm_parameter_store" ? [1] : []

    content {
      sid       = "DecryptTheCredentialParameters"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.looks_up_host ? [1] : []

    content {
      sid       = "LookUpTheClusterEndpoint"
      actions   = ["redshift:DescribeClusters"]
      resources = ["${local.redshift_arn}:cluster:${var.warehouse.id}"]
    }
  }

  # iam: temporary database credentials of exactly this user on exactly this
  # cluster and database; nothing else can be asked for.
  dynamic "statement" {
    for_each = var.credentials_source == "iam" && local.provisioned ? [1] : []

    content {
      sid     = "GetTemporaryDatabaseCredentials"
      actions = ["redshift:GetClusterCredentials"]
      resources = [
        "${local.redshift_arn}:dbuser:${var.warehouse.id}/${var.warehouse.user}",
        "${local.redshift_arn}:dbname:${var.warehouse.id}/${var.warehouse.database}",
      ]
    }
  }

  # Serverless names a workgroup by an ID AWS assigns, not by its name, so the
  # grant covers this account's workgroups in this region; the database user is
  # the task role itself (IAMR:<role name>), which grants.sql gives its rights.
  dynamic "statement" {
    for_each = var.credentials_source == "iam" && !local.provisioned ? [1] : []

    content {
      sid       = "GetTemporaryServerlessCredentials"
      actions   = ["redshift-serverless:GetCredentials"]
      resources = ["arn:${local.partition}:redshift-serverless:${local.region}:${local.account_id}:workgroup/*"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "run-dbt"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json

  lifecycle {
    precondition {
      condition     = var.credentials_source != "iam" || var.warehouse.id != ""
      error_message = "credentials_source iam needs the warehouse: set environments.json's warehouse.id (the Redshift cluster identifier or Serverless workgroup) of this environment."
    }
  }
}
