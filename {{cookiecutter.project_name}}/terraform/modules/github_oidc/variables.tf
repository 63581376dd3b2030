variable "repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the roles; nothing else can."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.repository))
    error_message = "Give the repository as owner/name, e.g. my-org/analytics-dbt."
  }
}

variable "environment" {
  description = "GitHub environment whose jobs may assume the deploy role (its protection rules gate every apply)."
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
  description = "Managed policies of the deploy role: enough to apply this repository's Terraform, no default on purpose."
  type        = list(string)

  validation {
    condition     = length(var.deploy_policy_arns) > 0 && alltrue([for arn in var.deploy_policy_arns : startswith(arn, "arn:")])
    error_message = "Give at least one policy ARN."
  }
}

variable "plan_policy_arns" {
  description = "Managed policies of the plan role; read-only by default."
  type        = list(string)
  default     = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
}

variable "lock_table_arn" {
  description = "DynamoDB table of the Terraform state lock, which plans must be able to take and release."
  type        = string
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
