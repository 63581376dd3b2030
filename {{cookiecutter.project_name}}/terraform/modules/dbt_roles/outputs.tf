output "task_role_arn" {
  description = "ARN of the role the dbt process runs as."
  value       = aws_iam_role.task.arn
}

output "task_role_name" {
  description = "Name of the role the dbt process runs as."
  value       = aws_iam_role.task.name
}

output "execution_role_arn" {
  description = "ARN of the role ECS starts the task with."
  value       = aws_iam_role.execution.arn
}

output "execution_role_name" {
  description = "Name of the role ECS starts the task with."
  value       = aws_iam_role.execution.name
}
