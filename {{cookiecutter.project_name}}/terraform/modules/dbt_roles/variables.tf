variable "task_role_name" {
  description = "Name of the role the dbt process runs as."
  type        = string

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.task_role_name))
    error_message = "IAM role names are 1-64 characters: letters, digits and +=,.@_-."
  }
}

variable "execution_role_name" {
  description = "Name of the role ECS uses to start the task (pull the image, write logs, inject secrets)."
  type        = string

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.execution_role_name))
    error_message = "IAM role names are 1-64 characters: letters, digits and +=,.@_-."
  }
}

variable "repository_arn" {
  description = "ECR repository the execution role pulls from."
  type        = string
}

variable "log_group_arn" {
  description = "Log group the container writes to (ARN without :*)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the docs bucket and the credentials secret."
  type        = string
}

variable "docs_bucket_arn" {
  description = "Bucket the dbt docs and run artifacts are uploaded to."
  type        = string
}

variable "docs_prefix" {
  description = "Key prefix the task may write under, without slashes at either end (e.g. project/env)."
  type        = string

  validation {
    condition     = length(var.docs_prefix) > 0 && !startswith(var.docs_prefix, "/") && !endswith(var.docs_prefix, "/") && !strcontains(var.docs_prefix, "*")
    error_message = "Give a non-empty prefix without leading or trailing slashes or wildcards."
  }
}

variable "upload_prefix" {
  description = "Where under docs_prefix the task may put objects, without slashes at either end (e.g. ci); empty: anywhere under docs_prefix."
  type        = string
  default     = ""

  validation {
    condition     = !startswith(var.upload_prefix, "/") && !endswith(var.upload_prefix, "/") && !strcontains(var.upload_prefix, "*")
    error_message = "Give a prefix without leading or trailing slashes or wildcards, or leave it empty."
  }
}

variable "read_keys" {
  description = "Object keys under docs_prefix the task may get, relative to it (e.g. latest/manifest.json, ci/*); none by default."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for key in var.read_keys : length(key) > 0 && !startswith(key, "/") && !strcontains(trimsuffix(key, "/*"), "*")])
    error_message = "Give keys relative to docs_prefix, without a leading slash; a wildcard only as a final /*."
  }
}

variable "credentials_source" {
  description = "How dbt signs in: iam (temporary database credentials, nothing stored), or where its password lives: secrets_manager, ssm_parameter_store, glue_connection or ecs_secrets."
  type        = string

  validation {
    condition     = contains(["iam", "secrets_manager", "ssm_parameter_store", "glue_connection", "ecs_secrets"], var.credentials_source)
    error_message = "credentials_source is iam, secrets_manager, ssm_parameter_store, glue_connection or ecs_secrets."
  }
}

variable "credentials_secret_arn" {
  description = "Secrets Manager secret with the credentials (secrets_manager and ecs_secrets)."
  type        = string
  default     = ""

  validation {
    condition     = var.credentials_secret_arn == "" || startswith(var.credentials_secret_arn, "arn:")
    error_message = "Give the secret's ARN."
  }
}

variable "credentials_parameter_path" {
  description = "SSM parameter path holding the credentials, e.g. /project/env/warehouse (ssm_parameter_store)."
  type        = string
  default     = ""

  validation {
    condition     = var.credentials_parameter_path == "" || can(regex("^(/[a-zA-Z0-9_.-]+)+$", var.credentials_parameter_path))
    error_message = "Give an absolute parameter path without a trailing slash, e.g. /project/env/warehouse."
  }
}

variable "glue_connection_name" {
  description = "Glue connection holding the credentials (glue_connection)."
  type        = string
  default     = ""
}

variable "warehouse" {
  description = "The warehouse connection of this environment (environments.json `warehouse`): type (provisioned or serverless), id (cluster identifier or workgroup name), host (empty: looked up from the cluster), database and user."
  type = object({
    type     = string
    id       = string
    host     = string
    database = string
    user     = string
  })

  validation {
    condition     = contains(["provisioned", "serverless"], var.warehouse.type)
    error_message = "warehouse.type is provisioned or serverless."
  }
}
