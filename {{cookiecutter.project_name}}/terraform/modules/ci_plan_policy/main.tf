data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  arn        = "arn:${local.partition}"
  names      = var.names

  # Read-only metadata actions that AWS authorises on Resource "*" only: the
  # service has no resource type for them, so no policy can name one. The one
  # place this policy uses "*"; keep it this short.
  wildcard_only_actions = [
    "ec2:DescribeSecurityGroupRules", # the created security group's rules
    "ec2:DescribeSecurityGroups",     # the created security group
    "ec2:DescribeSubnets",            # data.aws_subnet of the security group
    "ec2:DescribeVpcs",               # data.aws_vpc of the security group
    "ecs:DescribeTaskDefinition",     # the task definition
    "iam:ListOpenIDConnectProviders", # data.aws_iam_openid_connect_provider (create_provider = false)
    "kms:ListAliases",                # the KMS key's alias
  ]

  state_bucket_arn = "${local.arn}:s3:::${local.names.state_bucket}"
  # The Makefile's backend key, and the S3 lock file beside it (use_lockfile).
  state_object_arn = "${local.state_bucket_arn}/${var.state_key}"
  lock_object_arn  = "${local.state_bucket_arn}/${var.state_key}.tflock"
  docs_bucket_arn  = "${local.arn}:s3:::${local.names.docs_bucket}"
  # Slim CI compares against this manifest; nothing else of the docs bucket is read.
  manifest_arn = "${local.docs_bucket_arn}/${var.docs_prefix}/latest/manifest.json"

  role_names = compact(concat(
    [local.names.task_role, local.names.execution_role, local.names.ci_plan_role, local.names.ci_deploy_role],
    [var.airflow_role_name],
  ))
  # KMS through S3 only: the state and the manifest, never a direct Decrypt.
  via_s3 = "s3.${local.region}.amazonaws.com"

  # Pull-request builds: the CI task's uploads and results, under <prefix>/ci/ only.
  pr            = var.pull_request_builds
  pr_builds     = var.pull_request_builds != null
  ci_prefix_arn = "${local.docs_bucket_arn}/${var.docs_prefix}/ci/*"
  ci_role_arns  = local.pr_builds ? [local.pr.task_role_arn, local.pr.execution_role_arn] : []
  ci_log_groups = local.pr_builds ? [local.pr.log_group_arn] : []
  ci_families   = local.pr_builds ? [local.pr.family_arn] : []
  # The secret's metadata (refresh), never its value: the deployment's and CI's.
  secret_arns = [
    for name in [local.names.credentials_secret, local.names.ci_credentials_secret] :
    "${local.arn}:secretsmanager:${local.region}:${local.account_id}:secret:${name}-??????"
  ]
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "MetadataWithoutResourceTypes"
    actions   = local.wildcard_only_actions
    resources = ["*"]
  }

  # The state: read it, and take and release this root's lock (a plan locks
  # like an apply). Nothing else in the state bucket is written.
  statement {
    sid       = "ListTheStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.state_bucket_arn]
  }

  statement {
    sid       = "ReadTheStateAndItsLock"
    actions   = ["s3:GetObject"]
    resources = [local.state_object_arn, local.lock_object_arn]
  }

  statement {
    sid       = "TakeAndReleaseTheStateLock"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = [local.lock_object_arn]
  }

  # The state key is made by terraform/bootstrap, so it is found by its alias.
  statement {
    sid       = "StateKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["${local.arn}:kms:${local.region}:${local.account_id}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.via_s3]
    }

    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:ResourceAliases"
      values   = ["alias/${local.names.state_kms_alias}"]
    }
  }

  # Refresh of every resource this root manages, each by its own ARN.
  statement {
    sid = "RefreshTheBuckets"
    actions = [
      "s3:GetAccelerateConfiguration",
      "s3:GetBucketAcl",
      "s3:GetBucketCORS",
      "s3:GetBucketLogging",
      "s3:GetBucketObjectLockConfiguration",
      "s3:GetBucketOwnershipControls",
      "s3:GetBucketPolicy",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetBucketRequestPayment",
      "s3:GetBucketTagging",
      "s3:GetBucketVersioning",
      "s3:GetBucketWebsite",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:ListBucket",
    ]
    resources = [local.docs_bucket_arn]
  }

  statement {
    sid       = "ReadTheProductionManifest"
    actions   = ["s3:GetObject"]
    resources = [local.manifest_arn]
  }

  statement {
    sid       = "DocsKeyThroughS3"
    actions   = ["kms:Decrypt"]
    resources = [var.docs_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.via_s3]
    }
  }

  statement {
    sid       = "RefreshTheKey"
    actions   = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"]
    resources = [var.docs_kms_key_arn]
  }

  statement {
    sid       = "RefreshTheRepository"
    actions   = ["ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy", "ecr:ListTagsForResource"]
    resources = ["${local.arn}:ecr:${local.region}:${local.account_id}:repository/${local.names.ecr_repository}"]
  }

  statement {
    sid     = "RefreshTheClusterAndTaskDefinition"
    actions = ["ecs:DescribeClusters", "ecs:ListTagsForResource"]
    resources = [
      "${local.arn}:ecs:${local.region}:${local.account_id}:cluster/${local.names.ecs_cluster}",
      "${local.arn}:ecs:${local.region}:${local.account_id}:task-definition/${local.names.task_family}:*",
      "${local.arn}:ecs:${local.region}:${local.account_id}:task-definition/${local.names.ci_task_family}:*",
    ]
  }

  # DescribeLogGroups is authorised on the account's log groups, never on one.
  statement {
    sid       = "FindTheLogGroup"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["${local.arn}:logs:${local.region}:${local.account_id}:log-group:*"]
  }

  statement {
    sid     = "RefreshTheLogGroup"
    actions = ["logs:ListTagsForResource", "logs:ListTagsLogGroup"]
    resources = flatten([
      for name in [local.names.log_group, local.names.ci_log_group] : [
        "${local.arn}:logs:${local.region}:${local.account_id}:log-group:${name}",
        "${local.arn}:logs:${local.region}:${local.account_id}:log-group:${name}:*",
      ]
    ])
  }

  statement {
    sid = "RefreshTheRoles"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
      "iam:ListRoleTags",
    ]
    resources = concat([for name in local.role_names : "${local.arn}:iam::${local.account_id}:role/${name}"], local.ci_role_arns)
  }

  statement {
    sid       = "RefreshTheAirflowPolicy"
    actions   = ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyTags", "iam:ListPolicyVersions"]
    resources = ["${local.arn}:iam::${local.account_id}:policy/${local.names.airflow_policy}"]
  }

  dynamic "statement" {
    for_each = length(var.oidc_provider_hosts) > 0 ? [1] : []

    content {
      sid       = "RefreshTheOidcProviders"
      actions   = ["iam:GetOpenIDConnectProvider"]
      resources = [for host in var.oidc_provider_hosts : "${local.arn}:iam::${local.account_id}:oidc-provider/${host}"]
    }
  }

  # The secrets' metadata only: never their values.
  statement {
    sid       = "RefreshTheSecrets"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"]
    resources = local.secret_arns
  }

  # data.aws_vpc of the security group reads the VPC's DNS attributes.
  statement {
    sid       = "ReadTheVpcAttributes"
    actions   = ["ec2:DescribeVpcAttribute"]
    resources = ["${local.arn}:ec2:${local.region}:${local.account_id}:vpc/*"]
  }

  statement {
    sid       = "RefreshTheAlertsTopic"
    actions   = ["sns:GetTopicAttributes", "sns:ListTagsForResource"]
    resources = ["${local.arn}:sns:${local.region}:${local.account_id}:${local.names.alerts_topic}"]
  }
  # ---- pull-request builds: what `make ci-remote` and `make ci-cleanup` call ----
  # The CI family only, in this cluster only, with the CI roles only; its uploads
  # and results under <prefix>/ci/ only; its log group only. Never the deployment's.

  dynamic "statement" {
    for_each = local.pr_builds ? [1] : []

    content {
      sid       = "ShipAndReadPullRequestBuilds"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = [local.ci_prefix_arn]
    }
  }

  dynamic "statement" {
    for_each = local.pr_builds ? [1] : []

    content {
      sid       = "EncryptPullRequestUploadsThroughS3"
      actions   = ["kms:GenerateDataKey"]
      resources = [var.docs_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.via_s3]
      }
    }
  }

  dynamic "statement" {
    for_each = local.pr_builds ? [1] : []

    content {
      sid       = "RunTheCiTaskInTheCluster"
      actions   = ["ecs:RunTask"]
      resources = local.ci_families

      condition {
        test     = "ArnEquals"
        variable = "ecs:cluster"
        values   = [local.pr.cluster_arn]
      }
    }
  }

  dynamic "statement" {
    for_each = local.pr_builds ? [1] : []

    content {
      sid       = "PassTheCiRolesToEcs"
      actions   = ["iam:PassRole"]
      resources = local.ci_role_arns

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["ecs-tasks.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.pr_builds ? [1] : []

    content {
      sid       = "WatchAndStopTasksInTheCluster"
      actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
      resources = ["${local.arn}:ecs:${local.region}:${local.account_id}:task/${local.pr.cluster_name}/*"]

      condition {
        test     = "ArnEquals"
        variable = "ecs:cluster"
        values   = [local.pr.cluster_arn]
      }
    }
  }

  dynamic "statement" {
    for_each = local.pr_builds ? [1] : []

    content {
      sid     = "ReadTheCiTaskLogs"
      actions = ["logs:FilterLogEvents", "logs:GetLogEvents"]
      # FilterLogEvents is authorised on the group, GetLogEvents on its streams.
      resources = flatten([for arn in local.ci_log_groups : [arn, "${arn}:*"]])
    }
  }
}
