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
  warehouse   = local.settings.warehouse

  # The connection is configuration (environments.json), the same for every source;
  # the credentials source adds only where the secret part lives. An empty host is
  # looked up by the runner from the cluster identifier.
  warehouse_environment = {
    DBT_REDSHIFT_HOST       = local.warehouse.host
    DBT_REDSHIFT_PORT       = tostring(local.warehouse.port)
    DBT_REDSHIFT_DB         = local.warehouse.database
    DBT_REDSHIFT_SCHEMA     = local.warehouse.schema
    DBT_REDSHIFT_USER       = local.warehouse.user
    DBT_REDSHIFT_CLUSTER_ID = local.warehouse.type == "provisioned" ? local.warehouse.id : ""
    DBT_REDSHIFT_REGION     = local.region
  }

  # What the deployment's and the CI task definitions share: the connection and
  # the runner's settings. Each family adds its identity and where its password is.
  task_environment = merge(
    local.warehouse_environment,
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
  )

  credentials_environment = {
    iam                 = {}
    secrets_manager     = { DBT_CREDENTIALS_SECRET_ID = one(aws_secretsmanager_secret.credentials[*].arn) }
    ssm_parameter_store = { DBT_CREDENTIALS_PARAMETER_PATH = local.names.credentials_parameter_path }
    glue_connection     = { DBT_GLUE_CONNECTION = local.names.glue_connection }
    ecs_secrets         = {}
  }

  # Pull-request builds (`make ci-remote`, `make ci-cleanup`): the same image as
  # the deployment, as CI's own database user, with CI's own credentials, role
  # and log group. The PR number and project URL come per run as overrides.
  ci_warehouse = merge(local.warehouse, { user = local.warehouse.ci_user })
  # environments.json names no CI execution role: "-exec" keeps it within IAM's
  # 64 characters wherever the deployment's "-dbt-execution" fits.
  ci_execution_role = "${trimsuffix(local.names.ci_task_role, "-task")}-exec"

  ci_credentials_environment = {
    iam                 = {}
    secrets_manager     = { DBT_CREDENTIALS_SECRET_ID = one(aws_secretsmanager_secret.ci_credentials[*].arn) }
    ssm_parameter_store = { DBT_CREDENTIALS_PARAMETER_PATH = local.names.ci_credentials_parameter_path }
    glue_connection     = { DBT_GLUE_CONNECTION = local.names.ci_glue_connection }
    ecs_secrets         = {}
  }
}

module "kms_key" {
  source = "./modules/kms_key"

  alias           = local.names.kms_alias
  description     = "${local.project} ${var.environment}: dbt logs, docs bucket, image repository, credentials"
  log_group_names = [local.names.log_group, local.names.ci_log_group]
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
  description = "Warehouse credentials of dbt in ${var.environment}: JSON with username and password (the format AWS writes for Redshift; host, port and dbname may be there too)"
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
  warehouse                  = local.warehouse
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
    local.task_environment,
    local.credentials_environment[var.credentials_source],
  )

  # The whole JSON secret, parsed by the runner: ECS refuses to start a task whose
  # secret lacks a key it was told to inject, and AWS's own formats differ in keys.
  secrets = var.credentials_source == "ecs_secrets" ? {
    DBT_ENV_SECRET_CREDENTIALS = one(aws_secretsmanager_secret.credentials[*].arn)
  } : {}
}

# ---- pull-request builds: the CI family, its roles and its credentials ----------

# Created empty, like the deployment's: put CI's password with `aws secretsmanager put-secret-value`.
resource "aws_secretsmanager_secret" "ci_credentials" {
  #checkov:skip=CKV2_AWS_57:Warehouse passwords are rotated by the warehouse's owners; a rotation Lambda per warehouse type is out of scope here.
  count = local.uses_secret ? 1 : 0

  name        = local.names.ci_credentials_secret
  description = "Warehouse credentials of pull-request builds in ${var.environment} (user ${local.warehouse.ci_user}): JSON with username and password"
  kms_key_id  = module.kms_key.arn
}

# CI reads only its own identity, the deployment's latest manifest (to defer to
# it) and ci/; it writes ci/ only, never latest/ or the deployment's runs.
module "ci_roles" {
  source = "./modules/dbt_roles"

