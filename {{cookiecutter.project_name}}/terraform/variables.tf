# Defaults are the answers this repository was generated with; environments.json
# holds everything that differs between environments.

variable "environment" {
  description = "Deployment environment to plan or apply: a key of environments.json."
  type        = string

  validation {
    condition     = contains(keys(jsondecode(file("${path.module}/../environments.json")).environments), var.environment)
    error_message = "The environment must be one of those in environments.json: {{ cookiecutter.environments }}."
  }
}

variable "image_tag" {
  description = "Tag of the dbt image the task definition runs; CI passes the commit SHA it built."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$", var.image_tag))
    error_message = "Docker tags are 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'."
  }
}

variable "airflow_role_name" {
  description = "IAM role the Airflow environment runs as, to attach the run-dbt policy to. Empty: create the policy only."
  type        = string
  default     = ""
}

variable "fargate_cpu" {
  description = "Fargate CPU units of the dbt task."
  type        = number
  default     = {{ cookiecutter.fargate_cpu }}
}

variable "fargate_memory" {
  description = "Memory of the dbt task in MiB."
  type        = number
  default     = {{ cookiecutter.fargate_memory }}
}

variable "cpu_architecture" {
  description = "CPU architecture the image is built for: X86_64 or ARM64."
  type        = string
  default     = "{{ cookiecutter.cpu_architecture }}"
}

variable "use_fargate_spot" {
  description = "Run on FARGATE_SPOT by default (cheaper, can be interrupted)."
  type        = bool
  default     = {{ "true" if cookiecutter.use_fargate_spot == "yes" else "false" }}
}

variable "credentials_source" {
  description = "How dbt signs in to the warehouse: iam (temporary database credentials from the task role, nothing stored), or the store of its password: secrets_manager, ssm_parameter_store, glue_connection or ecs_secrets."
  type        = string
  default     = "{{ cookiecutter.credentials_source }}"

  validation {
    condition     = contains(["iam", "secrets_manager", "ssm_parameter_store", "glue_connection", "ecs_secrets"], var.credentials_source)
    error_message = "credentials_source is iam, secrets_manager, ssm_parameter_store, glue_connection or ecs_secrets."
  }
}

variable "create_security_group" {
  description = "Create a security group for the task, in addition to the environment's security_group_ids."
  type        = bool
  default     = {{ "true" if cookiecutter.create_security_group == "yes" else "false" }}
}

variable "create_alerts_topic" {
  description = "Create the SNS topic the DAG notifies on failure (and let Airflow publish to it)."
  type        = bool
  default     = {{ "true" if cookiecutter.notifications == "sns" else "false" }}
}

variable "warehouse_port" {
  description = "TCP port of the warehouse, opened by the created security group."
  type        = number
  default     = 5439
}

variable "warehouse_cidr_blocks" {
  description = "Where the warehouse is, for the created security group; empty means the VPC's CIDR block."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the dbt logs."
  type        = number
  default     = 365
}

variable "run_artifacts_expiration_days" {
  description = "Days the artifacts of each run (under runs/ in the docs bucket) are kept."
  type        = number
  default     = 90
}

variable "dbt_log_format" {
  description = "dbt's log format in the container: text or json."
  type        = string
  default     = "{{ cookiecutter.dbt_log_format }}"

  validation {
    condition     = contains(["text", "json"], var.dbt_log_format)
    error_message = "dbt_log_format is text or json."
  }
}

variable "tags" {
  description = "Extra tags for every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
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

variable "ci_deploy_policy_arns" {
  description = "Managed policies of each environment's CI deploy role (GitHub or GitLab), by environment: what applying this Terraform needs. Set in ci.auto.tfvars."
  type        = map(list(string))
  default     = {}

  validation {
    condition     = alltrue([for arn in flatten(values(var.ci_deploy_policy_arns)) : can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/", arn))])
    error_message = "Give IAM policy ARNs (arn:aws:iam::<account or aws>:policy/<name>)."
  }
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider; false when another stack already has (an account has one per issuer)."
  type        = bool
  default     = true
}

variable "create_gitlab_oidc_provider" {
  description = "Create the account's OIDC provider for the GitLab instance; false when another stack already has (an account has one per issuer)."
  type        = bool
  default     = true
}
