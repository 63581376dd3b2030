variable "names" {
  description = "The environment's resource names: environments.json's environments.<env>.names."
  type        = any

  validation {
    condition = alltrue([for key in [
      "state_bucket", "state_kms_alias", "docs_bucket", "ecr_repository", "ecs_cluster", "task_family", "log_group", "task_role",
      "execution_role", "ci_plan_role", "ci_deploy_role", "airflow_policy", "credentials_secret", "alerts_topic",
      "ci_task_family", "ci_task_role", "ci_log_group", "ci_credentials_secret",
    ] : contains(keys(var.names), key)])
    error_message = "names must hold every resource name of environments.json's names (state_kms_alias included)."
  }
}

variable "docs_prefix" {
  description = "Key prefix of this project and environment in the docs bucket (<project>/<env>); the manifest is <prefix>/latest/manifest.json."
  type        = string
}

variable "docs_kms_key_arn" {
  description = "ARN of the environment's KMS key, which encrypts the docs bucket."
  type        = string
}

variable "state_key" {
  description = "Key of the Terraform state in the state bucket, as the Makefile's backend configuration gives it."
  type        = string
  default     = "terraform.tfstate"
}

variable "airflow_role_name" {
  description = "Role the Airflow policy is attached to, whose attachments a plan refreshes; empty when none."
  type        = string
  default     = ""
}

variable "oidc_provider_hosts" {
  description = "Hosts of the OIDC providers this root manages or looks up (token.actions.githubusercontent.com, gitlab.com)."
  type        = list(string)
  default     = []
}

variable "pull_request_builds" {
  description = "The CI task that `make ci-remote` and `make ci-cleanup` start: the cluster it runs in, its family (ARN ending :* for every revision), its two roles and its log group (ARN without :*). Null: no pull-request build statements."
  type = object({
    cluster_arn        = string
    cluster_name       = string
    family_arn         = string
    task_role_arn      = string
    execution_role_arn = string
    log_group_arn      = string
  })
  default = null

  validation {
    condition     = var.pull_request_builds == null || endswith(try(var.pull_request_builds.family_arn, ""), ":*")
    error_message = "family_arn is the family's ARN with :* (every revision)."
  }
}
