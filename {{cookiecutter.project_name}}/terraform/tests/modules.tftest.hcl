# Each module on its own, with a mock AWS provider: no account, no network.
# `terraform test` (or `make tf-check`) runs it.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111111111111" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  # The provider checks that policies are JSON; the tests read the statements.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_vpc" {
    defaults = { cidr_block = "10.20.0.0/16" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111111111111:role/mock" }
  }
  mock_resource "aws_iam_policy" {
    defaults = { arn = "arn:aws:iam::111111111111:policy/mock" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111111111111:log-group:/ecs/mock" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = {
      arn                  = "arn:aws:ecs:eu-west-1:111111111111:task-definition/mock:1"
      arn_without_revision = "arn:aws:ecs:eu-west-1:111111111111:task-definition/mock"
    }
  }
}

variables {
  repository_arn  = "arn:aws:ecr:eu-west-1:111111111111:repository/mock"
  log_group_arn   = "arn:aws:logs:eu-west-1:111111111111:log-group:/ecs/mock"
  kms_key_arn     = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
  docs_bucket_arn = "arn:aws:s3:::mock-docs"
  secret_arn      = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:mock/dev/warehouse-AbCdEf"
  warehouse       = { type = "provisioned", id = "mock-dev", host = "", database = "analytics", user = "dbt_deploy" }
}

run "task_definition_is_fargate_awsvpc_with_logs" {
  command = apply

  module {
    source = "./modules/dbt_task"
  }

  variables {
    family                = "mock-dbt"
    container_name        = "dbt"
    image                 = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/mock"
    image_tag             = "0123abc"
    cpu                   = 512
    memory                = 1024
    cpu_architecture      = "ARM64"
    execution_role_arn    = "arn:aws:iam::111111111111:role/execution"
    task_role_arn         = "arn:aws:iam::111111111111:role/task"
    log_group_name        = "/ecs/mock-dbt"
    environment_variables = { ENV = "dev" }
    secrets               = { DBT_ENV_SECRET_REDSHIFT_PASSWORD = "${var.secret_arn}:password::" }
  }

  assert {
    condition     = aws_ecs_task_definition.this.requires_compatibilities == toset(["FARGATE"]) && aws_ecs_task_definition.this.network_mode == "awsvpc"
    error_message = "The task must be Fargate with awsvpc networking."
  }

  assert {
    condition     = aws_ecs_task_definition.this.cpu == "512" && aws_ecs_task_definition.this.memory == "1024" && aws_ecs_task_definition.this.runtime_platform[0].cpu_architecture == "ARM64"
    error_message = "CPU, memory and architecture must be the ones given."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.logDriver == "awslogs" && jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.options["awslogs-group"] == "/ecs/mock-dbt"
    error_message = "The container must log to its log group through awslogs."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.retention_in_days == 365 && aws_cloudwatch_log_group.this.kms_key_id != null
    error_message = "The log group must have a retention and a KMS key."
  }

  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "ENV", value = "dev" })
    error_message = "ENV must be in the container's environment."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].image == "111111111111.dkr.ecr.eu-west-1.amazonaws.com/mock:0123abc"
    error_message = "The image must be the repository at the given tag."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets == [{ name = "DBT_ENV_SECRET_REDSHIFT_PASSWORD", valueFrom = "${var.secret_arn}:password::" }]
    error_message = "Secrets must be injected by ECS from their ARNs."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem
    error_message = "The root filesystem must be read-only."
  }

  assert {
    condition     = output.family_arn == "arn:aws:ecs:eu-west-1:111111111111:task-definition/mock:*"
    error_message = "family_arn must match every revision of the family."
  }
}

run "task_definition_rejects_non_fargate_cpu" {
  command = plan

  module {
    source = "./modules/dbt_task"
  }

  variables {
    family             = "mock-dbt"
    container_name     = "dbt"
    image              = "mock"
    image_tag          = "0123abc"
    cpu                = 300
    memory             = 1024
    cpu_architecture   = "X86_64"
    execution_role_arn = "arn:aws:iam::111111111111:role/execution"
    task_role_arn      = "arn:aws:iam::111111111111:role/task"
    log_group_name     = "/ecs/mock-dbt"
    kms_key_arn        = "arn:aws:kms:eu-west-1:111111111111:key/mock"
  }

  expect_failures = [var.cpu]
}

