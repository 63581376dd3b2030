data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  # Tasks of this cluster: arn:aws:ecs:<region>:<account>:task/<cluster>/<task id>.
  cluster_tasks = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:task/${var.cluster_name}/*"
}

data "aws_iam_policy_document" "this" {
  # Every revision of the family (":*"), so a new revision needs no policy
  # change; and only in the dbt cluster.
  statement {
    sid       = "RunTheDbtTask"
    actions   = ["ecs:RunTask"]
    resources = [var.task_definition_family_arn]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid       = "WatchAndStopItsTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = [local.cluster_tasks]
  }

  statement {
    sid       = "HandTheTwoRolesToEcs"
    actions   = ["iam:PassRole"]
    resources = var.pass_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReadTheTaskLogs"
    actions   = ["logs:GetLogEvents"]
    resources = ["${var.log_group_arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = var.publish_alerts ? [var.alerts_topic_arn] : []

    content {
      sid       = "PublishFailureAlerts"
      actions   = ["sns:Publish"]
      resources = [statement.value]
    }
  }

  # The topic is encrypted: publishing needs the key, through SNS only.
  dynamic "statement" {
    for_each = var.publish_alerts ? [var.kms_key_arn] : []

    content {
      sid       = "EncryptFailureAlerts"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sns.${data.aws_region.current.name}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_policy" "this" {
  name        = var.policy_name
  description = "Airflow runs the dbt ECS task, follows it and reads its logs"
  policy      = data.aws_iam_policy_document.this.json
}

resource "aws_iam_role_policy_attachment" "airflow" {
  count = var.airflow_role_name == "" ? 0 : 1

  role       = var.airflow_role_name
  policy_arn = aws_iam_policy.this.arn
}
