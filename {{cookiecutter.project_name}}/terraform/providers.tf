provider "aws" {
  region = local.region

  # Credentials for another account make every plan fail before it reads anything.
  allowed_account_ids = [local.settings.account_id]

  default_tags {
    tags = local.tags
  }

  # Everything below is inert unless aws_endpoint_url points at an emulator.
  s3_use_path_style = var.aws_endpoint_url != ""

  dynamic "endpoints" {
    for_each = var.aws_endpoint_url == "" ? [] : [var.aws_endpoint_url]

    content {
      ec2            = endpoints.value
      ecr            = endpoints.value
      ecs            = endpoints.value
      iam            = endpoints.value
      kms            = endpoints.value
      logs           = endpoints.value
      s3             = endpoints.value
      secretsmanager = endpoints.value
      sns            = endpoints.value
      ssm            = endpoints.value
      sts            = endpoints.value
    }
  }
}