run "roles_scoped_with_secrets_manager" {
  command = apply

  module {
    source = "./modules/dbt_roles"
  }

  variables {
    task_role_name         = "mock-dev-dbt-task"
    execution_role_name    = "mock-dev-dbt-execution"
    docs_prefix            = "mock/dev"
    credentials_source     = "secrets_manager"
    credentials_secret_arn = var.secret_arn
  }

  # ecr:GetAuthorizationToken has no resource-level permissions: the one "*".
  assert {
    condition = alltrue(flatten([
      for document in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : [
        for statement in document.statement :
        !contains(statement.resources, "*") || statement.actions == toset(["ecr:GetAuthorizationToken"])
      ]
    ]))
    error_message = "Every statement must name its resources; only ecr:GetAuthorizationToken may use *."
  }

  assert {
    condition = alltrue(flatten([
      for document in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : [
        for statement in document.statement : [for action in statement.actions : !strcontains(action, "*")]
      ]
    ]))
    error_message = "No action may be a wildcard."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.task.statement : s.sid if contains(s.resources, var.secret_arn)], "ReadTheCredentialsSecret")
    error_message = "The task role must read the credentials from exactly where secrets_manager keeps them."
  }

  assert {
    condition     = length([for d in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : d if anytrue([for s in d.statement : anytrue([for a in s.actions : startswith(a, "secretsmanager:") || startswith(a, "ssm:") || startswith(a, "glue:")])])]) == 1
    error_message = "Only one of the two roles may read the credentials."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.task.statement : s.sid if s.actions == toset(["s3:PutObject"]) && s.resources == toset(["arn:aws:s3:::mock-docs/mock/dev/*"])], "UploadDocsAndArtifacts")
    error_message = "The task may put objects under its docs prefix only."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.execution.statement : s.sid if s.resources == toset(["${var.log_group_arn}:log-stream:*"])], "WriteContainerLogs")
    error_message = "The execution role may write to the dbt log group's streams only."
  }
}

run "roles_scoped_with_ssm_parameter_store" {
  command = apply

  module {
    source = "./modules/dbt_roles"
  }

  variables {
    task_role_name             = "mock-dev-dbt-task"
    execution_role_name        = "mock-dev-dbt-execution"
    docs_prefix                = "mock/dev"
    credentials_source         = "ssm_parameter_store"
    credentials_parameter_path = "/mock/dev/warehouse"
  }

  # ecr:GetAuthorizationToken has no resource-level permissions: the one "*".
  assert {
    condition = alltrue(flatten([
      for document in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : [
        for statement in document.statement :
        !contains(statement.resources, "*") || statement.actions == toset(["ecr:GetAuthorizationToken"])
      ]
    ]))
    error_message = "Every statement must name its resources; only ecr:GetAuthorizationToken may use *."
  }

  assert {
    condition = alltrue(flatten([
      for document in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : [
        for statement in document.statement : [for action in statement.actions : !strcontains(action, "*")]
      ]
    ]))
    error_message = "No action may be a wildcard."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.task.statement : s.sid if contains(s.resources, "arn:aws:ssm:eu-west-1:111111111111:parameter/mock/dev/warehouse/*")], "ReadTheCredentialParameters")
    error_message = "The task role must read the credentials from exactly where ssm_parameter_store keeps them."
  }

  assert {
    condition     = length([for d in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : d if anytrue([for s in d.statement : anytrue([for a in s.actions : startswith(a, "secretsmanager:") || startswith(a, "ssm:") || startswith(a, "glue:")])])]) == 1
    error_message = "Only one of the two roles may read the credentials."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.task.statement : s.sid if s.actions == toset(["s3:PutObject"]) && s.resources == toset(["arn:aws:s3:::mock-docs/mock/dev/*"])], "UploadDocsAndArtifacts")
    error_message = "The task may put objects under its docs prefix only."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.execution.statement : s.sid if s.resources == toset(["${var.log_group_arn}:log-stream:*"])], "WriteContainerLogs")
    error_message = "The execution role may write to the dbt log group's streams only."
  }
}

