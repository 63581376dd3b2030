"""The generated Terraform, proved by the real tools.

- terraform fmt, init (from the local provider mirror) and validate, on both roots;
- `terraform test`: the generated mock-provider tests (terraform/tests/);
- checkov: no failed check, and every skip inline with a reason;
- the whole life of an environment against a moto server, through the generated
  Makefile: bootstrap the state bucket, `make plan`, `make apply` (every planned
  resource exists), a second plan with no changes, `terraform destroy`;
- every IAM policy document Terraform wrote has no Action or Resource "*" beyond
  the listed exceptions; the account guard refuses another environment's account;
- the CI roles, evaluated from the applied policies with a small IAM evaluator: the
  plan role reads no credentials, no logs and no objects but the state and the
  production manifest, and takes its own lock; the deploy role trusts only the
  environment on main (GitHub in "default", GitLab in "full");
- pull-request builds, from the same applied states: the plan role runs the CI family
  (only) in the cluster, passes the CI roles (only) to ECS, ships to and reads ci/,
  reads the CI log group; the CI task role reads CI's identity, never the deployment's,
  and never writes latest/.

The heavy steps of every bake start together when the module starts (a thread
pool), so terraform, checkov and moto overlap on the two cores; each test then
asserts on its own result.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import bake, require_tool, require_venv_python
from tests.moto_server import MotoServer

ACCOUNT = "111111111111"
REGION = "eu-west-1"
IMAGE_TAG = "0123456789abcdef0123456789abcdef01234567"
AIRFLOW_ROLE = "airflow-execution"

# IAM actions AWS offers only on Resource "*", and why each is needed.
WILDCARD_RESOURCE_ALLOWED = {
    "ecr:GetAuthorizationToken": "ECR login has no resource-level permission; the execution role pulls the image",
}
# The CI plan role's refresh reads (module ci_plan_policy, local.wildcard_only_actions):
# AWS has no resource type for these actions, so they are authorised on "*" only.
CI_PLAN_WILDCARD_ACTIONS = {
    "ec2:DescribeSecurityGroupRules": "the created security group's rules",
    "ec2:DescribeSecurityGroups": "the created security group",
    "ec2:DescribeSubnets": "the security group's subnet (data source)",
    "ec2:DescribeVpcs": "the security group's VPC (data source)",
    "ecs:DescribeTaskDefinition": "the task definition",
    "iam:ListOpenIDConnectProviders": "the OIDC provider, when another stack made it (data source)",
    "kms:ListAliases": "the KMS key's alias",
}
WILDCARD_RESOURCE_ALLOWED |= CI_PLAN_WILDCARD_ACTIONS

# The bakes: name -> answers. "full" gets its subnets from moto at bake time.
BAKES: dict[str, dict[str, str]] = {
    "default": {"warehouse_ids": "dev=analytics-dev live=analytics-live"},
    "full": {
        "project_name": "full-dbt",
        "environments": "prod",
        "aws_account_ids": f"prod={ACCOUNT}",
        "warehouse_ids": "prod=full-prod",
        "security_group_ids": "",
        "create_security_group": "yes",
        "credentials_source": "ecs_secrets",
        "cpu_architecture": "ARM64",
        "fargate_cpu": "1024",
        "fargate_memory": "2048",
        "use_fargate_spot": "yes",
        "notifications": "sns",
        # An account has one OIDC provider per issuer, and "default" creates GitHub's in the
        # same moto account: this bake takes GitLab, whose provider and roles Terraform makes.
        "ci_provider": "gitlab",
        "gitlab_url": "https://gitlab.example.com",
        "gitlab_project_path": "data/platform/full-dbt",
    },
    "glue": {"project_name": "glue-dbt", "credentials_source": "glue_connection"},
    "ssm": {"project_name": "ssm-dbt", "credentials_source": "ssm_parameter_store"},
}


# Bakes whose `terraform test` runs (the others: fmt and validate, and apply in moto).
MOCK_TESTED = ("default", "full")


@dataclass
class Result:
    """Commands run and what they printed, for the failure message."""

    log: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def run(self, args: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> int:
        proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        self.log.append(
            f"$ {' '.join(args)}  (in {cwd.name}, exit {proc.returncode})\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
        if proc.returncode not in ok:
            raise AssertionError(self.text())
        return proc.returncode

    def output(self, args: list[str], cwd: Path, env: dict[str, str]) -> str:
        proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            self.log.append(f"$ {' '.join(args)}  (exit {proc.returncode})\n{proc.stderr[-3000:]}")
            raise AssertionError(self.text())
        return proc.stdout

    def text(self) -> str:
        return "\n".join(self.log)[-12000:]


def static_checks(terraform: str, project: Path, env: dict[str, str], mock_tests: bool) -> Result:
    result = Result()
    root = project / "terraform"
    result.run([terraform, "fmt", "-check", "-recursive", "-diff"], root, env)
    for directory in (root, root / "bootstrap"):
        result.run([terraform, "init", "-backend=false", "-input=false", "-no-color"], directory, env)
        result.run([terraform, "validate", "-no-color"], directory, env)
    if mock_tests:
        result.run([terraform, "test", "-no-color"], root, env)
    return result


def run_checkov(checkov: Path, roots: list[Path]) -> dict[str, Any]:
    args = [str(checkov.parent / "checkov"), "--framework", "terraform", "--skip-download", "-o", "json"]
    for root in roots:
        args += ["-d", str(root)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    # One JSON document per -d, one after the other.
    reports, decoder, text, index = [], json.JSONDecoder(), proc.stdout, 0
    while text[index:].strip():
        index += len(text[index:]) - len(text[index:].lstrip())
        document, index = decoder.raw_decode(text, index)
        reports.extend(document if isinstance(document, list) else [document])
    if len(reports) != len(roots):
        raise AssertionError(f"checkov reported on {len(reports)} of {len(roots)} roots (exit {proc.returncode}):\n"
                             f"{proc.stderr[-4000:]}")  # fmt: skip
    return {"reports": reports, "exit": proc.returncode}


def backend_file(moto: MotoServer, directory: Path) -> Path:
    path = directory / "moto.s3.tfbackend"
    path.write_text(
        f'endpoints = {{ s3 = "{moto.endpoint_url}", sts = "{moto.endpoint_url}", iam = "{moto.endpoint_url}" }}\n'
        "use_path_style = true\n"
        "skip_credentials_validation = true\n"
        "skip_requesting_account_id = true\n"
        "skip_metadata_api_check = true\n",
        encoding="utf-8",
    )
    return path


def lifecycle(terraform: str, project: Path, environment: str, moto: MotoServer, env: dict[str, str]) -> Result:
    """Bootstrap, plan, apply, re-plan, read the state, destroy: one environment's whole life."""
    result = Result()
    root = project / "terraform"
    env = {
        **env,
        **moto.aws_env(),
        "TF_VAR_aws_endpoint_url": moto.endpoint_url,
        "TF_VAR_airflow_role_name": AIRFLOW_ROLE,
    }
    env.pop("AWS_ENDPOINT_URL")  # the variable, not the SDK default, must route every call
    make = ["make", "--no-print-directory", f"ENV={environment}", f"IMAGE_TAG={IMAGE_TAG}", "PYTHON=python3"]
    backend = backend_file(moto, project)
    result.run([*make, "tf-bootstrap", "TF_APPLY_FLAGS=-auto-approve -no-color"], project, env)
    # moto ignores the aws:SecureTransport condition of the TLS-only bucket policy and so
    # denies every object request, even over HTTPS; AWS does not. Lift it for the state.
    document = json.loads((project / "environments.json").read_text())
    names = document["environments"][environment]["names"]
    result.data["config"], result.data["names"] = document, names
    boto3.client("s3", **moto.boto3_kwargs()).delete_bucket_policy(Bucket=names["state_bucket"])
    result.run([*make, "plan", f"TF_BACKEND_FLAGS=-backend-config={backend}"], project, env)
    plan = json.loads(result.output([terraform, "show", "-json", f"{environment}.tfplan"], root, env))
    result.data["planned"] = sorted(
        change["address"] for change in plan["resource_changes"] if change["change"]["actions"] == ["create"]
    )
    result.run([*make, "apply"], project, env)
    # The state is encrypted with the state key (the Makefile's kms_key_id), not the bucket's default.
    head = boto3.client("s3", **moto.boto3_kwargs()).head_object(Bucket=names["state_bucket"], Key="terraform.tfstate")
    result.data["state_sse"] = (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId"))
    result.data["state_list"] = sorted(result.output([terraform, "state", "list"], root, env).split())
    result.data["state"] = json.loads(result.output([terraform, "show", "-json"], root, env))
    result.data["outputs"] = json.loads(result.output([terraform, "output", "-json"], root, env))
    result.data["replan_exit"] = result.run(
        [terraform, "plan", "-detailed-exitcode", "-input=false", "-no-color", f"-var=environment={environment}",
         f"-var=image_tag={IMAGE_TAG}"],
        root, env, ok=(0, 1, 2),
    )  # fmt: skip
    outputs = {name: value["value"] for name, value in result.data["outputs"].items()}
    ecs = boto3.client("ecs", **moto.boto3_kwargs())
    result.data["task_definition"] = ecs.describe_task_definition(taskDefinition=outputs["task_definition_family"])[
        "taskDefinition"
    ]
    result.data["ci_task_definition"] = ecs.describe_task_definition(
        taskDefinition=outputs["ci_task_definition_family"]
    )["taskDefinition"]
    iam = boto3.client("iam", **moto.boto3_kwargs())
    result.data["airflow_policies"] = [
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=AIRFLOW_ROLE)["AttachedPolicies"]
    ]
    result.run(
        [terraform, "destroy", "-auto-approve", "-input=false", "-no-color", f"-var=environment={environment}",
         f"-var=image_tag={IMAGE_TAG}"],
        root, env,
    )  # fmt: skip
    result.data["state_after_destroy"] = result.output([terraform, "state", "list"], root, env).split()
    return result


