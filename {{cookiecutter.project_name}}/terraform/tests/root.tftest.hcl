{%- set env = cookiecutter.environments.split()[0] -%}
{%- set ns = namespace(account="") -%}
{%- for pair in cookiecutter.aws_account_ids.split() if pair.split("=")[0] == env -%}
{%- set ns.account = pair.split("=")[1] -%}
{%- endfor -%}
# The whole root for environment {{ env }}, with a mock AWS provider: what the
# DAG and CI read from the outputs, and the guards on the environment.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "{{ ns.account }}" }
  }
  mock_data "aws_region" {
    defaults = { name = "{{ cookiecutter.aws_region }}" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_vpc" {
    defaults = { cidr_block = "10.20.0.0/16" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::{{ ns.account }}:role/mock" }
  }
  mock_resource "aws_iam_policy" {
    defaults = { arn = "arn:aws:iam::{{ ns.account }}:policy/mock" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = {
      arn                  = "arn:aws:ecs:{{ cookiecutter.aws_region }}:{{ ns.account }}:task-definition/mock:1"
      arn_without_revision = "arn:aws:ecs:{{ cookiecutter.aws_region }}:{{ ns.account }}:task-definition/mock"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:{{ cookiecutter.aws_region }}:{{ ns.account }}:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:{{ cookiecutter.aws_region }}:{{ ns.account }}:cluster/mock" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:{{ cookiecutter.aws_region }}:{{ ns.account }}:log-group:/ecs/mock" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:{{ cookiecutter.aws_region }}:{{ ns.account }}:repository/mock"
      repository_url = "{{ ns.account }}.dkr.ecr.{{ cookiecutter.aws_region }}.amazonaws.com/mock"
    }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:{{ cookiecutter.aws_region }}:{{ ns.account }}:secret:mock-AbCdEf" }
  }
}

variables {
  environment = "{{ env }}"
  image_tag   = "0123456789abcdef0123456789abcdef01234567"
}

run "outputs_for_the_dag_and_ci" {
  command = apply

  assert {
    condition     = output.aws_account_id == "{{ ns.account }}"
    error_message = "The provider must be pinned to the environment's account."
  }

  assert {
    condition     = output.subnet_ids == jsondecode(file("../environments.json")).environments["{{ env }}"].subnet_ids
    error_message = "The task's subnets are the environment's."
  }

  assert {
    condition     = length(output.security_group_ids) == length(jsondecode(file("../environments.json")).environments["{{ env }}"].security_group_ids) + (var.create_security_group ? 1 : 0)
    error_message = "The task's security groups are the environment's, plus the created one."
  }

  assert {
    condition     = output.task_definition_family == "{{ cookiecutter.project_name }}-{{ env }}-dbt" && output.log_group_name == "/ecs/{{ cookiecutter.project_name }}-{{ env }}-dbt"
    error_message = "Names come from environments.json."
  }

  assert {
    condition     = output.docs_prefix == "{{ cookiecutter.project_name }}/{{ env }}" && output.log_stream_prefix == "ecs/dbt"
    error_message = "Docs go under <project>/<environment>/, logs to ecs/dbt/<task id>."
  }

  assert {
    condition     = (output.ci_plan_role_arn != null) == ("{{ cookiecutter.ci_provider }}" != "none") && (output.ci_deploy_role_arn != null) == ("{{ cookiecutter.ci_provider }}" != "none")
    error_message = "The CI roles exist exactly when there is a CI provider (GitHub or GitLab)."
  }

  assert {
    condition     = length(module.github_oidc) == ("{{ cookiecutter.ci_provider }}" == "github" ? 1 : 0) && length(module.gitlab_oidc) == ("{{ cookiecutter.ci_provider }}" == "gitlab" ? 1 : 0)
    error_message = "The OIDC trust is the chosen CI provider's."
  }

  assert {
    condition     = (output.credentials_secret_arn != null) == contains(["secrets_manager", "ecs_secrets"], var.credentials_source)
    error_message = "The credentials secret exists exactly when a source reads it."
  }

  assert {
    condition     = output.ci_task_definition_family == "{{ cookiecutter.project_name }}-{{ env }}-dbt-ci" && output.ci_log_group_name == "/ecs/{{ cookiecutter.project_name }}-{{ env }}-dbt-ci"
    error_message = "Pull-request builds have their own family and log group, named in environments.json."
  }

  assert {
    condition     = (output.ci_credentials_secret_arn != null) == (output.credentials_secret_arn != null) && output.ci_security_group_ids == output.security_group_ids
    error_message = "CI has its own secret exactly when the deployment has one, and runs in the deployment's security groups."
  }

  assert {
    condition     = module.ci_roles.task_role_name != module.dbt_roles.task_role_name && module.ci_roles.execution_role_name != module.dbt_roles.execution_role_name
    error_message = "Pull-request builds run with their own roles, never the deployment's."
  }
}

run "unknown_environment_is_refused" {
  command = plan

  variables {
    environment = "nope"
  }

  expect_failures = [var.environment]
}
