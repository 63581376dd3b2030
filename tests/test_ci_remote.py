"""The pull-request build inside AWS: `scripts/ci.py ci-remote`, `ci-cleanup` and `ci-sweep` against moto.

moto runs in-process (``mock_aws``) and ci-remote's ``main()`` is called in-process too: a
test must drive the ECS task (its log lines, its stop and its container's exit code), and
moto's server mode has no API that sets a task's exit code or stop reason. A thread plays
the task: it waits for the one RunTask, writes the runner's lines to the task's CloudWatch
stream (and its run_results.json to the docs bucket), then stops it through moto's backend.
moto's task state machine is set to manual so the task stays RUNNING until then.

The CI task definition is registered with boto3 the way Terraform registers it
(terraform/modules/dbt_task: one container, awslogs with stream prefix `ecs`, awsvpc on
Fargate), not taken from tests/test_terraform.py, which is being changed independently.
Its IAM policies are proved there; here the subject is what ci-remote asks of AWS.
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends
from moto.moto_api import state_manager

from tests.conftest import require_tool

REGION = "eu-west-1"
ENVIRONMENT = "dev"
PROJECT = "analytics-dbt"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
RUN_ID = "20260101T120000Z-task"


@pytest.fixture(scope="module")
def project(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ci-remote") / default_project.name
    shutil.copytree(default_project, target, symlinks=True)
    # Build output that must never reach the tarball.
    (target / "dbt" / "target").mkdir(exist_ok=True)
    (target / "dbt" / "target" / "manifest.json").write_text("{}")
    return target


@pytest.fixture
def names(project: Path) -> dict[str, str]:
    return json.loads((project / "environments.json").read_text())["environments"][ENVIRONMENT]["names"]


def load_ci(project: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"ci_script_{id(project)}", project / "scripts" / "ci.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def aws(project: Path, names: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """moto with the environment as Terraform leaves it: bucket, cluster, CI task family, log group, network."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "GITHUB_STEP_SUMMARY", "CI_SCHEMA_MAX_AGE_DAYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("CI_POLL_SECONDS", "0.05")
    environments_json = project / "environments.json"
    original = environments_json.read_text()
    with mock_aws():
        state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**9})
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        # As a VPC with endpoints has it (and moto's awsvpc tasks need it).
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        # create_security_group=yes: Terraform made the group, environments.json lists none.
        group = ec2.create_security_group(GroupName=names["security_group"], Description="dbt", VpcId=vpc)["GroupId"]
        document = json.loads(original)
        document["environments"][ENVIRONMENT]["subnet_ids"] = [subnet]
        document["environments"][ENVIRONMENT]["security_group_ids"] = []
        environments_json.write_text(json.dumps(document, indent=2))
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=names["docs_bucket"], CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        ecs = boto3.client("ecs", region_name=REGION)
        ecs.create_cluster(clusterName=names["ecs_cluster"])
        boto3.client("logs", region_name=REGION).create_log_group(logGroupName=names["ci_log_group"])
        ecs.register_task_definition(
            family=names["ci_task_family"],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
            containerDefinitions=[
                {
                    "name": names["container"],
                    "image": f"111111111111.dkr.ecr.{REGION}.amazonaws.com/{names['ecr_repository']}:abc",
                    "essential": True,
                    # moto's Fargate accounting needs the container's own sizes; Terraform sets the task's.
                    "cpu": 512,
                    "memory": 1024,
                    "environment": [
                        {"name": "RUNNER_MODE", "value": "ci"},
                        {"name": "ENV", "value": ENVIRONMENT},
                        {"name": "PROJECT_NAME", "value": PROJECT},
                        {"name": "DOCS_BUCKET", "value": names["docs_bucket"]},
                    ],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": names["ci_log_group"],
                            "awslogs-region": REGION,
                            "awslogs-stream-prefix": "ecs",
                        },
                    },
                }
            ],
        )
        try:
            yield {"subnet": subnet, "security_group": group}
        finally:
            state_manager.unset_transition(model_name="ecs::task")
            environments_json.write_text(original)


