variable "alias" {
  description = "Alias of the key, without the alias/ prefix (e.g. analytics-dbt-dev)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]{1,250}$", var.alias)) && !startswith(var.alias, "aws/")
    error_message = "The alias must be 1-250 letters, digits, '/', '_' or '-' and must not start with aws/."
  }
}

variable "description" {
  description = "What the key encrypts, shown in the KMS console."
  type        = string
}

variable "log_group_names" {
  description = "CloudWatch log groups allowed to encrypt their events with this key."
  type        = list(string)
  default     = []
}

variable "deletion_window_in_days" {
  description = "Days a deleted key stays recoverable before KMS destroys it."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "KMS accepts a deletion window of 7 to 30 days."
  }
}