run "roles_scoped_with_glue_connection" {
  command = apply

  module {
    source = "./modules/dbt_roles"
  }

  variables {
    task_role_name       = "mock-dev-dbt-task"
    execution_role_name  = "mock-dev-dbt-execution"
    docs_prefix          = "mock/dev"
    credentials_source   = "glue_connection"
    glue_connection_name = "mock-dev-warehouse"
  }

  # ecr:GetAuthorizationToken has no resource-level permissions: the one "*".
  assert {
    condition = alltrue(flatten([
      for document in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : [
        for statement in document.statement :
        !contains(statement.resources, "*") || statement.actions == toset(["ecr:GetAuthorizationToken"])
      ]
    ]))
    error_message = "Every statement must name its resources; only ecr:GetAuthorizationToken may use *."
  }

  assert {
    condition = alltrue(flatten([
      for document in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : [
        for statement in document.statement : [for action in statement.actions : !strcontains(action, "*")]
      ]
    ]))
    error_message = "No action may be a wildcard."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.task.statement : s.sid if contains(s.resources, "arn:aws:glue:eu-west-1:111111111111:connection/mock-dev-warehouse")], "ReadTheGlueConnection")
    error_message = "The task role must read the credentials from exactly where glue_connection keeps them."
  }

  assert {
    condition     = length([for d in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : d if anytrue([for s in d.statement : anytrue([for a in s.actions : startswith(a, "secretsmanager:") || startswith(a, "ssm:") || startswith(a, "glue:")])])]) == 1
    error_message = "Only one of the two roles may read the credentials."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.task.statement : s.sid if s.actions == toset(["s3:PutObject"]) && s.resources == toset(["arn:aws:s3:::mock-docs/mock/dev/*"])], "UploadDocsAndArtifacts")
    error_message = "The task may put objects under its docs prefix only."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.execution.statement : s.sid if s.resources == toset(["${var.log_group_arn}:log-stream:*"])], "WriteContainerLogs")
    error_message = "The execution role may write to the dbt log group's streams only."
  }
}

run "roles_scoped_with_ecs_secrets" {
  command = apply

  module {
    source = "./modules/dbt_roles"
  }

  variables {
    task_role_name         = "mock-dev-dbt-task"
    execution_role_name    = "mock-dev-dbt-execution"
    docs_prefix            = "mock/dev"
    credentials_source     = "ecs_secrets"
    credentials_secret_arn = var.secret_arn
  }

  # ecr:GetAuthorizationToken has no resource-level permissions: the one "*".
  assert {
    condition = alltrue(flatten([
      for document in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : [
        for statement in document.statement :
        !contains(statement.resources, "*") || statement.actions == toset(["ecr:GetAuthorizationToken"])
      ]
    ]))
    error_message = "Every statement must name its resources; only ecr:GetAuthorizationToken may use *."
  }

  assert {
    condition = alltrue(flatten([
      for document in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : [
        for statement in document.statement : [for action in statement.actions : !strcontains(action, "*")]
      ]
    ]))
    error_message = "No action may be a wildcard."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.execution.statement : s.sid if contains(s.resources, var.secret_arn)], "InjectTheCredentialsSecret")
    error_message = "The execution role must read the credentials from exactly where ecs_secrets keeps them."
  }

  assert {
    condition     = length([for d in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : d if anytrue([for s in d.statement : anytrue([for a in s.actions : startswith(a, "secretsmanager:") || startswith(a, "ssm:") || startswith(a, "glue:")])])]) == 1
    error_message = "Only one of the two roles may read the credentials."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.task.statement : s.sid if s.actions == toset(["s3:PutObject"]) && s.resources == toset(["arn:aws:s3:::mock-docs/mock/dev/*"])], "UploadDocsAndArtifacts")
    error_message = "The task may put objects under its docs prefix only."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.execution.statement : s.sid if s.resources == toset(["${var.log_group_arn}:log-stream:*"])], "WriteContainerLogs")
    error_message = "The execution role may write to the dbt log group's streams only."
  }
}

