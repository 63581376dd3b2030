output "plan_role_arn" {
  description = "Role that merge request pipelines assume: plan and slim CI."
  value       = aws_iam_role.plan.arn
}

output "deploy_role_arn" {
  description = "Role that deployment jobs on main assume."
  value       = aws_iam_role.deploy.arn
}

output "provider_arn" {
  description = "The account's OIDC provider for the GitLab instance."
  value       = local.provider_arn
}
