# One root for every environment: `var.environment` picks the environment's
# account, network and resource names from environments.json, and the backend
# (passed by `make tf-init`) picks its state. See "Terraform" in README.md.

locals {
  config   = jsondecode(file("${path.module}/../environments.json"))
  project  = local.config.project_name
  region   = local.config.aws_region
  settings = local.config.environments[var.environment]
  names    = local.settings.names

  tags = merge(var.tags, {
    Project     = local.project
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  # dbt's docs and run artifacts: s3://<docs bucket>/<project>/<env>/{latest,runs}/.
  docs_prefix = "${local.project}/${var.environment}"

  uses_secret = contains(["secrets_manager", "ecs_secrets"], var.credentials_source)

  # With ecs_secrets, ECS injects these keys of the JSON secret as the variables
  # profiles.yml reads; the other sources are read by the runner at start-up.
  ecs_secret_keys = {
    DBT_REDSHIFT_HOST                = "host"
    DBT_REDSHIFT_PORT                = "port"
    DBT_REDSHIFT_USER                = "username"
    DBT_ENV_SECRET_REDSHIFT_PASSWORD = "password"
    DBT_REDSHIFT_DB                  = "dbname"
    DBT_REDSHIFT_SCHEMA              = "schema"
  }

  credentials_environment = {
    secrets_manager     = { DBT_CREDENTIALS_SECRET_ID = one(aws_secretsmanager_secret.credentials[*].arn) }
    ssm_parameter_store = { DBT_CREDENTIALS_PARAMETER_PATH = local.names.credentials_parameter_path }
    glue_connection     = { DBT_GLUE_CONNECTION = local.names.glue_connection }
    ecs_secrets         = {}
  }
}

module "kms_key" {
  source = "./modules/kms_key"

  alias           = local.names.kms_alias
  description     = "${local.project} ${var.environment}: dbt logs, docs bucket, image repository, credentials"
  log_group_names = [local.names.log_group]
}

module "ecr" {
  source = "./modules/ecr"

  name        = local.names.ecr_repository
  kms_key_arn = module.kms_key.arn
}

module "ecs_cluster" {
  source = "./modules/ecs_cluster"

  name             = local.names.ecs_cluster
  use_fargate_spot = var.use_fargate_spot
}

module "docs_bucket" {
  source = "./modules/s3_bucket"

  name        = local.names.docs_bucket
  kms_key_arn = module.kms_key.arn
  expiring_prefixes = {
    "${local.docs_prefix}/runs/" = var.run_artifacts_expiration_days
  }
}

# The secret is created empty: its value never passes through Terraform state.
# Put it with `aws secretsmanager put-secret-value` (see README.md).
resource "aws_secretsmanager_secret" "credentials" {
  #checkov:skip=CKV2_AWS_57:Warehouse passwords are rotated by the warehouse's owners; a rotation Lambda per warehouse type is out of scope here.
  count = local.uses_secret ? 1 : 0

  name        = local.names.credentials_secret
  description = "Warehouse credentials of dbt in ${var.environment}: JSON with host, port, username, password, dbname, schema"
  kms_key_id  = module.kms_key.arn
}

module "dbt_roles" {
  source = "./modules/dbt_roles"

  task_role_name             = local.names.task_role
  execution_role_name        = local.names.execution_role
  repository_arn             = module.ecr.arn
  log_group_arn              = module.dbt_task.log_group_arn
  kms_key_arn                = module.kms_key.arn
  docs_bucket_arn            = module.docs_bucket.arn
  docs_prefix                = local.docs_prefix
  credentials_source         = var.credentials_source
  credentials_secret_arn     = local.uses_secret ? one(aws_secretsmanager_secret.credentials[*].arn) : ""
  credentials_parameter_path = var.credentials_source == "ssm_parameter_store" ? local.names.credentials_parameter_path : ""
  glue_connection_name       = var.credentials_source == "glue_connection" ? local.names.glue_connection : ""
}

module "dbt_task" {
  source = "./modules/dbt_task"

  family             = local.names.task_family
  container_name     = local.names.container
  image              = module.ecr.repository_url
  image_tag          = var.image_tag
  cpu                = var.fargate_cpu
  memory             = var.fargate_memory
  cpu_architecture   = var.cpu_architecture
  execution_role_arn = module.dbt_roles.execution_role_arn
  task_role_arn      = module.dbt_roles.task_role_arn
  log_group_name     = local.names.log_group
  log_retention_days = var.log_retention_days
  kms_key_arn        = module.kms_key.arn

  environment_variables = merge(
    {
      ENV                    = var.environment
      PROJECT_NAME           = local.project
      DOCS_BUCKET            = module.docs_bucket.name
      DBT_CREDENTIALS_SOURCE = var.credentials_source
      DBT_LOG_FORMAT         = var.dbt_log_format
      # The root filesystem is read-only: dbt writes to the scratch volume.
      DBT_TARGET_PATH = "/tmp/dbt/target"
      DBT_LOG_PATH    = "/tmp/dbt/logs"
    },
    local.credentials_environment[var.credentials_source],
  )

  secrets = var.credentials_source == "ecs_secrets" ? {
    for variable, key in local.ecs_secret_keys :
    variable => "${one(aws_secretsmanager_secret.credentials[*].arn)}:${key}::"
  } : {}
}

module "task_security_group" {
  source = "./modules/task_security_group"
  count  = var.create_security_group ? 1 : 0

  name                  = local.names.security_group
  subnet_id             = local.settings.subnet_ids[0]
  warehouse_port        = var.warehouse_port
  warehouse_cidr_blocks = var.warehouse_cidr_blocks
}

resource "aws_sns_topic" "alerts" {
  count = var.create_alerts_topic ? 1 : 0

  name              = local.names.alerts_topic
  kms_master_key_id = module.kms_key.arn
}

module "airflow_runner" {
  source = "./modules/airflow_runner"

  policy_name                = local.names.airflow_policy
  airflow_role_name          = var.airflow_role_name
  task_definition_family_arn = module.dbt_task.family_arn
  cluster_arn                = module.ecs_cluster.arn
  cluster_name               = module.ecs_cluster.name
  pass_role_arns             = [module.dbt_roles.task_role_arn, module.dbt_roles.execution_role_arn]
  log_group_arn              = module.dbt_task.log_group_arn
  publish_alerts             = var.create_alerts_topic
  alerts_topic_arn           = var.create_alerts_topic ? aws_sns_topic.alerts[0].arn : ""
  kms_key_arn                = module.kms_key.arn
}

# GitHub Actions of this repository get into the account by OIDC, never by stored
# keys: a read-only role for pull requests and a deploy role for the GitHub
# environment of the same name. Other CI providers bring their own trust.
module "github_oidc" {
  source = "./modules/github_oidc"
  # Keyed by repository: without GitHub Actions there is no instance, and nothing to check.
  for_each = local.config.github_repository == null ? toset([]) : toset([local.config.github_repository])

  repository         = each.key
  environment        = var.environment
  plan_role_name     = local.names.ci_plan_role
  deploy_role_name   = local.names.ci_deploy_role
  deploy_policy_arns = lookup(var.ci_deploy_policy_arns, var.environment, [])
  state_bucket_arn   = "arn:aws:s3:::${local.names.state_bucket}"
  create_provider    = var.create_github_oidc_provider
}