run "roles_scoped_with_iam_on_a_cluster" {
  command = apply

  module {
    source = "./modules/dbt_roles"
  }

  variables {
    task_role_name      = "mock-dev-dbt-task"
    execution_role_name = "mock-dev-dbt-execution"
    docs_prefix         = "mock/dev"
    credentials_source  = "iam"
  }

  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.task.statement : s.actions == toset(["redshift:GetClusterCredentials"]) && s.resources == toset([
      "arn:aws:redshift:eu-west-1:111111111111:dbuser:mock-dev/dbt_deploy",
      "arn:aws:redshift:eu-west-1:111111111111:dbname:mock-dev/analytics",
    ])])
    error_message = "iam: temporary credentials of exactly the deployment user on exactly this cluster and database."
  }

  assert {
    condition     = anytrue([for s in data.aws_iam_policy_document.task.statement : s.actions == toset(["redshift:DescribeClusters"]) && s.resources == toset(["arn:aws:redshift:eu-west-1:111111111111:cluster:mock-dev"])])
    error_message = "An empty host is looked up from exactly this cluster."
  }

  assert {
    condition     = !anytrue(flatten([for d in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.execution] : [for s in d.statement : [for a in s.actions : startswith(a, "secretsmanager:") || startswith(a, "ssm:") || startswith(a, "glue:") || a == "kms:Decrypt"]]]))
    error_message = "iam stores nothing: no role reads a secret, a parameter or a Glue connection."
  }
}

run "roles_scoped_with_iam_on_serverless" {
  command = apply

  module {
    source = "./modules/dbt_roles"
  }

  variables {
    task_role_name      = "mock-dev-dbt-task"
    execution_role_name = "mock-dev-dbt-execution"
    docs_prefix         = "mock/dev"
    credentials_source  = "iam"
    warehouse           = { type = "serverless", id = "wg-dev", host = "wg-dev.111111111111.eu-west-1.redshift-serverless.amazonaws.com", database = "analytics", user = "dbt_deploy" }
  }

  assert {
    condition     = anytrue([for s in data.aws_iam_policy_document.task.statement : s.actions == toset(["redshift-serverless:GetCredentials"]) && s.resources == toset(["arn:aws:redshift-serverless:eu-west-1:111111111111:workgroup/*"])])
    error_message = "iam on Serverless: GetCredentials on this account's workgroups in this region."
  }

  assert {
    condition     = !anytrue(flatten([for s in data.aws_iam_policy_document.task.statement : [for a in s.actions : startswith(a, "redshift:")]]))
    error_message = "Serverless needs no cluster call."
  }
}

run "iam_needs_the_warehouse_id" {
  command = plan

  module {
    source = "./modules/dbt_roles"
  }

  variables {
    task_role_name      = "mock-dev-dbt-task"
    execution_role_name = "mock-dev-dbt-execution"
    docs_prefix         = "mock/dev"
    credentials_source  = "iam"
    warehouse           = { type = "provisioned", id = "", host = "", database = "analytics", user = "dbt_deploy" }
  }

  expect_failures = [aws_iam_role_policy.task]
}

run "ci_roles_read_the_manifest_and_write_ci_only" {
  command = apply

  module {
    source = "./modules/dbt_roles"
  }

  variables {
    task_role_name         = "mock-dev-dbt-ci-task"
    execution_role_name    = "mock-dev-dbt-ci-exec"
    docs_prefix            = "mock/dev"
    upload_prefix          = "ci"
    read_keys              = ["latest/manifest.json", "ci/*"]
    credentials_source     = "secrets_manager"
    credentials_secret_arn = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:mock/dev/warehouse-ci-AbCdEf"
    warehouse              = { type = "provisioned", id = "mock-dev", host = "", database = "analytics", user = "dbt_ci" }
  }

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.task.statement : s.resources if contains(s.actions, "s3:PutObject")])) == toset(["arn:aws:s3:::mock-docs/mock/dev/ci/*"])
    error_message = "The CI task puts objects under ci/ only."
  }

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.task.statement : s.resources if contains(s.actions, "s3:GetObject")])) == toset(["arn:aws:s3:::mock-docs/mock/dev/latest/manifest.json", "arn:aws:s3:::mock-docs/mock/dev/ci/*"])
    error_message = "The CI task reads the latest manifest and ci/ only."
  }

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.task.statement : s.resources if contains(s.actions, "secretsmanager:GetSecretValue")])) == toset(["arn:aws:secretsmanager:eu-west-1:111111111111:secret:mock/dev/warehouse-ci-AbCdEf"])
    error_message = "The CI task reads CI's secret only."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.task.statement : contains([for c in s.condition : c.variable], "kms:ViaService") if contains(s.actions, "kms:Decrypt") || contains(s.actions, "kms:GenerateDataKey")])
    error_message = "KMS only through S3 or Secrets Manager."
  }
}

