variable "environment" {
  description = "Deployment environment whose state bucket to create: a key of environments.json."
  type        = string

  validation {
    condition     = contains(keys(jsondecode(file("${path.module}/../../environments.json")).environments), var.environment)
    error_message = "The environment must be one of those in environments.json: {{ cookiecutter.environments }}."
  }
}

variable "aws_endpoint_url" {
  description = "Send every AWS call to this URL instead of AWS: for a local emulator only. Leave empty."
  type        = string
  default     = ""

  validation {
    condition     = var.aws_endpoint_url == "" || can(regex("^https?://", var.aws_endpoint_url))
    error_message = "Give an http(s) URL, or leave it empty to use AWS."
  }
}
