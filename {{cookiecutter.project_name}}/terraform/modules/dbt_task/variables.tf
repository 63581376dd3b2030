variable "family" {
  description = "Family of the task definition; every apply that changes it adds a revision."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.family))
    error_message = "Task definition families are 1-255 letters, digits, hyphens or underscores."
  }
}

variable "container_name" {
  description = "Name of the dbt container (the DAG overrides its command by this name)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.container_name))
    error_message = "Container names are 1-255 letters, digits, hyphens or underscores."
  }
}

variable "image" {
  description = "Image repository URL, without a tag."
  type        = string

  validation {
    condition     = length(var.image) > 0 && !strcontains(var.image, "@")
    error_message = "Give the repository URL without a tag or digest."
  }
}

variable "image_tag" {
  description = "Image tag to run: CI sets the commit SHA it built and pushed."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$", var.image_tag))
    error_message = "Docker tags are 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'."
  }
}

variable "cpu" {
  description = "Fargate CPU units of the task."
  type        = number

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "Fargate CPU is one of 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "memory" {
  description = "Memory of the task in MiB; Fargate accepts only some sizes for each CPU value."
  type        = number

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "Fargate memory is between 512 and 122880 MiB."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64."
  type        = string

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "The architecture is X86_64 or ARM64."
  }
}

variable "execution_role_arn" {
  description = "Role ECS uses to pull the image, write logs and inject secrets."
  type        = string
}

variable "task_role_arn" {
  description = "Role the dbt process runs as."
  type        = string
}

variable "log_group_name" {
  description = "CloudWatch log group the container logs to."
  type        = string

  validation {
    condition     = can(regex("^[.\\-_/#A-Za-z0-9]{1,512}$", var.log_group_name))
    error_message = "Log group names are 1-512 letters, digits and . - _ / # characters."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "CloudWatch accepts 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 days."
  }
}

variable "log_stream_prefix" {
  description = "awslogs stream prefix; streams are named <prefix>/<container>/<task id>."
  type        = string
  default     = "ecs"
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the log group."
  type        = string
}

variable "environment_variables" {
  description = "Plain environment variables of the container (never secrets)."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables ECS injects from Secrets Manager or SSM: name => valueFrom ARN."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for arn in values(var.secrets) : startswith(arn, "arn:")])
    error_message = "Each secret's valueFrom must be an ARN."
  }
}

variable "scratch_path" {
  description = "Writable scratch directory (the root filesystem is read-only); dbt's target and logs go here."
  type        = string
  default     = "/tmp"
}