run "roles_need_the_credentials_location" {
  command = plan

  module {
    source = "./modules/dbt_roles"
  }

  variables {
    task_role_name      = "mock-dev-dbt-task"
    execution_role_name = "mock-dev-dbt-execution"
    docs_prefix         = "mock/dev"
    credentials_source  = "glue_connection"
  }

  expect_failures = [check.credentials_location_given]
}

run "airflow_runs_every_revision_in_its_cluster_only" {
  command = apply

  module {
    source = "./modules/airflow_runner"
  }

  variables {
    policy_name                = "mock-dev-run-dbt"
    airflow_role_name          = "airflow"
    task_definition_family_arn = "arn:aws:ecs:eu-west-1:111111111111:task-definition/mock-dev-dbt:*"
    cluster_arn                = "arn:aws:ecs:eu-west-1:111111111111:cluster/mock-dev"
    cluster_name               = "mock-dev"
    pass_role_arns             = ["arn:aws:iam::111111111111:role/task", "arn:aws:iam::111111111111:role/execution"]
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "RunTheDbtTask"][0] == toset(["arn:aws:ecs:eu-west-1:111111111111:task-definition/mock-dev-dbt:*"])
    error_message = "RunTask must name the family's revisions, not one revision and not *."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : one(s.condition) if s.sid == "RunTheDbtTask"][0].variable == "ecs:cluster" && [for s in data.aws_iam_policy_document.this.statement : one(s.condition) if s.sid == "RunTheDbtTask"][0].values == tolist(["arn:aws:ecs:eu-west-1:111111111111:cluster/mock-dev"])
    error_message = "RunTask must be limited to the dbt cluster."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "HandTheTwoRolesToEcs"][0] == toset(["arn:aws:iam::111111111111:role/task", "arn:aws:iam::111111111111:role/execution"])
    error_message = "PassRole must name exactly the two roles."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.this.statement : !contains(s.resources, "*")])
    error_message = "No statement may use the resource *."
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.airflow) == 1 && aws_iam_role_policy_attachment.airflow[0].role == "airflow"
    error_message = "With airflow_role_name the policy is attached to that role."
  }
}

run "airflow_policy_only_without_a_role_name" {
  command = plan

  module {
    source = "./modules/airflow_runner"
  }

  variables {
    policy_name                = "mock-dev-run-dbt"
    task_definition_family_arn = "arn:aws:ecs:eu-west-1:111111111111:task-definition/mock-dev-dbt:*"
    cluster_arn                = "arn:aws:ecs:eu-west-1:111111111111:cluster/mock-dev"
    cluster_name               = "mock-dev"
    pass_role_arns             = ["arn:aws:iam::111111111111:role/task", "arn:aws:iam::111111111111:role/execution"]
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.airflow) == 0
    error_message = "Without airflow_role_name only the policy is created."
  }
}

run "airflow_rejects_a_single_revision" {
  command = plan

  module {
    source = "./modules/airflow_runner"
  }

  variables {
    policy_name                = "mock-dev-run-dbt"
    task_definition_family_arn = "arn:aws:ecs:eu-west-1:111111111111:task-definition/mock-dev-dbt:3"
    cluster_arn                = "arn:aws:ecs:eu-west-1:111111111111:cluster/mock-dev"
    cluster_name               = "mock-dev"
    pass_role_arns             = ["arn:aws:iam::111111111111:role/task", "arn:aws:iam::111111111111:role/execution"]
  }

  expect_failures = [var.task_definition_family_arn]
}