def roles_only(terraform: str, project: Path, environment: str, moto: MotoServer, env: dict[str, str]) -> Result:
    """Apply the roles (and what they name) with a local state: their policies for the IAM check."""
    result = Result()
    root = project / "terraform"
    env = {**env, **moto.aws_env(), "TF_VAR_aws_endpoint_url": moto.endpoint_url}
    env.pop("AWS_ENDPOINT_URL")
    (root / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n', encoding="utf-8")
    args = [f"-var=environment={environment}", f"-var=image_tag={IMAGE_TAG}", "-input=false", "-no-color"]
    result.run([terraform, "init", "-input=false", "-no-color"], root, env)
    result.run([terraform, "apply", "-auto-approve", "-target=module.dbt_roles", *args], root, env)
    result.data["state"] = json.loads(result.output([terraform, "show", "-json"], root, env))
    result.run([terraform, "destroy", "-auto-approve", *args], root, env)
    # The guard: this state's credentials belong to ACCOUNT, so another account's environment must be refused.
    other = [
        name for name in json.loads((project / "environments.json").read_text())["environments"] if name != environment
    ]
    if other:
        code = result.run([terraform, "plan", "-input=false", "-no-color", f"-var=environment={other[0]}",
                           f"-var=image_tag={IMAGE_TAG}"], root, env, ok=(1,))  # fmt: skip
        result.data["guard"] = (code, result.log[-1])
    return result


@pytest.fixture(scope="module")
def terraform() -> str:
    return require_tool("terraform", "install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install)")


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    # HTTPS: moto enforces bucket policies, and the generated buckets refuse plain HTTP.
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with MotoServer(account_id=ACCOUNT, region=REGION, log_path=log, tls=True) as server:
        # The role the Airflow environment runs as exists before this repository's Terraform.
        iam = boto3.client("iam", **server.boto3_kwargs())
        iam.create_role(
            RoleName=AIRFLOW_ROLE, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
        )
        yield server


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory, moto: MotoServer) -> dict[str, Path]:
    ec2 = boto3.client("ec2", **moto.boto3_kwargs())
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ab")
    ]
    baked = {}
    for name, answers in BAKES.items():
        if name == "full":
            answers = {**answers, "subnet_ids": f"prod={','.join(subnets)}"}
        baked[name] = bake(tmp_path_factory.mktemp(f"tf-{name}"), **answers)
    return baked


