output "plan_role_arn" {
  description = "Role that pull-request jobs and main assume: plan and slim CI."
  value       = aws_iam_role.plan.arn
}

output "deploy_role_arn" {
  description = "Role that deployment jobs of the GitHub environment assume, from main only."
  value       = aws_iam_role.deploy.arn
}

output "provider_arn" {
  description = "The account's GitHub OIDC provider."
  value       = local.provider_arn
}