run "docs_bucket_private_encrypted_versioned_tls_only" {
  command = apply

  module {
    source = "./modules/s3_bucket"
  }

  variables {
    name              = "mock-dev-docs-111111111111"
    expiring_prefixes = { "mock/dev/runs/" = 90 }
  }

  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be on."
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "All public access must be blocked."
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "Default encryption must be SSE-KMS."
  }

  assert {
    condition     = contains([for r in aws_s3_bucket_lifecycle_configuration.this.rule : one(r.filter).prefix if one(r.expiration[*].days) == 90], "mock/dev/runs/")
    error_message = "Objects under runs/ must expire."
  }

  assert {
    condition     = one(data.aws_iam_policy_document.tls_only.statement).effect == "Deny" && one(one(data.aws_iam_policy_document.tls_only.statement).condition).variable == "aws:SecureTransport"
    error_message = "The bucket policy must deny requests without TLS."
  }
}

run "ecr_immutable_scanned" {
  command = apply

  module {
    source = "./modules/ecr"
  }

  variables {
    name = "mock-dev"
  }

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE" && aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "Tags must be immutable and every push scanned."
  }

  assert {
    condition     = length(jsondecode(aws_ecr_lifecycle_policy.this.policy).rules) == 2
    error_message = "The lifecycle policy must expire untagged and old images."
  }
}

run "cluster_has_container_insights" {
  command = apply

  module {
    source = "./modules/ecs_cluster"
  }

  variables {
    name             = "mock-dev"
    use_fargate_spot = true
  }

  assert {
    condition     = contains([for s in aws_ecs_cluster.this.setting : s.value if s.name == "containerInsights"], "enabled")
    error_message = "Container Insights must be on."
  }

  assert {
    condition     = one(aws_ecs_cluster_capacity_providers.this.default_capacity_provider_strategy).capacity_provider == "FARGATE_SPOT"
    error_message = "use_fargate_spot must make FARGATE_SPOT the default."
  }
}

run "security_group_egress_only" {
  command = apply

  module {
    source = "./modules/task_security_group"
  }

  variables {
    name           = "mock-dev-dbt"
    subnet_id      = "subnet-0a1b2c3d4e5f60718"
    warehouse_port = 5439
  }

  assert {
    condition     = length(aws_security_group.this.ingress) == 0
    error_message = "The task accepts no inbound traffic."
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.warehouse["10.20.0.0/16"].from_port == 5439
    error_message = "Egress to the warehouse port, in the VPC's CIDR block by default."
  }
}

run "github_roles_trust_only_this_repository_and_main" {
  command = apply

  module {
    source = "./modules/github_oidc"
  }

  variables {
    repository         = "example-org/analytics-dbt"
    environment        = "live"
    plan_role_name     = "mock-live-ci-plan"
    deploy_role_name   = "mock-live-ci-deploy"
    deploy_policy_arns = []
    plan_policy_json   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::mock\"}]}"
  }

  # The subject claim is customised to repo, context and ref (github_oidc/README.md).
  assert {
    condition     = [for c in data.aws_iam_policy_document.trust["deploy"].statement[0].condition : c.values if c.variable == "token.actions.githubusercontent.com:sub" && c.test == "StringEquals"][0] == tolist(["repo:example-org/analytics-dbt:environment:live:ref:refs/heads/main"])
    error_message = "Only jobs on main in this repository's GitHub environment may assume the deploy role."
  }

  assert {
    condition     = toset([for c in data.aws_iam_policy_document.trust["plan"].statement[0].condition : c.values if c.variable == "token.actions.githubusercontent.com:sub"][0]) == toset(["repo:example-org/analytics-dbt:pull_request:ref:refs/pull/*/merge", "repo:example-org/analytics-dbt:ref:refs/heads/main:ref:refs/heads/main"])
    error_message = "Only this repository's pull requests and main may assume the plan role."
  }

  assert {
    condition     = [for c in data.aws_iam_policy_document.trust["deploy"].statement[0].condition : c.values if c.variable == "token.actions.githubusercontent.com:aud"][0] == tolist(["sts.amazonaws.com"])
    error_message = "The token's audience must be STS."
  }

  assert {
    condition     = length(aws_iam_openid_connect_provider.github) == 1 && length(aws_iam_role_policy_attachment.deploy) == 0
    error_message = "The provider is created, and the deploy role gets no permissions unless they are chosen."
  }

  assert {
    condition     = aws_iam_role_policy.plan.policy == var.plan_policy_json && aws_iam_role_policy.plan.role == aws_iam_role.plan.id
    error_message = "The plan role's only permissions are the policy given (no managed read-only policy)."
  }
}