def run_results(*nodes: tuple[str, str, str]) -> dict:
    return {"results": [{"unique_id": uid, "status": status, "message": message} for uid, status, message in nodes]}


class FakeTask(threading.Thread):
    """What the CI task does, seen from AWS: log lines, run_results.json, then a stop."""

    def __init__(
        self,
        names: dict[str, str],
        lines: list[str],
        exit_code: int | None,
        results: dict | None = None,
        stopped_reason: str = "",
    ) -> None:
        super().__init__(daemon=True)
        self.names, self.lines, self.exit_code = names, lines, exit_code
        self.results, self.stopped_reason = results, stopped_reason
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._play()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error

    def _play(self) -> None:
        cluster = self.names["ecs_cluster"]
        backend = ecs_backends[DEFAULT_ACCOUNT_ID][REGION]
        deadline = time.monotonic() + 30
        while not backend.tasks.get(cluster):
            if time.monotonic() > deadline:
                raise TimeoutError("ci-remote started no task")
            time.sleep(0.02)
        ((arn, task),) = backend.tasks[cluster].items()
        task_id = arn.rsplit("/", 1)[-1]
        if self.exit_code is not None:
            logs = boto3.client("logs", region_name=REGION)
            stream = f"ecs/{self.names['container']}/{task_id}"
            logs.create_log_stream(logGroupName=self.names["ci_log_group"], logStreamName=stream)
            for line in self.lines:
                # One event at a time, as the runner prints them, so ci-remote reads them across polls.
                stamp = int(time.time() * 1000)
                logs.put_log_events(
                    logGroupName=self.names["ci_log_group"],
                    logStreamName=stream,
                    logEvents=[{"timestamp": stamp, "message": line}],
                )
                time.sleep(0.03)
        if self.results is not None:
            key = f"{PROJECT}/{ENVIRONMENT}/ci/pr-7/{RUN_ID}/run_results.json"
            boto3.client("s3", region_name=REGION).put_object(
                Bucket=self.names["docs_bucket"], Key=key, Body=json.dumps(self.results).encode()
            )
        (container,) = task.containers
        container.exitCode = self.exit_code
        task.stopped_reason = self.stopped_reason
        task.status = "STOPPED"


def runner_lines(names: dict[str, str], *rest: str) -> list[str]:
    artifacts = f"s3://{names['docs_bucket']}/{PROJECT}/{ENVIRONMENT}/ci/pr-7/{RUN_ID}/"
    return [
        f"12:00:00 runner info: run {RUN_ID}: ci run pull request 7 on environment dev, target ci, "
        f"project /tmp/dbt/project, artifacts to {artifacts}",
        *rest,
    ]


