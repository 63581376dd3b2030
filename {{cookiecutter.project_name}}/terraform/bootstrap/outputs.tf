output "state_bucket" {
  description = "Bucket of the environment's Terraform state."
  value       = module.state_bucket.name
}

output "state_kms_alias" {
  description = "Alias of the state's KMS key; `make tf-init` passes its ARN as the backend's kms_key_id."
  value       = module.state_key.alias
}
