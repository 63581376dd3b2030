output "policy_arn" {
  description = "ARN of the policy; attach it to the Airflow role if airflow_role_name was left empty."
  value       = aws_iam_policy.this.arn
}

output "attached_to" {
  description = "Role the policy is attached to, or null when it is only created."
  value       = var.airflow_role_name == "" ? null : var.airflow_role_name
}
