variable "url" {
  description = "URL of the GitLab instance: the OIDC issuer and the audience of the jobs' ID tokens."
  type        = string
  default     = "https://gitlab.com"

  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)*/?$", var.url))
    error_message = "Give the instance's https:// URL, e.g. https://gitlab.com."
  }
}

variable "project_path" {
  description = "GitLab project (group/project, subgroups allowed) whose pipelines may assume the roles; nothing else can."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$", var.project_path))
    error_message = "Give the project as group/project, e.g. data/analytics-dbt."
  }
}

variable "environment" {
  description = "Deployment environment of the deploy role (in its description; the trust is main's)."
  type        = string
}

variable "plan_role_name" {
  description = "Name of the read-only role that merge requests use for terraform plan and slim CI."
  type        = string
}

variable "deploy_role_name" {
  description = "Name of the role that deployments from main use for terraform apply, image push and DAG upload."
  type        = string
}

variable "deploy_policy_arns" {
  description = "Managed policies of the deploy role: enough to apply this repository's Terraform. No default on purpose; an empty list leaves the role able to do nothing until you choose."
  type        = list(string)

  validation {
    condition     = alltrue([for arn in var.deploy_policy_arns : startswith(arn, "arn:")])
    error_message = "Give policy ARNs."
  }
}

variable "plan_policy_json" {
  description = "The plan role's inline policy (module ci_plan_policy): what a plan reads and its state lock."
  type        = string

  validation {
    condition     = can(jsondecode(var.plan_policy_json).Statement)
    error_message = "Give an IAM policy document (JSON with a Statement)."
  }
}

variable "create_provider" {
  description = "Create the account's OIDC provider for the instance; false when the account already has one (there can be only one)."
  type        = bool
  default     = true
}

variable "max_session_duration" {
  description = "Longest session of either role, in seconds."
  type        = number
  default     = 3600
}
