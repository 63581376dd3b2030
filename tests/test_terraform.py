"""The generated Terraform, proved by the real tools.

- terraform fmt, init (from the local provider mirror) and validate, on both roots;
- `terraform test`: the generated mock-provider tests (terraform/tests/);
- checkov: no failed check, and every skip inline with a reason;
- the whole life of an environment against a moto server, through the generated
  Makefile: bootstrap the state bucket, `make plan`, `make apply` (every planned
  resource exists), a second plan with no changes, `terraform destroy`;
- every IAM policy document Terraform wrote has no Action or Resource "*" beyond
  the listed exceptions; the account guard refuses another environment's account.

The heavy steps of every bake start together when the module starts (a thread
pool), so terraform, checkov and moto overlap on the two cores; each test then
asserts on its own result.
"""

from __future__ import annotations

import json
import os
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

# The bakes: name -> answers. "full" gets its subnets from moto at bake time.
BAKES: dict[str, dict[str, str]] = {
    "default": {},
    "full": {
        "project_name": "full-dbt",
        "environments": "prod",
        "aws_account_ids": f"prod={ACCOUNT}",
        "security_group_ids": "",
        "create_security_group": "yes",
        "credentials_source": "ecs_secrets",
        "cpu_architecture": "ARM64",
        "fargate_cpu": "1024",
        "fargate_memory": "2048",
        "use_fargate_spot": "yes",
        "notifications": "sns",
        # An account has one GitHub OIDC provider, and "default" creates it in the same
        # moto account: this bake takes the other CI provider, which brings its own trust.
        "ci_provider": "gitlab",
    },
    "glue": {"project_name": "glue-dbt", "credentials_source": "glue_connection"},
    "ssm": {"project_name": "ssm-dbt", "credentials_source": "ssm_parameter_store"},
}


# Bakes whose `terraform test` runs (the others: fmt and validate, and apply in moto).
MOCK_TESTED = ("default", "full")


def find_provider_mirror() -> Path:
    """The directory that holds registry.terraform.io/hashicorp/aws (a filesystem mirror)."""
    if os.environ.get("TF_PROVIDER_MIRROR"):
        return Path(os.environ["TF_PROVIDER_MIRROR"])
    found = subprocess.run(
        ["find", "/", "-maxdepth", "6", "(", "-path", "/proc", "-o", "-path", "/sys", ")", "-prune", "-o",
         "-path", "*registry.terraform.io/hashicorp/aws", "-print", "-quit"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    if not found:
        pytest.fail(
            "no Terraform provider mirror with hashicorp/aws found (searched / to depth 6); "
            "create one with `terraform providers mirror DIR` or set TF_PROVIDER_MIRROR"
        )
    return Path(found).parent.parent.parent


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
    names = json.loads((project / "environments.json").read_text())["environments"][environment]["names"]
    boto3.client("s3", **moto.boto3_kwargs()).delete_bucket_policy(Bucket=names["state_bucket"])
    result.run([*make, "plan", f"TF_BACKEND_FLAGS=-backend-config={backend}"], project, env)
    plan = json.loads(result.output([terraform, "show", "-json", f"{environment}.tfplan"], root, env))
    result.data["planned"] = sorted(
        change["address"] for change in plan["resource_changes"] if change["change"]["actions"] == ["create"]
    )
    result.run([*make, "apply"], project, env)
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
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Terraform installs providers from the local mirror only: no registry, no network."""
    mirror = find_provider_mirror()
    config = tmp_path_factory.mktemp("tfcli") / "terraformrc"
    config.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
        '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n'
        "}\n",
        encoding="utf-8",
    )
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


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
        assert {s["name"] for s in container["secrets"]} >= {"DBT_REDSHIFT_HOST", "DBT_ENV_SECRET_REDSHIFT_PASSWORD"}
        assert len(outputs["security_group_ids"]) == 1 and outputs["security_group_ids"][0].startswith("sg-")
        assert outputs["capacity_provider"] == "FARGATE_SPOT" and outputs["alerts_topic_arn"]
    else:
        assert task["runtimePlatform"]["cpuArchitecture"] == "X86_64"
        assert environment["DBT_CREDENTIALS_SECRET_ID"] == outputs["credentials_secret_arn"]
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
            if kind == "aws_kms_key.policy" or address.endswith("aws_iam_policy_document.key"):
                continue
            if any(action == "*" or action.endswith(":*") for action in actions):
                problems.append(f"{address}: wildcard action in {actions}")
            if "*" in resources and not all(action in WILDCARD_RESOURCE_ALLOWED for action in actions):
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
