variable "name" {
  description = "Name of the repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) <= 256
    error_message = "ECR repository names are lowercase letters, digits and . _ - / separators, at most 256 characters."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the images at rest."
  type        = string

  validation {
    condition     = startswith(var.kms_key_arn, "arn:")
    error_message = "Give the key's ARN."
  }
}

variable "keep_images" {
  description = "How many tagged images to keep; older ones expire, so rolling back further means rebuilding."
  type        = number
  default     = 50

  validation {
    condition     = var.keep_images >= 1 && floor(var.keep_images) == var.keep_images
    error_message = "Keep at least one image (a whole number)."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images (failed or superseded pushes) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expiry_days >= 1 && floor(var.untagged_expiry_days) == var.untagged_expiry_days
    error_message = "Give a whole number of days, at least 1."
  }
}
