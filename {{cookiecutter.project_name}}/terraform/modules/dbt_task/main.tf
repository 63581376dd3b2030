data "aws_region" "current" {}

resource "aws_cloudwatch_log_group" "this" {
  name              = var.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

locals {
  environment = [
    for name in sort(keys(var.environment_variables)) : { name = name, value = var.environment_variables[name] }
  ]
  secrets = [
    for name in sort(keys(var.secrets)) : { name = name, valueFrom = var.secrets[name] }
  ]
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Fargate's ephemeral storage, mounted writable while the image stays read-only.
  volume {
    name = "scratch"
  }

  # ECS and the provider normalise the JSON; keys with default values are
  # spelled out so the next plan sees no difference.
  container_definitions = jsonencode([
    merge(
      {
        name                   = var.container_name
        image                  = "${var.image}:${var.image_tag}"
        essential              = true
        readonlyRootFilesystem = true
        environment            = local.environment
        mountPoints = [
          { sourceVolume = "scratch", containerPath = var.scratch_path, readOnly = false },
        ]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = aws_cloudwatch_log_group.this.name
            awslogs-region        = data.aws_region.current.name
            awslogs-stream-prefix = var.log_stream_prefix
          }
        }
      },
      length(local.secrets) > 0 ? { secrets = local.secrets } : {},
    )
  ])
}