@pytest.fixture(scope="module")
def jobs(terraform: str, tf_env: dict[str, str], moto: MotoServer, projects: dict[str, Path], tmp_path_factory):
    """Start every heavy step at once; each test waits for its own."""
    checkov = require_venv_python("checkov", "venv-checkov")
    live = {}
    for name, project in projects.items():
        # The AWS runs use a copy, so their init never races the static checks' init.
        copy = tmp_path_factory.mktemp(f"aws-{name}") / project.name
        shutil.copytree(project, copy)
        live[name] = copy
    pool = ThreadPoolExecutor(max_workers=4)
    futures: dict[str, Future] = {}
    # The longest first: the two full lives wait on S3's lifecycle settling.
    futures["life:default"] = pool.submit(lifecycle, terraform, live["default"], "dev", moto, tf_env)
    futures["life:full"] = pool.submit(lifecycle, terraform, live["full"], "prod", moto, tf_env)
    futures["checkov"] = pool.submit(run_checkov, checkov, [p / "terraform" for p in projects.values()])
    for name in ("glue", "ssm"):
        futures[f"roles:{name}"] = pool.submit(roles_only, terraform, live[name], "dev", moto, tf_env)
    for name, project in projects.items():
        # The module tests are the same in every bake; the two bakes apart cover both root variants.
        futures[f"static:{name}"] = pool.submit(static_checks, terraform, project, tf_env, name in MOCK_TESTED)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("name", list(BAKES))
def test_fmt_validate_and_terraform_test(jobs: dict[str, Future], name: str) -> None:
    result = jobs[f"static:{name}"].result()
    if name not in MOCK_TESTED:
        assert "Success! The configuration is valid" in result.log[-1], result.text()
        return
    tests_line = [line for line in result.log[-1].splitlines() if "passed" in line]
    assert tests_line and " 0 failed" in tests_line[-1], result.text()
    # The mock tests are not a formality: a bake that runs none would pass vacuously.
    assert not tests_line[-1].strip().startswith("Success! 0 passed"), result.text()


def test_checkov_finds_no_failed_check_and_skips_only_inline(jobs: dict[str, Future]) -> None:
    outcome = jobs["checkov"].result()
    for report in outcome["reports"]:
        results = report["results"]
        failed = [(c["check_id"], c["resource"], c["file_path"]) for c in results["failed_checks"]]
        assert not failed, f"checkov failed checks: {failed}"
        assert report["summary"]["passed"] > 50
        for skipped in results["skipped_checks"]:
            reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
            assert len(reason) > 20, f"skip of {skipped['check_id']} on {skipped['resource']} has no real reason"
    assert outcome["exit"] == 0


@pytest.mark.parametrize("name", ["default", "full"])
def test_apply_against_moto_creates_everything_then_converges_and_destroys(jobs: dict[str, Future], name: str) -> None:
    result = jobs[f"life:{name}"].result()
    data = result.data
    managed = [address for address in data["state_list"] if ".data." not in address and not address.startswith("data.")]
    assert data["planned"], result.text()
    assert sorted(managed) == data["planned"], "applied resources differ from the plan"
    assert data["replan_exit"] == 0, "the second plan is not empty:\n" + result.text()
    assert data["state_after_destroy"] == [], result.text()

    task = data["task_definition"]
    container = task["containerDefinitions"][0]
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"
    assert container["image"].endswith(f":{IMAGE_TAG}")
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    environment = {item["name"]: item["value"] for item in container["environment"]}
    outputs = {key: value["value"] for key, value in data["outputs"].items()}
    assert environment["ENV"] == outputs["environment"]
    assert environment["DOCS_BUCKET"] == outputs["docs_bucket"]
    assert any(
        arn.endswith(f"policy/{outputs['task_definition_family'].removesuffix('-dbt')}-run-dbt")
        for arn in data["airflow_policies"]
    )
    for key in ("ecr_repository_url", "ecs_cluster_name", "task_definition_family", "subnet_ids", "security_group_ids",
                "log_group_name", "docs_bucket"):  # fmt: skip
        assert outputs[key], key
    if name == "full":
        assert task["runtimePlatform"]["cpuArchitecture"] == "ARM64"
        assert (task["cpu"], task["memory"]) == ("1024", "2048")
        # ecs_secrets: ECS injects from the credentials secret, and from nothing else.
        assert container["secrets"] and outputs["credentials_secret_arn"]
        assert all(s["valueFrom"].startswith(outputs["credentials_secret_arn"]) for s in container["secrets"])
        assert len(outputs["security_group_ids"]) == 1 and outputs["security_group_ids"][0].startswith("sg-")
        assert outputs["capacity_provider"] == "FARGATE_SPOT" and outputs["alerts_topic_arn"]
    else:
        assert task["runtimePlatform"]["cpuArchitecture"] == "X86_64"
        assert environment.get("DBT_CREDENTIALS_SECRET_ID") == outputs.get("credentials_secret_arn")
        assert "secrets" not in container or not container["secrets"]


