output "name" {
  description = "Name of the cluster."
  value       = aws_ecs_cluster.this.name
}

output "arn" {
  description = "ARN of the cluster."
  value       = aws_ecs_cluster.this.arn
}

output "capacity_provider" {
  description = "Capacity provider of the default strategy (FARGATE or FARGATE_SPOT)."
  value       = local.capacity_provider
}
