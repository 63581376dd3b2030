variable "policy_name" {
  description = "Name of the managed policy that lets Airflow run the dbt task."
  type        = string

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,128}$", var.policy_name))
    error_message = "IAM policy names are 1-128 characters: letters, digits and +=,.@_-."
  }
}

variable "airflow_role_name" {
  description = "Name of the IAM role the Airflow environment runs as; the policy is attached to it. Empty: only create the policy (attach it where Airflow is managed)."
  type        = string
  default     = ""

  validation {
    condition     = var.airflow_role_name == "" || can(regex("^[\\w+=,.@-]{1,64}$", var.airflow_role_name))
    error_message = "Give an IAM role name (not an ARN), or leave it empty."
  }
}

variable "task_definition_family_arn" {
  description = "ARN of every revision of the task definition family: arn:aws:ecs:<region>:<account>:task-definition/<family>:*."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:ecs:[^:]+:[0-9]{12}:task-definition/[a-zA-Z0-9_-]+:\\*$", var.task_definition_family_arn))
    error_message = "Give the family ARN ending in :*, e.g. arn:aws:ecs:eu-west-1:111111111111:task-definition/project-dev-dbt:*."
  }
}

variable "cluster_arn" {
  description = "Cluster the task may run in."
  type        = string
}

variable "cluster_name" {
  description = "Name of that cluster (task ARNs contain it)."
  type        = string
}

variable "pass_role_arns" {
  description = "Exactly the roles RunTask hands to ECS: the task role and the execution role."
  type        = list(string)

  validation {
    condition     = length(var.pass_role_arns) == 2 && alltrue([for arn in var.pass_role_arns : can(regex("^arn:[^:]+:iam::[0-9]{12}:role/", arn))])
    error_message = "Give the two role ARNs: the task role and the execution role."
  }
}

variable "log_group_arn" {
  description = "Log group of the dbt container (ARN without :*)."
  type        = string
}

variable "publish_alerts" {
  description = "Let Airflow publish failure alerts to alerts_topic_arn."
  type        = bool
  default     = false
}

variable "alerts_topic_arn" {
  description = "SNS topic of the failure alerts (with publish_alerts)."
  type        = string
  default     = ""
}

variable "kms_key_arn" {
  description = "KMS key of the alerts topic (with publish_alerts)."
  type        = string
  default     = ""
}
