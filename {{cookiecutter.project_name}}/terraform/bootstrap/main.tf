# Run once per environment, before the first `make tf-init`: the S3 bucket
# that holds the environment's Terraform state (locking uses lock files in the
# same bucket, so no DynamoDB table is needed) and the KMS key it is encrypted
# with, whose alias (names.state_kms_alias) the backend configuration names.

locals {
  config   = jsondecode(file("${path.module}/../../environments.json"))
  settings = local.config.environments[var.environment]
}

provider "aws" {
  region              = local.config.aws_region
  allowed_account_ids = [local.settings.account_id]

  default_tags {
    tags = {
      Project     = local.config.project_name
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }

  # Inert unless aws_endpoint_url points at an emulator.
  s3_use_path_style = var.aws_endpoint_url != ""

  dynamic "endpoints" {
    for_each = var.aws_endpoint_url == "" ? [] : [var.aws_endpoint_url]

    content {
      iam = endpoints.value
      kms = endpoints.value
      s3  = endpoints.value
      sts = endpoints.value
    }
  }
}

module "state_key" {
  source = "../modules/kms_key"

  alias       = local.settings.names.state_kms_alias
  description = "${local.config.project_name} ${var.environment}: Terraform state"
}

module "state_bucket" {
  source = "../modules/s3_bucket"

  name        = local.settings.names.state_bucket
  kms_key_arn = module.state_key.arn
  # Old state versions are the way back from a bad apply: keep them a year.
  noncurrent_version_expiration_days = 365
}
