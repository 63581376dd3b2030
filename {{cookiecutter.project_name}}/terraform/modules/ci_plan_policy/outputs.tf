output "json" {
  description = "The plan role's policy: what `terraform plan` of this root and slim CI read, the state lock, and (pull_request_builds) what starts and follows a pull request's CI task."
  value       = data.aws_iam_policy_document.this.json
}

output "wildcard_only_actions" {
  description = "The actions the policy grants on Resource \"*\", because AWS has no resource type for them."
  value       = local.wildcard_only_actions
}
