# What the Airflow DAG and CI need; `terraform output -json` prints them all.

output "environment" {
  description = "The environment this state belongs to."
  value       = var.environment
}

output "aws_account_id" {
  description = "The environment's account; the provider refuses credentials of any other."
  value       = local.settings.account_id
}

output "aws_region" {
  description = "Region of every resource."
  value       = local.region
}

output "ecr_repository_url" {
  description = "Repository to push the dbt image to (CI tags it with the commit SHA)."
  value       = module.ecr.repository_url
}

output "ecs_cluster_name" {
  description = "Cluster the DAG runs the task in."
  value       = module.ecs_cluster.name
}

output "ecs_cluster_arn" {
  description = "ARN of that cluster."
  value       = module.ecs_cluster.arn
}

output "capacity_provider" {
  description = "Capacity provider of the cluster's default strategy (FARGATE or FARGATE_SPOT)."
  value       = module.ecs_cluster.capacity_provider
}

output "task_definition_family" {
  description = "Family the DAG passes to RunTask: the latest revision runs."
  value       = module.dbt_task.family
}

output "task_definition_arn" {
  description = "ARN of the revision this apply created."
  value       = module.dbt_task.arn
}

output "container_name" {
  description = "Name of the dbt container, for command overrides."
  value       = module.dbt_task.container_name
}

output "subnet_ids" {
  description = "Subnets the task runs in (awsvpc)."
  value       = local.settings.subnet_ids
}

output "security_group_ids" {
  description = "Security groups of the task: the environment's and the one created here."
  value       = concat(local.settings.security_group_ids, module.task_security_group[*].id)
}

output "log_group_name" {
  description = "Log group of the dbt container."
  value       = module.dbt_task.log_group_name
}

output "log_stream_prefix" {
  description = "Log streams are <log_stream_prefix>/<task id>."
  value       = module.dbt_task.log_stream_prefix
}

output "docs_bucket" {
  description = "Bucket of the dbt docs and run artifacts."
  value       = module.docs_bucket.name
}

output "docs_prefix" {
  description = "Key prefix of this project and environment in the docs bucket."
  value       = local.docs_prefix
}

output "task_role_arn" {
  description = "Role the dbt process runs as."
  value       = module.dbt_roles.task_role_arn
}

output "execution_role_arn" {
  description = "Role ECS starts the task with."
  value       = module.dbt_roles.execution_role_arn
}

output "airflow_policy_arn" {
  description = "Policy that lets the Airflow role run the task (attached when airflow_role_name is set)."
  value       = module.airflow_runner.policy_arn
}

output "credentials_secret_arn" {
  description = "Secret to put the warehouse credentials in (secrets_manager, ecs_secrets), else null."
  value       = one(aws_secretsmanager_secret.credentials[*].arn)
}

output "ci_task_definition_family" {
  description = "Family `make ci-remote` and `make ci-cleanup` pass to RunTask: pull-request builds, as CI's database user."
  value       = module.ci_task.family
}

output "ci_task_role_arn" {
  description = "Role pull-request builds run as: CI's credentials, the latest manifest, ci/ of the docs prefix."
  value       = module.ci_roles.task_role_arn
}

output "ci_execution_role_arn" {
  description = "Role ECS starts the CI task with."
  value       = module.ci_roles.execution_role_arn
}

output "ci_log_group_name" {
  description = "Log group of the CI task; streams are <ci_log_stream_prefix>/<task id>."
  value       = module.ci_task.log_group_name
}

output "ci_log_stream_prefix" {
  description = "Log streams of the CI task are <ci_log_stream_prefix>/<task id>."
  value       = module.ci_task.log_stream_prefix
}

output "ci_credentials_secret_arn" {
  description = "Secret to put CI's warehouse credentials in (secrets_manager, ecs_secrets), else null."
  value       = one(aws_secretsmanager_secret.ci_credentials[*].arn)
}

output "ci_security_group_ids" {
  description = "Security groups of the CI task (the same as the deployment's): the environment's and the one created here."
  value       = concat(local.settings.security_group_ids, module.task_security_group[*].id)
}

output "alerts_topic_arn" {
  description = "SNS topic the DAG notifies on failure, or null."
  value       = one(aws_sns_topic.alerts[*].arn)
}

output "ci_plan_role_arn" {
  description = "Role that pull or merge request jobs assume (plan and slim CI); null without GitHub or GitLab CI."
  value       = one(concat(values(module.github_oidc)[*].plan_role_arn, values(module.gitlab_oidc)[*].plan_role_arn))
}

output "ci_deploy_role_arn" {
  description = "Role that deployment jobs on main assume (on GitHub, in this environment's GitHub environment); null without GitHub or GitLab CI."
  value       = one(concat(values(module.github_oidc)[*].deploy_role_arn, values(module.gitlab_oidc)[*].deploy_role_arn))
}

output "ci_plan_policy_wildcard_actions" {
  description = "The plan role's only actions on Resource \"*\" (AWS has no resource type for them); null without CI roles."
  value       = one(module.ci_plan_policy[*].wildcard_only_actions)
}
