"""Validate every answer before cookiecutter writes a single template file.

Cookiecutter renders this file with the answers and runs it inside the new,
still empty project directory. Every rule is checked, every broken rule is
reported (field, value, rule) and the hook exits 1, so cookiecutter deletes
the directory and nothing is left behind. On success it writes
``environments.json``: the parsed per-environment answers and the AWS resource
names derived from them, the one place Terraform, the DAG and CI read them from.

The logic lives in plain functions so the template's tests import and call
them directly. The hook is deterministic and offline, so cruft can re-run it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

# The environment name dbt uses when ENV is unset: a laptop, never a deployment.
RESERVED_ENVIRONMENT = "local"

PROJECT_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# GitHub owner (user or organisation) / repository name, as in the OIDC subject claim.
GITHUB_REPOSITORY_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/[A-Za-z0-9._-]{1,100}$")
ENVIRONMENT_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
ACCOUNT_ID_RE = re.compile(r"^[0-9]{12}$")
SUBNET_RE = re.compile(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")
SECURITY_GROUP_RE = re.compile(r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$")
REGION_RE = re.compile(
    r"^(us|eu|ap|sa|ca|me|af|il|mx)-"
    r"(north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9]$"
)
YES_NO = ("yes", "no")
# Redshift: a cluster identifier, a Serverless workgroup name, a database or user name.
CLUSTER_ID_RE = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,61}[a-z0-9]$|^[a-z]$")
WORKGROUP_RE = re.compile(r"^[a-z0-9-]{3,64}$")
DATABASE_IDENTIFIER_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
REDSHIFT_PORT = 5439
# The database user of pull-request builds (warehouse/grants.sql creates it).
CI_USER = "dbt_ci"
# GitLab project path (group[/subgroup...]/project), as in its OIDC subject claim.
GITLAB_PROJECT_PATH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)+$")
GITLAB_URL_RE = re.compile(r"^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")

CHOICES = {
    "create_security_group": YES_NO,
    "cpu_architecture": ("X86_64", "ARM64"),
    "use_fargate_spot": YES_NO,
    "credentials_source": (
        "iam",
        "secrets_manager",
        "ssm_parameter_store",
        "glue_connection",
        "ecs_secrets",
    ),
    "warehouse_type": ("provisioned", "serverless"),
    "ci_provider": ("github", "gitlab", "none"),
    "notifications": ("none", "slack", "sns"),
    "airflow_deferrable": YES_NO,
    "sandbox_user_suffix": YES_NO,
    "fail_on_stale_sources": YES_NO,
    "dbt_log_format": ("text", "json"),
}

# Memory (MiB) that Fargate accepts for each CPU value (CPU units).
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# AWS name limits of every resource the project name and an environment name.
NAME_LIMITS = {
    "ecr_repository": 256,
    "ecs_cluster": 255,
    "task_family": 255,
    "task_role": 64,
    "execution_role": 64,
    "docs_bucket": 63,
    "state_bucket": 63,
    "log_group": 512,
    "alerts_topic": 256,
    "ci_plan_role": 64,
    "ci_deploy_role": 64,
    "ci_task_family": 255,
    "ci_task_role": 64,
    "ci_log_group": 512,
    "airflow_policy": 128,
}

CRON_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())},
    ),
    ("day of week", 0, 7, {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}),
)
CRON_PRESETS = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly")

WAREHOUSE_ID_RULES = {
    "provisioned": (
        CLUSTER_ID_RE,
        "must be a Redshift cluster identifier: 1-63 lowercase letters, digits or hyphens, "
        "starting with a letter, no '--', not ending with '-'",
    ),
    "serverless": (
        WORKGROUP_RE,
        "must be a Redshift Serverless workgroup name: 3-64 lowercase letters, digits or hyphens",
    ),
}

PER_ENVIRONMENT_FIELDS = ("aws_account_ids", "subnet_ids", "security_group_ids", "warehouse_ids")


def resource_names(project_name: str, environment: str, account_id: str) -> dict[str, str]:
    """The AWS names of one environment's resources, shared by Terraform, the DAG and CI."""
    base = f"{project_name}-{environment}"
    return {
        "ecr_repository": base,
        "ecs_cluster": base,
        "task_family": f"{base}-dbt",
        "container": "dbt",
        "task_role": f"{base}-dbt-task",
        "execution_role": f"{base}-dbt-execution",
        "docs_bucket": f"{base}-docs-{account_id}",
        "state_bucket": f"{base}-tfstate-{account_id}",
        "state_kms_alias": f"{base}-tfstate",
        "log_group": f"/ecs/{base}-dbt",
        # SNS topic the DAG notifies on failure (notifications=sns).
        "alerts_topic": f"{base}-dbt-alerts",
        # Roles CI assumes through OIDC: read-only for pull-request plans, deploy for applies.
        "ci_plan_role": f"{base}-ci-plan",
        "ci_deploy_role": f"{base}-ci-deploy",
        # Terraform: the task's security group (create_security_group=yes), the KMS key's
        # alias, the policy for the Airflow role, and where the warehouse credentials live.
        "security_group": f"{base}-dbt",
        "kms_alias": base,
        "airflow_policy": f"{base}-run-dbt",
        "credentials_secret": f"{project_name}/{environment}/warehouse",
        "credentials_parameter_path": f"/{project_name}/{environment}/warehouse",
        "glue_connection": f"{base}-warehouse",
        # Pull-request builds: their own task family, role, log group and warehouse credentials,
        # so a pull request never reaches the deployment's.
        "ci_task_family": f"{base}-dbt-ci",
        "ci_task_role": f"{base}-dbt-ci-task",
        "ci_log_group": f"/ecs/{base}-dbt-ci",
        "ci_credentials_secret": f"{project_name}/{environment}/warehouse-ci",
        "ci_credentials_parameter_path": f"/{project_name}/{environment}/warehouse-ci",
        "ci_glue_connection": f"{base}-warehouse-ci",
    }