def policy_documents(state: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every policy document in a `terraform show -json` state: (resource address, attribute, document)."""

    def modules(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield module
        for child in module.get("child_modules", []):
            yield from modules(child)

    for module in modules(state["values"]["root_module"]):
        for resource in module.get("resources", []):
            for attribute, value in resource["values"].items():
                if (
                    attribute in ("policy", "assume_role_policy", "json")
                    and isinstance(value, str)
                    and value.startswith("{")
                ):
                    document = json.loads(value)
                    if "Statement" in document:
                        yield resource["address"], f"{resource['type']}.{attribute}", document


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("name", ["life:default", "life:full", "roles:glue", "roles:ssm"])
def test_no_iam_policy_allows_every_action_or_resource(jobs: dict[str, Future], name: str) -> None:
    state = jobs[name].result().data["state"]
    documents = list(policy_documents(state))
    roles = [address for address, _, _ in documents if address.endswith("aws_iam_role_policy.task")]
    assert roles, "no task role policy found in the state"
    problems = []
    for address, kind, document in documents:
        for statement in document["Statement"]:
            if statement.get("Effect") == "Deny":
                continue  # a Deny on "*" (TLS-only) narrows, never widens
            actions = as_list(statement.get("Action", []))
            resources = as_list(statement.get("Resource", []))
            # A key policy's "*" is the key itself, and its kms:* is granted to the account root only.
            key_policy = kind == "aws_kms_key.policy" or address.endswith("aws_iam_policy_document.key")
            principals = as_list((statement.get("Principal") or {}).get("AWS", []))
            if key_policy and principals and all(p.endswith(":root") for p in principals):
                continue
            if any(action == "*" or action.endswith(":*") for action in actions):
                problems.append(f"{address}: wildcard action in {actions}")
            if "*" in resources and not key_policy and not all(a in WILDCARD_RESOURCE_ALLOWED for a in actions):
                problems.append(f"{address}: Resource * for {actions}")
    assert not problems, "\n".join(problems)


def test_credentials_reach_exactly_their_source(jobs: dict[str, Future]) -> None:
    def task_policy(name: str) -> str:
        for address, _, document in policy_documents(jobs[name].result().data["state"]):
            if address.endswith("aws_iam_role_policy.task"):
                return json.dumps(document)
        raise AssertionError(f"{name}: no task role policy")

    glue, ssm = task_policy("roles:glue"), task_policy("roles:ssm")
    assert f"arn:aws:glue:{REGION}:{ACCOUNT}:connection/glue-dbt-dev-warehouse" in glue and "ssm:" not in glue
    assert f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/ssm-dbt/dev/warehouse/*" in ssm and "glue:" not in ssm
    assert "secretsmanager:" not in glue + ssm


def test_account_guard_refuses_another_environment(jobs: dict[str, Future]) -> None:
    code, log = jobs["roles:glue"].result().data["guard"]
    assert code == 1
    assert "not allowed" in log and ACCOUNT in log, log


# ---- the CI roles, proved by evaluating the applied policies ------------------------------------


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcards: * is any run of characters (":" and "/" included), ? one character."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def condition_holds(condition: dict[str, Any], context: dict[str, Any] | None) -> bool:
    """Every operator and key of a Condition block against the request context.

    Without a context, or with a key the context lacks, the condition does not hold: a
    conditioned statement applies only where the test says what the request carries.
    Operators the generated policies do not use count as not holding.
    """
    if context is None:
        return False
    for operator, keys in condition.items():
        set_operator, _, test = operator.rpartition(":")
        for key, expected in keys.items():
            if key not in context:
                return False
            if test not in ("StringEquals", "ArnEquals", "StringLike", "ArnLike"):
                return False
            patterns, actual = as_list(expected), as_list(context[key])
            matches = [value_matches(test, patterns, value) for value in actual]
            if set_operator == "ForAnyValue":
                if not any(matches):
                    return False
            elif set_operator == "ForAllValues":
                if not all(matches):
                    return False
            elif set_operator or matches != [True]:
                return False
    return True


def value_matches(test: str, patterns: list[str], value: str) -> bool:
    if test.endswith("Like"):
        return any(wildcard_match(pattern, value) for pattern in patterns)
    return value in patterns


def statement_applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any] | None) -> bool:
    if "Action" in statement:
        if not any(wildcard_match(p, action, ignore_case=True) for p in as_list(statement["Action"])):
            return False
    elif any(wildcard_match(p, action, ignore_case=True) for p in as_list(statement.get("NotAction", []))):
        return False
    # A trust policy names no resource: the role itself.
    if "Resource" in statement:
        if not any(wildcard_match(p, resource) for p in as_list(statement["Resource"])):
            return False
    elif any(wildcard_match(p, resource) for p in as_list(statement.get("NotResource", []))):
        return False
    return "Condition" not in statement or condition_holds(statement["Condition"], context)


def allowed(documents: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any] | None = None) -> bool:
    """IAM's decision over identity policies: an applicable Deny wins, else an applicable Allow, else no."""
    applicable = [
        s for d in documents for s in as_list(d["Statement"]) if statement_applies(s, action, resource, context)
    ]
    return not any(s["Effect"] == "Deny" for s in applicable) and any(s["Effect"] == "Allow" for s in applicable)


def test_the_iam_evaluator_decides_as_iam_does() -> None:
    """The evaluator below is the proof of the CI roles' limits, so it is checked first."""
    document = {"Statement": [
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/docs/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/docs/secret?"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:sns:*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/a"]}}},
    ]}  # fmt: skip
    assert allowed([document], "S3:getobject", "arn:aws:s3:::b/docs/x/y.json")
    assert not allowed([document], "s3:GetObject", "arn:aws:s3:::b/docs/secret1")
    assert allowed([document], "s3:GetObject", "arn:aws:s3:::b/docs/secret12")
    assert not allowed([document], "s3:PutObject", "arn:aws:s3:::b/docs/x")
    assert not allowed([document], "s3:GetObject", "arn:aws:s3:::b/other")
    assert not allowed([document], "sns:Publish", "arn:aws:sns:eu-west-1:1:t")
    assert allowed([document], "sns:Publish", "arn:aws:sns:eu-west-1:1:t", {"aws:RequestedRegion": "eu-west-1"})
    assert not allowed([document], "iam:GetRole", "arn:aws:sns:x", {"aws:RequestedRegion": "eu-west-1"})
    assert allowed([document], "kms:Decrypt", "k", {"kms:ResourceAliases": ["alias/b", "alias/a"]})
    assert not allowed([document], "kms:Decrypt", "k", {"kms:ResourceAliases": ["alias/b"]})
    assert not allowed([document], "kms:Decrypt", "k", {})


