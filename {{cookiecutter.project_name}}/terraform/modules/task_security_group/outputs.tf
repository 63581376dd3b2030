output "id" {
  description = "ID of the security group."
  value       = aws_security_group.this.id
}

output "vpc_id" {
  description = "VPC of the group (and of the subnets)."
  value       = aws_security_group.this.vpc_id
}