  task_role_name             = local.names.ci_task_role
  execution_role_name        = local.ci_execution_role
  repository_arn             = module.ecr.arn
  log_group_arn              = module.ci_task.log_group_arn
  kms_key_arn                = module.kms_key.arn
  docs_bucket_arn            = module.docs_bucket.arn
  docs_prefix                = local.docs_prefix
  upload_prefix              = "ci"
  read_keys                  = ["latest/manifest.json", "ci/*"]
  credentials_source         = var.credentials_source
  credentials_secret_arn     = local.uses_secret ? one(aws_secretsmanager_secret.ci_credentials[*].arn) : ""
  credentials_parameter_path = var.credentials_source == "ssm_parameter_store" ? local.names.ci_credentials_parameter_path : ""
  glue_connection_name       = var.credentials_source == "glue_connection" ? local.names.ci_glue_connection : ""
  warehouse                  = local.ci_warehouse
}

module "ci_task" {
  source = "./modules/dbt_task"

  family             = local.names.ci_task_family
  container_name     = local.names.container
  image              = module.ecr.repository_url
  image_tag          = var.image_tag
  cpu                = var.fargate_cpu
  memory             = var.fargate_memory
  cpu_architecture   = var.cpu_architecture
  execution_role_arn = module.ci_roles.execution_role_arn
  task_role_arn      = module.ci_roles.task_role_arn
  log_group_name     = local.names.ci_log_group
  log_retention_days = var.log_retention_days
  kms_key_arn        = module.kms_key.arn

  environment_variables = merge(
    local.task_environment,
    { DBT_REDSHIFT_USER = local.warehouse.ci_user, RUNNER_MODE = "ci" },
    local.ci_credentials_environment[var.credentials_source],
  )

  secrets = var.credentials_source == "ecs_secrets" ? {
    DBT_ENV_SECRET_CREDENTIALS = one(aws_secretsmanager_secret.ci_credentials[*].arn)
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

# CI gets into the account by OIDC, never by stored keys: GitHub Actions of one
# repository or GitLab pipelines of one project, with the same two roles. The
# plan role (pull or merge requests, and main) may read what a plan of this root
# reads and take the state lock, nothing more; the deploy role trusts only jobs
# on main (on GitHub, in the GitHub environment of the same name).
locals {
  github_ci = local.config.github_repository != null
  gitlab_ci = local.config.gitlab != null
  # The OIDC providers' hosts: the plan role refreshes them.
  ci_oidc_hosts = concat(
    local.github_ci ? ["token.actions.githubusercontent.com"] : [],
    local.gitlab_ci ? [trimprefix(trimsuffix(local.config.gitlab.url, "/"), "https://")] : [],
  )
}

# One definition of the plan role's policy, for whichever CI provider there is.
module "ci_plan_policy" {
  source = "./modules/ci_plan_policy"
  count  = length(local.ci_oidc_hosts) > 0 ? 1 : 0

  names               = local.names
  docs_prefix         = local.docs_prefix
  docs_kms_key_arn    = module.kms_key.arn
  airflow_role_name   = var.airflow_role_name
  oidc_provider_hosts = local.ci_oidc_hosts

  # What `make ci-remote` and `make ci-cleanup` start and follow.
  pull_request_builds = {
    cluster_arn        = module.ecs_cluster.arn
    cluster_name       = module.ecs_cluster.name
    family_arn         = module.ci_task.family_arn
    task_role_arn      = module.ci_roles.task_role_arn
    execution_role_arn = module.ci_roles.execution_role_arn
    log_group_arn      = module.ci_task.log_group_arn
  }
}

module "github_oidc" {
  source = "./modules/github_oidc"
  # Keyed by repository: without GitHub Actions there is no instance, and nothing to check.
  for_each = local.github_ci ? toset([local.config.github_repository]) : toset([])

  repository         = each.key
  environment        = var.environment
  plan_role_name     = local.names.ci_plan_role
  deploy_role_name   = local.names.ci_deploy_role
  deploy_policy_arns = lookup(var.ci_deploy_policy_arns, var.environment, [])
  plan_policy_json   = module.ci_plan_policy[0].json
  create_provider    = var.create_github_oidc_provider
}

module "gitlab_oidc" {
  source = "./modules/gitlab_oidc"
  # Keyed by project path: without GitLab CI there is no instance.
  for_each = local.gitlab_ci ? { (local.config.gitlab.project_path) = local.config.gitlab.url } : {}

  url                = each.value
  project_path       = each.key
  environment        = var.environment
  plan_role_name     = local.names.ci_plan_role
  deploy_role_name   = local.names.ci_deploy_role
  deploy_policy_arns = lookup(var.ci_deploy_policy_arns, var.environment, [])
  plan_policy_json   = module.ci_plan_policy[0].json
  create_provider    = var.create_gitlab_oidc_provider
}
