variable "name" {
  description = "Name of the security group."
  type        = string

  validation {
    condition     = length(var.name) >= 1 && length(var.name) <= 255 && !startswith(var.name, "sg-")
    error_message = "Security group names are 1-255 characters and must not start with sg-."
  }
}

variable "subnet_id" {
  description = "One of the task's subnets; the group is created in its VPC."
  type        = string

  validation {
    condition     = can(regex("^subnet-[0-9a-f]+$", var.subnet_id))
    error_message = "Give a subnet ID (subnet-...)."
  }
}

variable "warehouse_port" {
  description = "TCP port of the warehouse (5439 Redshift, 5432 PostgreSQL, 443 Snowflake/Athena)."
  type        = number

  validation {
    condition     = var.warehouse_port >= 1 && var.warehouse_port <= 65535
    error_message = "Give a TCP port, 1-65535."
  }
}

variable "warehouse_cidr_blocks" {
  description = "Where the warehouse is; empty means the VPC's own CIDR block."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.warehouse_cidr_blocks : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"])
    error_message = "Give CIDR blocks narrower than 0.0.0.0/0."
  }
}