def role_documents(state: dict[str, Any], role_name: str) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """(identity policies, trust policy, attached managed policy ARNs) of a role in a state."""
    identity, trust, attached = [], None, []
    for module in [state["values"]["root_module"], *nested_modules(state["values"]["root_module"])]:
        for resource in module.get("resources", []):
            values = resource["values"]
            if resource["type"] == "aws_iam_role" and values.get("name") == role_name:
                trust = json.loads(values["assume_role_policy"])
            elif resource["type"] == "aws_iam_role_policy" and values.get("role") == role_name:
                identity.append(json.loads(values["policy"]))
            elif resource["type"] == "aws_iam_role_policy_attachment" and values.get("role") == role_name:
                attached.append(values["policy_arn"])
    assert trust is not None, f"no role {role_name} in the state"
    return identity, trust, attached


def nested_modules(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in module.get("child_modules", []):
        yield child
        yield from nested_modules(child)


@pytest.mark.parametrize("name", ["life:default", "life:full"])
def test_plan_role_reads_what_a_plan_needs_and_no_credentials(jobs: dict[str, Future], name: str) -> None:
    data = jobs[name].result().data
    names, config, outputs = data["names"], data["config"], data["outputs"]
    project, environment = config["project_name"], outputs["environment"]["value"]
    policies, _, attached = role_documents(data["state"], names["ci_plan_role"])
    assert policies and not attached, "the plan role has its inline policy and no managed policy (ReadOnlyAccess)"

    arn = f"arn:aws:%s:{REGION}:{ACCOUNT}:%s"
    state, docs = f"arn:aws:s3:::{names['state_bucket']}", f"arn:aws:s3:::{names['docs_bucket']}"
    prefix = f"{docs}/{project}/{environment}"
    via_s3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    state_key = {**via_s3, "kms:ResourceAliases": [f"alias/{names['state_kms_alias']}"]}
    docs_key = next(
        resource["values"]["arn"]
        for module in nested_modules(data["state"]["values"]["root_module"])
        for resource in module.get("resources", [])
        if resource["address"] == "module.kms_key.aws_kms_key.this"
    )

    can = [
        ("s3:GetObject", f"{prefix}/latest/manifest.json", None),
        ("s3:GetObject", f"{state}/terraform.tfstate", None),
        ("s3:PutObject", f"{state}/terraform.tfstate.tflock", None),
        ("s3:DeleteObject", f"{state}/terraform.tfstate.tflock", None),
        ("kms:Decrypt", arn % ("kms", "key/0b3c9d1e-0000-4000-8000-000000000000"), state_key),
        ("kms:GenerateDataKey", arn % ("kms", "key/0b3c9d1e-0000-4000-8000-000000000000"), state_key),
        ("kms:Decrypt", docs_key, via_s3),
        ("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/{names['task_role']}", None),
        ("ecs:DescribeTaskDefinition", "*", None),
        ("s3:GetBucketPolicy", docs, None),
    ]
    for action, resource, context in can:
        assert allowed(policies, action, resource, context), f"the plan role cannot {action} on {resource}"

    # The most the role could carry: the state key's alias, through S3.
    contexts: list[dict[str, Any] | None] = [None, {}, state_key]
    cannot = [
        ("secretsmanager:GetSecretValue", arn % ("secretsmanager", f"secret:{names['credentials_secret']}-AbCdEf")),
        ("secretsmanager:GetSecretValue", "*"),
        *[(a, arn % ("ssm", f"parameter{names['credentials_parameter_path']}/password"))
          for a in ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory")],
        ("glue:GetConnection", arn % ("glue", f"connection/{names['glue_connection']}")),
        ("redshift:GetClusterCredentials", arn % ("redshift", f"dbuser:{project}-{environment}/dbt_deploy")),
        ("redshift:GetClusterCredentialsWithIAM", arn % ("redshift", f"dbname:{project}-{environment}/analytics")),
        ("redshift-serverless:GetCredentials", arn % ("redshift-serverless", "workgroup/0b3c9d1e")),
        ("logs:GetLogEvents", arn % ("logs", f"log-group:{names['log_group']}:log-stream:ecs/dbt/abc")),
        ("s3:GetObject", f"{prefix}/latest/run_results.json"),
        ("s3:GetObject", f"{prefix}/runs/2024-01-01T00:00:00/manifest.json"),
        ("s3:GetObject", f"{state}/other/terraform.tfstate"),
        ("s3:GetObject", "arn:aws:s3:::another-bucket/terraform.tfstate"),
        ("s3:PutObject", f"{state}/terraform.tfstate"),
        ("s3:PutObject", f"{prefix}/latest/manifest.json"),
        ("s3:DeleteObject", f"{state}/terraform.tfstate"),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{names['task_role']}"),
        ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/{names['ci_deploy_role']}"),
    ]  # fmt: skip
    for action, resource in cannot:
        for context in contexts:
            assert not allowed(policies, action, resource, context), f"the plan role can {action} on {resource}"
    # KMS only through S3: a direct Decrypt of either key is refused.
    assert not allowed(policies, "kms:Decrypt", docs_key, {})
    assert not allowed(
        policies, "kms:Decrypt", arn % ("kms", "key/x"), {"kms:ResourceAliases": state_key["kms:ResourceAliases"]}
    )

    # The one place with Resource "*": Terraform's list is the test's list.
    assert set(outputs["ci_plan_policy_wildcard_actions"]["value"]) == set(CI_PLAN_WILDCARD_ACTIONS)


def docs_key_arn(state: dict[str, Any]) -> str:
    return next(
        resource["values"]["arn"]
        for module in nested_modules(state["values"]["root_module"])
        for resource in module.get("resources", [])
        if resource["address"] == "module.kms_key.aws_kms_key.this"
    )


@pytest.mark.parametrize("name", ["life:default", "life:full"])
def test_ci_task_definition_is_the_deployments_image_as_ci(jobs: dict[str, Future], name: str) -> None:
    data = jobs[name].result().data
    names, warehouse = (
        data["names"],
        data["config"]["environments"][data["outputs"]["environment"]["value"]]["warehouse"],
    )
    outputs = {key: value["value"] for key, value in data["outputs"].items()}
    deploy, ci = data["task_definition"], data["ci_task_definition"]
    (deploy_container,), (ci_container,) = deploy["containerDefinitions"], ci["containerDefinitions"]
    assert ci["family"] == names["ci_task_family"] == outputs["ci_task_definition_family"]
    assert ci_container["image"] == deploy_container["image"] and ci_container["name"] == deploy_container["name"]
    for key in ("cpu", "memory", "runtimePlatform", "networkMode", "requiresCompatibilities"):
        assert ci[key] == deploy[key], key
    assert ci["taskRoleArn"] == outputs["ci_task_role_arn"] != outputs["task_role_arn"]
    assert ci["executionRoleArn"] == outputs["ci_execution_role_arn"] != outputs["execution_role_arn"]
    assert ci_container["logConfiguration"]["options"]["awslogs-group"] == names["ci_log_group"]
    assert outputs["ci_log_group_name"] == names["ci_log_group"]

    deploy_env = {item["name"]: item["value"] for item in deploy_container["environment"]}
    ci_env = {item["name"]: item["value"] for item in ci_container["environment"]}
    assert ci_env["DBT_REDSHIFT_USER"] == warehouse["ci_user"] != deploy_env["DBT_REDSHIFT_USER"]
    assert ci_env["RUNNER_MODE"] == "ci" and "RUNNER_MODE" not in deploy_env
    # The PR number and project URL are per run (container overrides), never in the family.
    assert "DBT_PR_NUMBER" not in ci_env and "CI_PROJECT_URL" not in ci_env
    credentials = {"DBT_CREDENTIALS_SECRET_ID", "DBT_CREDENTIALS_PARAMETER_PATH", "DBT_GLUE_CONNECTION"}
    shared = set(deploy_env) - credentials - {"DBT_REDSHIFT_USER"}
    assert {key: ci_env.get(key) for key in shared} == {key: deploy_env[key] for key in shared}
    assert set(ci_env) - shared - credentials == {"DBT_REDSHIFT_USER", "RUNNER_MODE"}
    if name == "life:full":
        # ecs_secrets: CI's own secret, injected by CI's execution role.
        assert (
            outputs["ci_credentials_secret_arn"]
            and outputs["ci_credentials_secret_arn"] != outputs["credentials_secret_arn"]
        )
        assert [s["valueFrom"] for s in ci_container["secrets"]] == [outputs["ci_credentials_secret_arn"]]
        assert outputs["ci_security_group_ids"] == outputs["security_group_ids"]
    else:
        # Terraform leaves null outputs out of `terraform output -json`.
        assert outputs.get("ci_credentials_secret_arn") is None and not ci_container.get("secrets")
        assert credentials.isdisjoint(ci_env)


@pytest.mark.parametrize("name", ["life:default", "life:full"])
def test_pull_request_role_runs_the_ci_family_only(jobs: dict[str, Future], name: str) -> None:
    data = jobs[name].result().data
    names, config, outputs = data["names"], data["config"], data["outputs"]
    project, environment = config["project_name"], outputs["environment"]["value"]
    policies, _, _ = role_documents(data["state"], names["ci_plan_role"])

    arn = f"arn:aws:%s:{REGION}:{ACCOUNT}:%s"
    role = f"arn:aws:iam::{ACCOUNT}:role/%s"
    prefix = f"arn:aws:s3:::{names['docs_bucket']}/{project}/{environment}"
    cluster = outputs["ecs_cluster_arn"]["value"]
    ci_task_role, ci_execution_role = outputs["ci_task_role_arn"]["value"], outputs["ci_execution_role_arn"]["value"]
    in_cluster = {"ecs:cluster": cluster}
    to_ecs = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    via_s3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    # Everything a request could carry in its favour: the checks below hold whatever the context.
    favourable = {**in_cluster, **to_ecs, **via_s3}
    ci_stream = arn % ("logs", f"log-group:{names['ci_log_group']}:log-stream:ecs/dbt/0123abcd")

    can = [
        ("ecs:RunTask", arn % ("ecs", f"task-definition/{names['ci_task_family']}:1"), in_cluster),
        ("ecs:RunTask", arn % ("ecs", f"task-definition/{names['ci_task_family']}:42"), in_cluster),
        ("iam:PassRole", ci_task_role, to_ecs),
        ("iam:PassRole", ci_execution_role, to_ecs),
        ("ecs:DescribeTasks", arn % ("ecs", f"task/{names['ecs_cluster']}/0123abcd"), in_cluster),
        ("ecs:StopTask", arn % ("ecs", f"task/{names['ecs_cluster']}/0123abcd"), in_cluster),
        ("s3:PutObject", f"{prefix}/ci/pr-7/0123abc/project.tar.gz", None),
        ("s3:GetObject", f"{prefix}/ci/pr-7/run-1/run_results.json", None),
        ("kms:GenerateDataKey", docs_key_arn(data["state"]), via_s3),
        ("logs:GetLogEvents", ci_stream, None),
        ("logs:FilterLogEvents", arn % ("logs", f"log-group:{names['ci_log_group']}"), None),
        ("logs:FilterLogEvents", arn % ("logs", f"log-group:{names['ci_log_group']}:*"), None),
    ]
    for action, resource, context in can:
        assert allowed(policies, action, resource, context), f"the pull-request role cannot {action} on {resource}"

    cannot = [
        ("ecs:RunTask", arn % ("ecs", f"task-definition/{names['task_family']}:1"), favourable),
        ("ecs:RunTask", arn % ("ecs", f"task-definition/{names['ci_task_family']}:1"),
         {**favourable, "ecs:cluster": arn % ("ecs", "cluster/another")}),
        ("ecs:RunTask", arn % ("ecs", f"task-definition/{names['ci_task_family']}:1"), {}),
        ("ecs:RegisterTaskDefinition", "*", favourable),
        ("ecs:DescribeTasks", arn % ("ecs", "task/another/0123abcd"), favourable),
        ("iam:PassRole", role % names["task_role"], favourable),
        ("iam:PassRole", role % names["execution_role"], favourable),
        ("iam:PassRole", ci_task_role, {"iam:PassedToService": "lambda.amazonaws.com"}),
        ("iam:PassRole", ci_task_role, {}),
        ("secretsmanager:GetSecretValue", arn % ("secretsmanager", f"secret:{names['credentials_secret']}-AbCdEf"),
         favourable),
        ("secretsmanager:GetSecretValue",
         arn % ("secretsmanager", f"secret:{names['ci_credentials_secret']}-AbCdEf"), favourable),
        ("s3:PutObject", f"{prefix}/latest/manifest.json", favourable),
        ("s3:PutObject", f"{prefix}/runs/2024-01-01T00:00:00/manifest.json", favourable),
        ("s3:PutObject", f"{prefix}/index.html", favourable),
        ("s3:PutObject", f"{prefix}/cix/pr-7/x", favourable),
        ("s3:PutObject", f"arn:aws:s3:::{names['docs_bucket']}/{project}/other/ci/pr-7/x", favourable),
        ("s3:DeleteObject", f"{prefix}/ci/pr-7/x", favourable),
        ("s3:GetObject", f"{prefix}/latest/run_results.json", favourable),
        ("logs:GetLogEvents", arn % ("logs", f"log-group:{names['log_group']}:log-stream:ecs/dbt/0123abcd"),
         favourable),
        ("logs:FilterLogEvents", arn % ("logs", f"log-group:{names['log_group']}"), favourable),
        ("logs:FilterLogEvents", arn % ("logs", f"log-group:{names['log_group']}:*"), favourable),
        ("kms:Decrypt", docs_key_arn(data["state"]), {}),
        ("kms:GenerateDataKey", docs_key_arn(data["state"]), {}),
    ]  # fmt: skip
    for action, resource, context in cannot:
        assert not allowed(policies, action, resource, context), f"the pull-request role can {action} on {resource}"
        assert not allowed(policies, action, resource, None), f"the pull-request role can {action} on {resource}"


@pytest.mark.parametrize("name", ["life:default", "life:full"])
def test_ci_task_role_reads_its_own_identity_and_writes_ci_only(jobs: dict[str, Future], name: str) -> None:
    data = jobs[name].result().data
    names, config, outputs = data["names"], data["config"], data["outputs"]
    project, environment = config["project_name"], outputs["environment"]["value"]
    warehouse = config["environments"][environment]["warehouse"]
    task, _, task_attached = role_documents(data["state"], names["ci_task_role"])
    execution_name = outputs["ci_execution_role_arn"]["value"].rsplit("/", 1)[1]
    execution, _, _ = role_documents(data["state"], execution_name)
    assert task and not task_attached
    both = task + execution

    arn = f"arn:aws:%s:{REGION}:{ACCOUNT}:%s"
    prefix = f"arn:aws:s3:::{names['docs_bucket']}/{project}/{environment}"
    via = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    docs_key = docs_key_arn(data["state"])
    deploy_secret = outputs.get("credentials_secret_arn", {}).get("value") or arn % (
        "secretsmanager", f"secret:{names['credentials_secret']}-AbCdEf")  # fmt: skip
    ci_secret = outputs.get("ci_credentials_secret_arn", {}).get("value")

    for action, resource, context in [
        ("s3:PutObject", f"{prefix}/ci/pr-7/run-1/run_results.json", None),
        ("s3:GetObject", f"{prefix}/ci/pr-7/0123abc/project.tar.gz", None),
        ("s3:GetObject", f"{prefix}/latest/manifest.json", None),
        ("kms:Decrypt", docs_key, via),
        ("kms:GenerateDataKey", docs_key, via),
    ]:
        assert allowed(task, action, resource, context), f"the CI task role cannot {action} on {resource}"

    favourable = [None, {}, via, {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}]
    cannot = [
        ("secretsmanager:GetSecretValue", deploy_secret),
        ("s3:PutObject", f"{prefix}/latest/manifest.json"),
        ("s3:PutObject", f"{prefix}/latest/index.html"),
        ("s3:PutObject", f"{prefix}/runs/2024-01-01T00:00:00/run_results.json"),
        ("s3:GetObject", f"{prefix}/latest/run_results.json"),
        ("s3:GetObject", f"{prefix}/runs/2024-01-01T00:00:00/manifest.json"),
        ("s3:DeleteObject", f"{prefix}/ci/pr-7/x"),
        ("redshift:GetClusterCredentials", arn % ("redshift", f"dbuser:{warehouse['id']}/{warehouse['user']}")),
        ("ssm:GetParametersByPath", arn % ("ssm", f"parameter{names['credentials_parameter_path']}")),
        ("glue:GetConnection", arn % ("glue", f"connection/{names['glue_connection']}")),
        ("logs:PutLogEvents", arn % ("logs", f"log-group:{names['log_group']}:log-stream:ecs/dbt/x")),
    ]
    for action, resource in cannot:
        for context in favourable:
            assert not allowed(both, action, resource, context), f"the CI roles can {action} on {resource}"
    assert allowed(
        execution, "logs:PutLogEvents", arn % ("logs", f"log-group:{names['ci_log_group']}:log-stream:ecs/dbt/x")
    )

    if config["environments"][environment]["warehouse"]["type"] == "provisioned" and ci_secret is None:
        # iam: temporary credentials of CI's database user only.
        assert allowed(
            task,
            "redshift:GetClusterCredentials",
            arn % ("redshift", f"dbuser:{warehouse['id']}/{warehouse['ci_user']}"),
        )
    if ci_secret:
        # ecs_secrets: the execution role injects CI's secret, and nothing reads the deployment's.
        assert allowed(execution, "secretsmanager:GetSecretValue", ci_secret)
        assert not allowed(task, "secretsmanager:GetSecretValue", ci_secret)


def test_github_deploy_role_trusts_the_environment_on_main_only(jobs: dict[str, Future]) -> None:
    data = jobs["life:default"].result().data
    names, repository = data["names"], data["config"]["github_repository"]
    issuer = "token.actions.githubusercontent.com"
    _, deploy, _ = role_documents(data["state"], names["ci_deploy_role"])
    _, plan, _ = role_documents(data["state"], names["ci_plan_role"])
    (statement,) = deploy["Statement"]
    assert (
        statement["Condition"]["StringEquals"][f"{issuer}:sub"]
        == f"repo:{repository}:environment:dev:ref:refs/heads/main"
    )
    assert statement["Condition"]["StringEquals"][f"{issuer}:aud"] == "sts.amazonaws.com"

    def token(sub: str) -> dict[str, str]:
        return {f"{issuer}:sub": sub, f"{issuer}:aud": "sts.amazonaws.com"}

    assume = "sts:AssumeRoleWithWebIdentity"
    role = f"arn:aws:iam::{ACCOUNT}:role/{names['ci_deploy_role']}"
    assert allowed([deploy], assume, role, token(f"repo:{repository}:environment:dev:ref:refs/heads/main"))
    for sub in (
        f"repo:{repository}:environment:dev:ref:refs/heads/feature",  # the environment, another branch
        f"repo:{repository}:ref:refs/heads/main:ref:refs/heads/main",  # main, no environment
        f"repo:{repository}:environment:live:ref:refs/heads/main",  # another environment
        f"repo:{repository}:environment:dev",  # GitHub's default subject: the customisation is missing
        f"repo:other/{repository.split('/')[1]}:environment:dev:ref:refs/heads/main",
    ):
        assert not allowed([deploy], assume, role, token(sub)), sub
    wrong_audience = {**token(f"repo:{repository}:environment:dev:ref:refs/heads/main"), f"{issuer}:aud": "other"}
    assert not allowed([deploy], assume, role, wrong_audience)

    plan_role = f"arn:aws:iam::{ACCOUNT}:role/{names['ci_plan_role']}"
    assert allowed([plan], assume, plan_role, token(f"repo:{repository}:pull_request:ref:refs/pull/42/merge"))
    assert allowed([plan], assume, plan_role, token(f"repo:{repository}:ref:refs/heads/main:ref:refs/heads/main"))
    assert not allowed(
        [plan], assume, plan_role, token(f"repo:{repository}:ref:refs/heads/feature:ref:refs/heads/feature")
    )
    assert not allowed([plan], assume, plan_role, token(f"repo:{repository}:pull_request"))


def test_gitlab_provider_and_roles_trust_the_project_and_main_only(jobs: dict[str, Future]) -> None:
    data = jobs["life:full"].result().data
    names, gitlab = data["names"], data["config"]["gitlab"]
    assert gitlab == {"url": BAKES["full"]["gitlab_url"], "project_path": BAKES["full"]["gitlab_project_path"]}
    host = gitlab["url"].removeprefix("https://")
    providers = [
        r["values"] for m in nested_modules(data["state"]["values"]["root_module"]) for r in m.get("resources", [])
        if r["type"] == "aws_iam_openid_connect_provider"
    ]  # fmt: skip
    assert [(p["url"].removeprefix("https://"), p["client_id_list"]) for p in providers] == [(host, [gitlab["url"]])]
    _, deploy, _ = role_documents(data["state"], names["ci_deploy_role"])
    _, plan, _ = role_documents(data["state"], names["ci_plan_role"])
    assert deploy["Statement"][0]["Condition"]["StringEquals"][f"{host}:sub"] == (
        f"project_path:{gitlab['project_path']}:ref_type:branch:ref:main"
    )

    def token(sub: str, aud: str = gitlab["url"]) -> dict[str, str]:
        return {f"{host}:sub": sub, f"{host}:aud": aud}

    assume, project = "sts:AssumeRoleWithWebIdentity", gitlab["project_path"]
    deploy_role = f"arn:aws:iam::{ACCOUNT}:role/{names['ci_deploy_role']}"
    plan_role = f"arn:aws:iam::{ACCOUNT}:role/{names['ci_plan_role']}"
    assert allowed([deploy], assume, deploy_role, token(f"project_path:{project}:ref_type:branch:ref:main"))
    assert not allowed([deploy], assume, deploy_role, token(f"project_path:{project}:ref_type:branch:ref:feature"))
    assert not allowed([deploy], assume, deploy_role, token(f"project_path:{project}:ref_type:tag:ref:main"))
    assert not allowed(
        [deploy], assume, deploy_role, token(f"project_path:{project}:ref_type:branch:ref:main", "sts.amazonaws.com")
    )
    assert not allowed([deploy], assume, deploy_role, token(f"project_path:{project}-fork:ref_type:branch:ref:main"))
    assert allowed([plan], assume, plan_role, token(f"project_path:{project}:ref_type:branch:ref:feature/x"))
    assert not allowed([plan], assume, plan_role, token(f"project_path:{project}:ref_type:tag:ref:v1"))
    assert not allowed([plan], assume, plan_role, token(f"project_path:other/{project}:ref_type:branch:ref:main"))


@pytest.mark.parametrize("name", ["life:default", "life:full"])
def test_state_is_encrypted_with_the_state_key(jobs: dict[str, Future], name: str) -> None:
    data = jobs[name].result().data
    algorithm, key = data["state_sse"]
    assert algorithm == "aws:kms"
    assert key.endswith(f":alias/{data['names']['state_kms_alias']}"), key


def test_oidc_subject_check_names_the_fix(projects: dict[str, Path]) -> None:
    project = projects["default"]
    repository = json.loads((project / "environments.json").read_text())["github_repository"]

    def check(answer: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        command = ["python3", "scripts/ci.py", "oidc-subject-check", "-"]
        return subprocess.run(
            command, cwd=project, input=json.dumps(answer), capture_output=True, text=True, check=False
        )

    good = check({"use_default": False, "include_claim_keys": ["repo", "context", "ref"]})
    assert good.returncode == 0, good.stderr
    for answer in ({"use_default": True}, {"use_default": False, "include_claim_keys": ["repo", "context"]}):
        bad = check(answer)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode == 1 and len(lines) == 1, bad.stderr
        assert (
            f"gh api -X PUT repos/{repository}/actions/oidc/customization/sub -f use_default=false "
            "-f 'include_claim_keys[]=repo' -f 'include_claim_keys[]=context' -f 'include_claim_keys[]=ref'"
        ) in lines[0]
    assert "oidc-check:" in (project / "Makefile").read_text()