@pytest.fixture
def ci_remote(project: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`python scripts/ci.py ARGS` in-process while `task` plays the ECS task: (exit code, stdout, stderr)."""
    module = load_ci(project)

    def invoke(args: list[str], task: FakeTask | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        if task is not None:
            task.start()
        try:
            code = module.main(args)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
            if isinstance(stop.code, str):
                print(stop.code, file=sys.stderr)
        if task is not None:
            task.join(timeout=30)
            assert task.error is None, task.error
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def the_task(names: dict[str, str]) -> dict:
    ecs = boto3.client("ecs", region_name=REGION)
    arns = ecs.list_tasks(cluster=names["ecs_cluster"])["taskArns"]
    assert len(arns) == 1, f"exactly one RunTask, got {arns}"
    (task,) = ecs.describe_tasks(cluster=names["ecs_cluster"], tasks=arns)["tasks"]
    return task


def overrides(task: dict) -> dict[str, str]:
    (container,) = task["overrides"]["containerOverrides"]
    return {item["name"]: item["value"] for item in container["environment"]}


# ---- ci-remote ---------------------------------------------------------------------------------


def test_ci_remote_ships_the_project_runs_one_task_and_streams_its_log(
    aws, names, ci_remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary_file = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    lines = runner_lines(
        names,
        "12:00:05 runner info: dbt build --select state:modified+ --defer --state /tmp/dbt/state",
        "12:01:00 runner info: step build passed",
        f"12:01:01 runner info: run {RUN_ID} passed: ci pull request 7",
    )
    results = run_results(
        ("model.analytics_dbt.fct_orders", "success", "SELECT 99"),
        ("test.analytics_dbt.not_null_fct_orders_order_id", "pass", ""),
    )
    task = FakeTask(names, lines, exit_code=0, results=results)

    code, out, err = ci_remote(["ci-remote", ENVIRONMENT, "7", "--commit", COMMIT], task)

    assert code == 0, out + err
    # Every line of the task's log, in order, in the job's output.
    positions = [out.index(line) for line in lines]
    assert positions == sorted(positions), out
    described = the_task(names)
    assert described["taskDefinitionArn"].split("/")[-1].startswith(names["ci_task_family"] + ":")
    assert described["launchType"] == "FARGATE"
    project_url = f"s3://{names['docs_bucket']}/{PROJECT}/{ENVIRONMENT}/ci/pr-7/{COMMIT}/project.tar.gz"
    assert overrides(described) == {"RUNNER_MODE": "ci", "DBT_PR_NUMBER": "7", "CI_PROJECT_URL": project_url}
    network = described["attachments"][0]["details"]
    assert {"name": "subnetId", "value": aws["subnet"]} in network
    # The pull request's dbt/ directory, without build output, its project file at the root.
    body = (
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=names["docs_bucket"], Key=project_url.split("/", 3)[3])["Body"]
        .read()
    )
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        members = {Path(name).as_posix().removeprefix("./") for name in tar.getnames()}
    assert {"dbt_project.yml", "profiles.yml"} <= members
    assert not any(member.split("/")[0] in ("target", "logs", "dbt_packages") for member in members), members
    # Nothing under latest/: that is the deployment's.
    keys = [item["Key"] for item in boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=names["docs_bucket"])["Contents"]]  # fmt: skip
    assert all(f"/{ENVIRONMENT}/ci/pr-7/" in key for key in keys), keys
    summary = summary_file.read_text()
    assert summary.startswith("### dbt CI: pull request 7 on dev passed")
    assert "| 2 | 2 | 0 | 0 |" in summary and "Failed" not in summary
    assert err == ""


def test_ci_remote_exits_1_and_names_the_failed_model(aws, names, ci_remote) -> None:
    message = 'Database Error in model fct_orders: column "amount_usd" does not exist'
    lines = runner_lines(
        names, f"12:01:00 runner error: FAILED: step build: model.analytics_dbt.fct_orders error: {message}"
    )
    results = run_results(
        ("model.analytics_dbt.stg_orders", "success", "SELECT 99"),
        ("model.analytics_dbt.fct_orders", "error", message),
        ("model.analytics_dbt.dim_customers", "skipped", "skipped"),
    )
    code, out, err = ci_remote(["ci-remote", ENVIRONMENT, "7", "--commit", COMMIT], FakeTask(names, lines, 1, results))

    assert code == 1, out + err
    assert lines[-1] in out
    # No GITHUB_STEP_SUMMARY (GitLab, a laptop): the summary goes to the job log.
    summary = out[out.index("### dbt CI: pull request 7 on dev failed (exit code 1)") :]
    assert "| 3 | 1 | 1 | 1 |" in summary
    assert f"- `model.analytics_dbt.fct_orders` error: {message}" in summary


def test_ci_remote_reports_a_task_that_never_started(aws, names, ci_remote) -> None:
    reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"
    task = FakeTask(names, [], exit_code=None, stopped_reason=reason)

    code, out, err = ci_remote(["ci-remote", ENVIRONMENT, "7", "--commit", COMMIT], task)

    assert code == 1
    assert err.strip().splitlines() == [f"ci: the task stopped before its container ran: {reason}"]
    assert "No run_results.json under" in out and "Traceback" not in out + err


# ---- ci-cleanup and ci-sweep: the same path, another mode --------------------------------------


@pytest.mark.parametrize(
    ("args", "max_age", "expected"),
    [
        (["ci-cleanup", ENVIRONMENT, "7"], None, {"RUNNER_MODE": "cleanup", "DBT_PR_NUMBER": "7"}),
        (["ci-sweep", ENVIRONMENT], None, {"RUNNER_MODE": "sweep"}),
        (["ci-sweep", ENVIRONMENT], "3", {"RUNNER_MODE": "sweep", "CI_SCHEMA_MAX_AGE_DAYS": "3"}),
    ],
)
def test_cleanup_and_sweep_run_the_ci_task_in_their_mode(
    aws, names, ci_remote, monkeypatch: pytest.MonkeyPatch, args, max_age, expected
) -> None:
    if max_age:
        monkeypatch.setenv("CI_SCHEMA_MAX_AGE_DAYS", max_age)
    line = "12:00:09 runner info: run 20260101T120000Z-task passed"
    code, out, err = ci_remote(args, FakeTask(names, [line], exit_code=0))
    assert code == 0, out + err
    assert line in out
    assert overrides(the_task(names)) == expected
    assert "### dbt CI" not in out, "only a build has a summary"
    # Nothing shipped: cleanup and sweep run the image's own project.
    assert "Contents" not in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=names["docs_bucket"])


# ---- what is missing, in one line ----------------------------------------------------------------


def rename(project: Path, key: str, value: str) -> None:
    """Point environments.json's names.<key> at a resource that does not exist (the aws fixture restores it)."""
    path = project / "environments.json"
    document = json.loads(path.read_text())
    document["environments"][ENVIRONMENT]["names"][key] = value
    path.write_text(json.dumps(document))


def test_missing_cluster_family_and_bucket_are_one_line_each(aws, project: Path, names, ci_remote) -> None:
    # moto keeps running tasks on a deleted cluster, so the missing ones are names nothing has.
    rename(project, "ecs_cluster", "analytics-dbt-dev-gone")
    code, _, err = ci_remote(["ci-sweep", ENVIRONMENT])
    assert code != 0 and err.strip().splitlines() == [
        "ci: ECS cluster analytics-dbt-dev-gone does not exist; apply the environment first (make deploy-infra)"
    ], err

    rename(project, "ecs_cluster", names["ecs_cluster"])
    rename(project, "ci_task_family", "analytics-dbt-dev-dbt-gone")
    code, _, err = ci_remote(["ci-cleanup", ENVIRONMENT, "7"])
    assert code != 0 and err.strip().splitlines() == [
        f"ci: no task definition analytics-dbt-dev-dbt-gone in cluster {names['ecs_cluster']}'s account; "
        "apply the environment (make deploy-infra), which creates the CI task"
    ], err

    rename(project, "docs_bucket", "analytics-dbt-dev-docs-gone")
    code, _, err = ci_remote(["ci-remote", ENVIRONMENT, "7", "--commit", COMMIT])
    assert code != 0 and err.strip().splitlines() == [
        "ci: the docs bucket analytics-dbt-dev-docs-gone does not exist; apply the environment first "
        "(make deploy-infra), or fix names.docs_bucket in environments.json"
    ], err
    assert boto3.client("ecs", region_name=REGION).list_tasks(cluster=names["ecs_cluster"])["taskArns"] == []


def test_a_missing_security_group_says_where_to_set_it(aws, names, ci_remote) -> None:
    boto3.client("ec2", region_name=REGION).delete_security_group(GroupId=aws["security_group"])
    code, _, err = ci_remote(["ci-cleanup", ENVIRONMENT, "7"])
    assert code != 0 and err.strip().splitlines() == [
        f"ci: no security group named {names['security_group']} in dev; apply the environment first "
        "(make deploy-infra), or list security_group_ids in environments.json"
    ], err


def test_ci_remote_code_is_ruff_clean(default_project: Path) -> None:
    ruff = require_tool("ruff", "install the template's dev requirements: make venv")
    for command in ([ruff, "check", "--no-cache", "scripts"], [ruff, "format", "--no-cache", "--check", "scripts"]):
        result = subprocess.run(command, cwd=default_project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
