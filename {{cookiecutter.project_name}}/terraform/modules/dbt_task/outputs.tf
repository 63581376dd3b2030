output "family" {
  description = "Family of the task definition; RunTask with the family runs the latest revision."
  value       = aws_ecs_task_definition.this.family
}

output "arn" {
  description = "ARN of the current revision."
  value       = aws_ecs_task_definition.this.arn
}

output "family_arn" {
  description = "ARN pattern matching every revision of the family (for IAM policies)."
  value       = "${aws_ecs_task_definition.this.arn_without_revision}:*"
}

output "container_name" {
  description = "Name of the dbt container."
  value       = var.container_name
}

output "log_group_name" {
  description = "Name of the log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the log group (without the :* suffix)."
  value       = aws_cloudwatch_log_group.this.arn
}

output "log_stream_prefix" {
  description = "Prefix of the log streams: <prefix>/<container>/<task id>."
  value       = "${var.log_stream_prefix}/${var.container_name}"
}
