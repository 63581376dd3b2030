variable "name" {
  description = "Globally unique name of the bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.name))
    error_message = "Bucket names are 3-63 lowercase letters, digits, dots or hyphens."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the default encryption."
  type        = string
}

variable "expiring_prefixes" {
  description = "Key prefixes whose objects expire: prefix (ending in /) => days."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for prefix, days in var.expiring_prefixes : endswith(prefix, "/") && days >= 1])
    error_message = "Each prefix ends with '/' and expires after at least one day."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted object version is kept."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "Keep old versions at least one day."
  }
}

variable "prevent_destroy_objects" {
  description = "Refuse to delete a bucket that still holds objects (false lets terraform destroy empty it)."
  type        = bool
  default     = true
}
