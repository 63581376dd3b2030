terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  # The state bucket cannot hold its own creation's state: this root keeps a
  # local state file per environment (`make tf-bootstrap` passes the path).
  backend "local" {}
}
