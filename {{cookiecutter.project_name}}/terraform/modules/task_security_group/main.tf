data "aws_subnet" "task" {
  id = var.subnet_id
}

data "aws_vpc" "task" {
  id = data.aws_subnet.task.vpc_id
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached per run: the Airflow DAG passes this group to ecs:RunTask, which Terraform does not model.
  name        = var.name
  description = "dbt task: no inbound traffic; outbound to the warehouse and to AWS APIs over HTTPS"
  vpc_id      = data.aws_subnet.task.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "warehouse" {
  for_each = toset(length(var.warehouse_cidr_blocks) > 0 ? var.warehouse_cidr_blocks : [data.aws_vpc.task.cidr_block])

  security_group_id = aws_security_group.this.id
  description       = "Warehouse"
  ip_protocol       = "tcp"
  from_port         = var.warehouse_port
  to_port           = var.warehouse_port
  cidr_ipv4         = each.value
}

# ECR, CloudWatch Logs, S3 and Secrets Manager are reached over HTTPS, through
# a NAT gateway or VPC endpoints whose addresses are not known here.
resource "aws_vpc_security_group_egress_rule" "aws_apis" {
  security_group_id = aws_security_group.this.id
  description       = "AWS APIs over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
