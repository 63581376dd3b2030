# Managed policies of each environment's CI deploy role (module github_oidc or gitlab_oidc).
# Empty on purpose: the role that applies this Terraform needs broad rights, and
# which ones is your organisation's decision. Commit the choice here, so every
# apply, by hand or by CI, keeps it.
{%- set width = cookiecutter.environments.split() | map('length') | max %}
ci_deploy_policy_arns = {
{%- for env in cookiecutter.environments.split() %}
  {{ env.ljust(width) }} = []
{%- endfor %}
}
