terraform {
  # 1.10: S3 backend locking without DynamoDB (use_lockfile).
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  # Partial configuration: `make tf-init ENV=<env>` passes the environment's
  # state bucket, key and region from environments.json.
  backend "s3" {}
}