run "gitlab_roles_trust_only_this_project_and_main" {
  command = apply

  module {
    source = "./modules/gitlab_oidc"
  }

  variables {
    project_path       = "data/analytics-dbt"
    environment        = "live"
    plan_role_name     = "mock-live-ci-plan"
    deploy_role_name   = "mock-live-ci-deploy"
    deploy_policy_arns = []
    plan_policy_json   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::mock\"}]}"
  }

  assert {
    condition     = aws_iam_openid_connect_provider.gitlab[0].url == "https://gitlab.com" && aws_iam_openid_connect_provider.gitlab[0].client_id_list == toset(["https://gitlab.com"])
    error_message = "The provider is gitlab.com's, with the instance URL as the audience."
  }

  assert {
    condition     = [for c in data.aws_iam_policy_document.trust["deploy"].statement[0].condition : c.values if c.variable == "gitlab.com:sub" && c.test == "StringEquals"][0] == tolist(["project_path:data/analytics-dbt:ref_type:branch:ref:main"])
    error_message = "Only this project's main may assume the deploy role."
  }

  assert {
    condition     = [for c in data.aws_iam_policy_document.trust["plan"].statement[0].condition : c.values if c.variable == "gitlab.com:sub"][0] == tolist(["project_path:data/analytics-dbt:ref_type:branch:ref:*"])
    error_message = "Only this project's branches (merge requests) may assume the plan role."
  }

  assert {
    condition     = alltrue([for k, d in data.aws_iam_policy_document.trust : [for c in d.statement[0].condition : c.values if c.variable == "gitlab.com:aud"][0] == tolist(["https://gitlab.com"])])
    error_message = "The token's audience must be the GitLab instance."
  }

  assert {
    condition     = aws_iam_role_policy.plan.policy == var.plan_policy_json && length(aws_iam_role_policy_attachment.deploy) == 0
    error_message = "The plan role gets the policy given, the deploy role nothing unless chosen."
  }
}

run "gitlab_rejects_a_project_without_group" {
  command = plan

  module {
    source = "./modules/gitlab_oidc"
  }

  variables {
    project_path       = "analytics-dbt"
    environment        = "live"
    plan_role_name     = "mock-live-ci-plan"
    deploy_role_name   = "mock-live-ci-deploy"
    deploy_policy_arns = []
    plan_policy_json   = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }

  expect_failures = [var.project_path]
}

