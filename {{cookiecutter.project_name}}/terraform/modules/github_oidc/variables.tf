variable "repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the roles; nothing else can."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.repository))
    error_message = "Give the repository as owner/name, e.g. my-org/analytics-dbt."
  }
}

variable "environment" {
  description = "GitHub environment whose jobs on main may assume the deploy role (its protection rules gate every apply)."
  type        = string
}

variable "plan_role_name" {
  description = "Name of the read-only role that pull requests use for terraform plan and slim CI."
  type        = string
}

variable "deploy_role_name" {
  description = "Name of the role that deployments to this environment use for terraform apply, image push and DAG upload."
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
  description = "Create the account's GitHub OIDC provider; false when the account already has one (there can be only one)."
  type        = bool
  default     = true
}

variable "max_session_duration" {
  description = "Longest session of either role, in seconds."
  type        = number
  default     = 3600
}
