output "state_bucket" {
  description = "Bucket of the environment's Terraform state."
  value       = module.state_bucket.name
}