def parse_environment_map(field: str, value: Any, errors: list[str]) -> dict[str, list[str]]:
    """Parse ``env=a,b env2=c`` into ``{"env": ["a", "b"], "env2": ["c"]}``."""
    if not isinstance(value, str):
        errors.append(
            f"{field}: {value!r} is not a string; give 'env=value[,value...]' entries "
            "separated by spaces (also in a config file)"
        )
        return {}
    parsed: dict[str, list[str]] = {}
    for entry in value.split():
        name, sep, items = entry.partition("=")
        if not sep or not name:
            errors.append(f"{field}: entry {entry!r} must look like 'env=value[,value...]'")
            continue
        if name in parsed:
            errors.append(f"{field}: environment {name!r} is given twice")
            continue
        parsed[name] = [item for item in items.split(",") if item]
    return parsed


def check_environment_names(value: Any, errors: list[str]) -> list[str]:
    if not isinstance(value, str):
        errors.append(f"environments: {value!r} is not a string; give names separated by spaces")
        return []
    names = value.split()
    if not names:
        errors.append("environments: '' must name at least one deployment environment")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            errors.append(f"environments: {name!r} is listed twice; names must be unique")
        seen.add(name)
        if name == RESERVED_ENVIRONMENT:
            errors.append(f"environments: {name!r} is reserved for local runs (ENV unset); pick another name")
        elif not ENVIRONMENT_RE.match(name):
            errors.append(f"environments: {name!r} must be 1-10 lowercase letters or digits, starting with a letter")
    return list(dict.fromkeys(names))


def check_per_environment(
    answers: dict[str, Any], environments: list[str], errors: list[str]
) -> dict[str, dict[str, Any]]:
    maps = {field: parse_environment_map(field, answers.get(field), errors) for field in PER_ENVIRONMENT_FIELDS}
    rules = {
        "aws_account_ids": (ACCOUNT_ID_RE, "must be 12 digits"),
        "subnet_ids": (SUBNET_RE, "must be 'subnet-' and 8 or 17 lowercase hex digits"),
        "security_group_ids": (SECURITY_GROUP_RE, "must be 'sg-' and 8 or 17 lowercase hex digits"),
        "warehouse_ids": WAREHOUSE_ID_RULES.get(answers.get("warehouse_type"), WAREHOUSE_ID_RULES["provisioned"]),
    }
    for field, values in maps.items():
        pattern, rule = rules[field]
        for env in values:
            if env not in environments:
                errors.append(f"{field}: {env!r} is not in environments {' '.join(environments)!r}")
        for env, items in values.items():
            for item in items:
                if not pattern.match(item):
                    errors.append(f"{field}: {item!r} (environment {env!r}) {rule}")
            if field in ("aws_account_ids", "warehouse_ids") and len(items) > 1:
                errors.append(f"{field}: environment {env!r} has {len(items)} values; give one")
            duplicates = sorted({item for item in items if items.count(item) > 1})
            if duplicates:
                errors.append(f"{field}: environment {env!r} lists {', '.join(duplicates)} twice")

    security_groups_optional = answers.get("create_security_group") == "yes"
    for env in environments:
        for field in PER_ENVIRONMENT_FIELDS:
            if maps[field].get(env):
                continue
            if field == "security_group_ids" and security_groups_optional:
                continue
            if field == "warehouse_ids":
                continue  # may be filled in environments.json later: post_gen_project names what is missing
            errors.append(f"{field}: environment {env!r} has no value; add '{env}=...'")

    return {
        env: {
            "account_id": (maps["aws_account_ids"].get(env) or [""])[0],
            "subnet_ids": maps["subnet_ids"].get(env, []),
            "security_group_ids": maps["security_group_ids"].get(env, []),
            "warehouse_id": (maps["warehouse_ids"].get(env) or [""])[0],
        }
        for env in environments
    }


