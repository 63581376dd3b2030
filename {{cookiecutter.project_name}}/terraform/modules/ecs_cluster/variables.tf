variable "name" {
  description = "Name of the cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.name))
    error_message = "ECS cluster names are 1-255 letters, digits, hyphens or underscores."
  }
}

variable "use_fargate_spot" {
  description = "Run tasks on FARGATE_SPOT by default (cheaper; a task can be interrupted with two minutes' notice)."
  type        = bool
  default     = false
}