run "ci_plan_policy_reads_metadata_and_takes_only_its_lock" {
  command = apply

  module {
    source = "./modules/ci_plan_policy"
  }

  variables {
    docs_prefix         = "mock/live"
    docs_kms_key_arn    = var.kms_key_arn
    oidc_provider_hosts = ["token.actions.githubusercontent.com"]
    names = {
      state_bucket          = "mock-live-tfstate-111111111111"
      state_kms_alias       = "mock-live-tfstate"
      docs_bucket           = "mock-live-docs-111111111111"
      ecr_repository        = "mock-live"
      ecs_cluster           = "mock-live"
      task_family           = "mock-live-dbt"
      log_group             = "/ecs/mock-live-dbt"
      task_role             = "mock-live-dbt-task"
      execution_role        = "mock-live-dbt-execution"
      ci_plan_role          = "mock-live-ci-plan"
      ci_deploy_role        = "mock-live-ci-deploy"
      airflow_policy        = "mock-live-run-dbt"
      credentials_secret    = "mock/live/warehouse"
      alerts_topic          = "mock-live-dbt-alerts"
      ci_task_family        = "mock-live-dbt-ci"
      ci_task_role          = "mock-live-dbt-ci-task"
      ci_log_group          = "/ecs/mock-live-dbt-ci"
      ci_credentials_secret = "mock/live/warehouse-ci"
    }
    pull_request_builds = {
      cluster_arn        = "arn:aws:ecs:eu-west-1:111111111111:cluster/mock-live"
      cluster_name       = "mock-live"
      family_arn         = "arn:aws:ecs:eu-west-1:111111111111:task-definition/mock-live-dbt-ci:*"
      task_role_arn      = "arn:aws:iam::111111111111:role/mock-live-dbt-ci-task"
      execution_role_arn = "arn:aws:iam::111111111111:role/mock-live-dbt-ci-exec"
      log_group_arn      = "arn:aws:logs:eu-west-1:111111111111:log-group:/ecs/mock-live-dbt-ci"
    }
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.this.statement : !contains(s.resources, "*") || s.actions == toset(local.wildcard_only_actions)])
    error_message = "Only the named metadata actions may use Resource *."
  }

  assert {
    condition     = alltrue(flatten([for s in data.aws_iam_policy_document.this.statement : [for a in s.actions : !strcontains(a, "*")]]))
    error_message = "No action may be a wildcard."
  }

  assert {
    condition = !anytrue(flatten([for s in data.aws_iam_policy_document.this.statement : [
      for a in s.actions : contains(["secretsmanager:GetSecretValue", "glue:GetConnection", "redshift-serverless:GetCredentials"], a) || startswith(a, "ssm:GetParameter") || startswith(a, "redshift:GetClusterCredentials")
    ]]))
    error_message = "The plan role reads no credentials."
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.this.statement : s.resources if contains(s.actions, "logs:GetLogEvents") || contains(s.actions, "logs:FilterLogEvents")])) == toset([
      "arn:aws:logs:eu-west-1:111111111111:log-group:/ecs/mock-live-dbt-ci",
      "arn:aws:logs:eu-west-1:111111111111:log-group:/ecs/mock-live-dbt-ci:*",
    ])
    error_message = "The plan role reads the CI task's logs and no other."
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.this.statement : s.resources if contains(s.actions, "s3:GetObject")])) == toset([
      "arn:aws:s3:::mock-live-tfstate-111111111111/terraform.tfstate",
      "arn:aws:s3:::mock-live-tfstate-111111111111/terraform.tfstate.tflock",
      "arn:aws:s3:::mock-live-docs-111111111111/mock/live/latest/manifest.json",
      "arn:aws:s3:::mock-live-docs-111111111111/mock/live/ci/*",
    ])
    error_message = "Objects read: the state, its lock, the production manifest and pull-request builds' ci/, nothing else."
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.this.statement : s.resources if contains(s.actions, "s3:PutObject") || contains(s.actions, "s3:DeleteObject")])) == toset([
      "arn:aws:s3:::mock-live-tfstate-111111111111/terraform.tfstate.tflock",
      "arn:aws:s3:::mock-live-docs-111111111111/mock/live/ci/*",
    ])
    error_message = "The plan role writes its state lock and pull-request builds' ci/, nothing else."
  }

  assert {
    condition     = anytrue([for s in data.aws_iam_policy_document.this.statement : s.actions == toset(["ecs:RunTask"]) && s.resources == toset(["arn:aws:ecs:eu-west-1:111111111111:task-definition/mock-live-dbt-ci:*"]) && anytrue([for c in s.condition : c.variable == "ecs:cluster" && c.values == tolist(["arn:aws:ecs:eu-west-1:111111111111:cluster/mock-live"])])]) && length([for s in data.aws_iam_policy_document.this.statement : s if contains(s.actions, "ecs:RunTask")]) == 1
    error_message = "RunTask: the CI family only, in the environment's cluster only."
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.this.statement : s.resources if contains(s.actions, "iam:PassRole")])) == toset([
      "arn:aws:iam::111111111111:role/mock-live-dbt-ci-task",
      "arn:aws:iam::111111111111:role/mock-live-dbt-ci-exec",
    ]) && alltrue([for s in data.aws_iam_policy_document.this.statement : anytrue([for c in s.condition : c.variable == "iam:PassedToService" && c.values == tolist(["ecs-tasks.amazonaws.com"])]) if contains(s.actions, "iam:PassRole")])
    error_message = "PassRole: the CI roles only, to ECS tasks only."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.this.statement : contains([for c in s.condition : c.variable if c.values == tolist(["s3.eu-west-1.amazonaws.com"])], "kms:ViaService") if contains(s.actions, "kms:Decrypt") || contains(s.actions, "kms:GenerateDataKey")])
    error_message = "KMS decrypts and data keys only through S3."
  }

  assert {
    condition     = contains(flatten([for s in data.aws_iam_policy_document.this.statement : [for c in s.condition : c.values if c.variable == "kms:ResourceAliases"]]), "alias/mock-live-tfstate")
    error_message = "The state key is the one behind the state alias."
  }
}