def check_identifier(field: str, value: Any, errors: list[str]) -> None:
    if not isinstance(value, str) or not DATABASE_IDENTIFIER_RE.match(value):
        errors.append(
            f"{field}: {value!r} must be a database identifier: 1-63 lowercase letters, digits "
            "or underscores, starting with a letter or underscore"
        )


def warehouse(answers: dict[str, Any], region: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """One environment's warehouse connection: configuration, not secrets.

    Terraform passes it to the task definition's environment; a secret or parameter holds
    only the password. The host of a provisioned cluster carries a random part AWS picks, so
    it is left empty: the runner looks it up from the cluster identifier (DescribeClusters).
    A Serverless workgroup's endpoint is derived from its name, account and region.
    """
    kind = answers.get("warehouse_type")
    warehouse_id = settings["warehouse_id"]
    host = ""
    if kind == "serverless" and warehouse_id:
        host = f"{warehouse_id}.{settings['account_id']}.{region}.redshift-serverless.amazonaws.com"
    return {
        "type": kind,
        "id": warehouse_id,
        "host": host,
        "port": REDSHIFT_PORT,
        "database": answers.get("warehouse_database"),
        "schema": answers.get("warehouse_schema"),
        "user": answers.get("warehouse_user"),
        # The identity of pull-request builds: creates and drops only *_pr_* schemas (warehouse/grants.sql).
        "ci_user": CI_USER,
    }


def check_gitlab(answers: dict[str, Any], errors: list[str]) -> dict[str, str] | None:
    if answers.get("ci_provider") != "gitlab":
        return None
    path, url = answers.get("gitlab_project_path"), answers.get("gitlab_url")
    if not isinstance(path, str) or not GITLAB_PROJECT_PATH_RE.match(path):
        errors.append(f"gitlab_project_path: {path!r} must be 'group/project' (subgroups allowed) as on GitLab")
    if not isinstance(url, str) or not GITLAB_URL_RE.match(url):
        errors.append(
            f"gitlab_url: {url!r} must be the https:// address of the GitLab instance, e.g. https://gitlab.com"
        )
    return {"url": url, "project_path": path}


def check_project_name(value: Any, errors: list[str]) -> None:
    if not isinstance(value, str) or not PROJECT_NAME_RE.match(value):
        errors.append(
            f"project_name: {value!r} must be kebab-case: lowercase letters and digits, "
            "words joined by single hyphens, starting with a letter"
        )
    elif len(value) < 3:
        errors.append(f"project_name: {value!r} must be at least 3 characters")


def check_resource_names(project_name: str, environments: dict[str, dict[str, Any]], errors: list[str]) -> None:
    for env, settings in environments.items():
        # A placeholder account keeps the length check meaningful when the real one is missing.
        account_id = settings["account_id"] or "0" * 12
        for resource, name in resource_names(project_name, env, account_id).items():
            limit = NAME_LIMITS.get(resource)
            if limit and len(name) > limit:
                errors.append(
                    f"project_name: {project_name!r} with environment {env!r} makes the {resource} "
                    f"name {name!r} {len(name)} characters long; AWS allows {limit}"
                )


def check_cron(value: Any, errors: list[str]) -> None:
    if not isinstance(value, str):
        errors.append(f"schedule: {value!r} is not a string")
        return
    if value in CRON_PRESETS:
        return
    fields = value.split()
    if len(fields) != 5:
        errors.append(
            f"schedule: {value!r} must have five cron fields (minute hour day-of-month month "
            f"day-of-week) or be one of {', '.join(CRON_PRESETS)}"
        )
        return
    for text, (name, low, high, aliases) in zip(fields, CRON_FIELDS, strict=True):
        if not _cron_field_ok(text, low, high, aliases):
            errors.append(f"schedule: field {name} {text!r} in {value!r} is not valid cron ({low}-{high})")


def _cron_field_ok(text: str, low: int, high: int, aliases: dict[str, int]) -> bool:
    def number(token: str) -> int | None:
        token = aliases.get(token.upper(), token) if aliases else token
        if isinstance(token, int):
            return token
        return int(token) if token.isdigit() and low <= int(token) <= high else None

    for part in text.split(","):
        span, _, step = part.partition("/")
        if step and not (step.isdigit() and 0 < int(step) <= high):
            return False
        if span == "*":
            continue
        start, dash, end = span.partition("-")
        first = number(start)
        if first is None:
            return False
        if dash:
            last = number(end)
            if last is None or last < first:
                return False
        elif step:
            # "5/15" means "from 5, every 15": valid; a bare step needs a start.
            continue
    return True


def check_fargate_size(cpu: Any, memory: Any, errors: list[str]) -> None:
    cpu_units = int(cpu) if isinstance(cpu, str) and cpu.isdigit() else None
    memory_mib = int(memory) if isinstance(memory, str) and memory.isdigit() else None
    if cpu_units not in FARGATE_MEMORY:
        errors.append(f"fargate_cpu: {cpu!r} must be one of {', '.join(map(str, FARGATE_MEMORY))}")
        return
    allowed = FARGATE_MEMORY[cpu_units]
    if memory_mib not in allowed:
        errors.append(
            f"fargate_memory: {memory!r} is not a size Fargate accepts with fargate_cpu {cpu}; "
            f"choose one of {', '.join(map(str, allowed))} MiB"
        )


def check_text(field: str, value: Any, errors: list[str], max_length: int = 200) -> None:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{field}: {value!r} must be a non-empty line of text")
    elif "\n" in value or len(value) > max_length or '"' in value or "\\" in value:
        errors.append(
            f"{field}: {value!r} must be one line of at most {max_length} characters "
            "without double quotes or backslashes"
        )


def validate(answers: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Check every answer. Returns (errors, the environments.json document)."""
    errors: list[str] = []
    project_name = answers.get("project_name")
    check_project_name(project_name, errors)
    check_text("description", answers.get("description"), errors)
    check_text("owner", answers.get("owner"), errors)
    region = answers.get("aws_region")
    if not isinstance(region, str) or not REGION_RE.match(region):
        errors.append(f"aws_region: {region!r} is not an AWS region name such as eu-west-1 or us-east-2")
    names = check_environment_names(answers.get("environments"), errors)
    environments = check_per_environment(answers, names, errors)
    if isinstance(project_name, str) and PROJECT_NAME_RE.match(project_name):
        check_resource_names(project_name, environments, errors)
    check_cron(answers.get("schedule"), errors)
    check_fargate_size(answers.get("fargate_cpu"), answers.get("fargate_memory"), errors)
    github_repository = answers.get("github_repository")
    if answers.get("ci_provider") == "github" and (
        not isinstance(github_repository, str)
        or not GITHUB_REPOSITORY_RE.match(github_repository)
        or github_repository.split("/")[1] in (".", "..")
    ):
        errors.append(
            f"github_repository: {github_repository!r} must be 'owner/name' as on GitHub, e.g. my-org/analytics-dbt"
        )
    gitlab = check_gitlab(answers, errors)
    for field in ("warehouse_database", "warehouse_schema", "warehouse_user"):
        check_identifier(field, answers.get(field), errors)
    for field, choices in CHOICES.items():
        if answers.get(field) not in choices:
            errors.append(f"{field}: {answers.get(field)!r} must be one of {', '.join(choices)}")

    document = {
        "project_name": project_name,
        "aws_region": region,
        # The only repository whose workflows may assume the CI roles (GitHub OIDC); null without GitHub.
        "github_repository": github_repository if answers.get("ci_provider") == "github" else None,
        # The GitLab instance and project whose pipelines may assume the CI roles; null without GitLab.
        "gitlab": gitlab,
        "environments": {
            env: {
                "account_id": settings["account_id"],
                "subnet_ids": settings["subnet_ids"],
                "security_group_ids": settings["security_group_ids"],
                "warehouse": warehouse(answers, region, settings),
                "names": resource_names(str(project_name), env, settings["account_id"]),
            }
            for env, settings in environments.items()
        },
    }
    return errors, document


def main(answers: dict[str, Any], project_dir: Path) -> int:
    errors, document = validate(answers)
    if errors:
        print(f"cookiecutter-dbt-aws: {len(errors)} invalid answer(s), nothing was generated:", file=sys.stderr)
        for error in errors:
            print(f"  - {error}", file=sys.stderr)
        return 1
    (project_dir / "environments.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}"""), Path.cwd()))
