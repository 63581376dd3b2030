"""The production runner of the generated repository, run in-process against moto.

One copy of the default bake serves the whole module, so dbt's partial parsing
carries over from run to run. Its profiles.yml's warehouse targets change:

- ``deploy`` and ``ci``: DuckDB whose database file and schema come from the DBT_REDSHIFT_*
  variables the runner fetched, so a deployment-style or pull-request run (ENV set,
  credentials fetched, artifacts to S3) proves the values reached dbt's profile;
- ``unreachable``: PostgreSQL on a loopback port nothing listens on, whose password
  is the planted secret, so the connection failure path is exercised for real.

A known secret is planted in every credentials store; no captured output and no
file the runs leave behind may contain it. Every credentials source against the
task definition Terraform applies and a real PostgreSQL: tests/test_credentials.py.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws
from moto.core import enable_iam_authentication

from tests.conftest import require_tool

SECRET = "pl4nted-Secr3t-e7d1c0"
REGION = "eu-west-1"
BUCKET = "analytics-dbt-ci-docs-111111111111"
RUN_ID = "20260101T000000Z-task0001"
PROJECT = "analytics-dbt"
ARTIFACTS = {"manifest.json", "run_results.json", "sources.json", "catalog.json", "index.html", "static_index.html"}
ALL_ARTIFACTS = ARTIFACTS | {"dbt.log"}

# Every variable the runner reads; each test starts from none of them.
RUNNER_VARIABLES = (
    "ENV",
    "DOCS_BUCKET",
    "ARTIFACTS_URL",
    "LATEST_URL",
    "RUN_ID",
    "PROJECT_NAME",
    "DBT_TARGET",
    "DBT_PROJECT_DIR",
    "DBT_LOG_FORMAT",
    "DBT_CREDENTIALS_SOURCE",
    "DBT_CREDENTIALS_SECRET_ID",
    "DBT_CREDENTIALS_PARAMETER_PATH",
    "DBT_GLUE_CONNECTION",
    "DBT_FAIL_ON_STALE_SOURCES",
    "DBT_REDSHIFT_HOST",
    "DBT_REDSHIFT_PORT",
    "DBT_REDSHIFT_USER",
    "DBT_REDSHIFT_DB",
    "DBT_REDSHIFT_SCHEMA",
    "DBT_ENV_SECRET_REDSHIFT_PASSWORD",
    "DBT_ENV_SECRET_CREDENTIALS",
    "DBT_REDSHIFT_METHOD",
    "DBT_REDSHIFT_CLUSTER_ID",
    "DBT_REDSHIFT_REGION",
    "ECS_CONTAINER_METADATA_URI_V4",
    "RUNNER_MODE",
    "DBT_PR_NUMBER",
    "CI_PROJECT_URL",
    "STATE_DIR",
    "CI_SCHEMA_MAX_AGE_DAYS",
    "DBT_TARGET_PATH",
    "DBT_LOG_PATH",
)


def closed_port() -> int:
    """A loopback port with nothing listening: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def project(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("runner") / default_project.name
    shutil.copytree(default_project, target)
    profiles_path = target / "dbt" / "profiles.yml"
    profiles = yaml.safe_load(profiles_path.read_text())
    (profile,) = profiles.values()
    # The runner picks deploy (a deployment run) or ci (a pull request's run); here both are
    # DuckDB files named by the fetched credentials, so a run proves the values reached dbt.
    for role in ("deploy", "ci"):
        profile["outputs"][role] = {
            "type": "duckdb",
            "path": "{{ env_var('DBT_REDSHIFT_DB') }}.duckdb",
            "schema": "{{ env_var('DBT_REDSHIFT_SCHEMA') }}",
            "threads": 2,
        }
    profile["outputs"]["unreachable"] = {
        "type": "postgres",
        "host": "127.0.0.1",
        "port": closed_port(),
        "user": "dbt",
        "password": "{{ env_var('DBT_ENV_SECRET_REDSHIFT_PASSWORD') }}",
        "dbname": "warehouse",
        "schema": "analytics",
        "threads": 1,
        "connect_timeout": 2,
        "retries": 0,
    }
    profiles_path.write_text(yaml.safe_dump(profiles, sort_keys=False))
    sys.path.insert(0, str(target))
    yield target
    sys.path.remove(str(target))
    for name in [module for module in sys.modules if module == "runner" or module.startswith("runner.")]:
        del sys.modules[name]


@pytest.fixture
def run(project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]):
    """Run the runner's main() like the entrypoint does; return (exit code, everything printed).

    The runner writes its process's environment (DBT_TARGET, the fetched credentials), as it may
    in its own process on ECS; here the test's environment is put back afterwards.
    """
    saved = dict(os.environ)
    yield from _runner(project, monkeypatch, capfd)
    os.environ.clear()
    os.environ.update(saved)


def _runner(project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]):
    for name in RUNNER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    monkeypatch.chdir(project)
    main = importlib.import_module("runner.main")
    assert Path(main.__file__).is_relative_to(project), "the runner must come from the baked project"

    def invoke(argv: list[str] | None = None, **env: str) -> tuple[int, str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # boto3's default session keeps the first credentials it saw; each run is a fresh process on ECS.
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
        capfd.readouterr()
        code = main.main(argv or [])
        output = capfd.readouterr()
        return code, output.out + output.err

    yield invoke


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def assert_secret_nowhere(output: str, *roots: Path) -> None:
    assert SECRET not in output, "the planted secret was printed"
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), f"the planted secret was written to {path}"


def deployment_env(**extra: str) -> dict[str, str]:
    return {"ENV": "ci", "DOCS_BUCKET": BUCKET, "RUN_ID": RUN_ID, "DBT_REDSHIFT_SCHEMA": "analytics_ci", **extra}


def s3_keys(client) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_local_run_exports_every_artifact_to_a_directory(run, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "artifacts"
    code, output = run(ARTIFACTS_URL=out.as_uri() + "/")
    assert code == 0, last_line(output)
    assert "local run: no credentials fetched" in output
    assert {path.name for path in out.iterdir()} == ALL_ARTIFACTS
    results = json.loads((out / "run_results.json").read_text())["results"]
    assert results and all(result["status"] in ("success", "pass") for result in results)
    # One parse for the whole run: the later commands reuse the manifest.
    assert output.count("dbt parse") == 1 and output.count("Unable to do partial parsing") <= 1


@pytest.fixture
def planted(project: Path) -> Iterator[dict[str, Path]]:
    """A failing model, a failing singular test and a stale source, removed again after the test."""
    files = {
        "model": project / "dbt" / "models" / "broken_model.sql",
        "test": project / "dbt" / "tests" / "assert_always_fails.sql",
        "source": project / "dbt" / "models" / "_stale_source.yml",
    }
    yield files
    for path in files.values():
        path.unlink(missing_ok=True)


def test_failing_model_still_exports_artifacts_with_the_error(run, planted, tmp_path: Path) -> None:
    planted["model"].write_text("select * from a_table_that_does_not_exist\n")
    out = tmp_path / "artifacts"
    code, output = run(["--select", "broken_model"], ARTIFACTS_URL=out.as_uri())
    assert code == 1
    reason = last_line(output)
    assert "FAILED: step build: model." in reason and "broken_model error" in reason, reason
    assert "a_table_that_does_not_exist" in reason, reason
    assert {path.name for path in out.iterdir()} == ALL_ARTIFACTS
    results = json.loads((out / "run_results.json").read_text())["results"]
    (broken,) = [result for result in results if result["unique_id"].endswith(".broken_model")]
    assert broken["status"] == "error" and "a_table_that_does_not_exist" in broken["message"]


def test_failing_test_fails_the_run(run, planted, tmp_path: Path) -> None:
    planted["test"].write_text("-- Always returns a row, so it always fails.\nselect 1 as failure\n")
    out = tmp_path / "artifacts"
    code, output = run(["--select", "assert_always_fails"], ARTIFACTS_URL=out.as_uri())
    assert code == 1
    reason = last_line(output)
    assert "FAILED: step build: test." in reason and "assert_always_fails fail" in reason, reason
    results = json.loads((out / "run_results.json").read_text())["results"]
    # The on-run-end hook (record_ci_build) is an operation in run_results; the nodes are the subject.
    assert [result["status"] for result in results if not result["unique_id"].startswith("operation.")] == ["fail"]


@mock_aws
@pytest.mark.parametrize(
    ("source", "settings", "expected"),
    [
        (
            "secrets_manager",
            {"DBT_CREDENTIALS_SECRET_ID": "analytics-dbt/ci/missing"},
            "could not read Secrets Manager secret analytics-dbt/ci/missing: ResourceNotFoundException",
        ),
        ("secrets_manager", {}, "DBT_CREDENTIALS_SECRET_ID is not set"),
        ("ecs_secrets", {}, "the secret ECS injected as DBT_ENV_SECRET_CREDENTIALS is empty"),
        (
            "ecs_secrets",
            {"DBT_ENV_SECRET_CREDENTIALS": json.dumps({"username": "dbt", "password": SECRET})},
            "DBT_REDSHIFT_HOST, DBT_REDSHIFT_DB not set after reading credentials from ecs_secrets",
        ),
    ],
)
def test_missing_credentials_stop_the_run_with_the_reason(run, source, settings, expected) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    code, output = run(**deployment_env(DBT_CREDENTIALS_SOURCE=source, **settings))
    assert code == 2
    reason = last_line(output)
    assert reason.endswith("FAILED: step credentials: " + reason.split("FAILED: step credentials: ", 1)[-1])
    assert expected in reason, reason
    assert "dbt parse" not in output, "dbt must not start without credentials"


def test_unreachable_warehouse_fails_the_connection_check(run, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "artifacts"
    code, output = run(ARTIFACTS_URL=out.as_uri(), DBT_TARGET="unreachable", DBT_ENV_SECRET_REDSHIFT_PASSWORD=SECRET)
    assert code == 1
    reason = last_line(output)
    assert "FAILED: step debug: cannot connect to the warehouse:" in reason, reason
    assert "Connection refused" in reason, reason
    assert "dbt build" not in output, "nothing is built when the warehouse cannot be reached"
    assert "dbt.log" in {path.name for path in out.iterdir()}
    assert "Connection refused" in (out / "dbt.log").read_text()
    assert_secret_nowhere(output, project, out)


@mock_aws
def test_denied_upload_fails_the_run_with_the_reason(run, project: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="dbt-task")
    # The task may read the bucket but not write to it: a broken task role policy.
    iam.put_user_policy(
        UserName="dbt-task",
        PolicyName="read-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="dbt-task")["AccessKey"]
    load_raw_tables(project / "warehouse_denied.duckdb", project)
    env = deployment_env(
        DBT_CREDENTIALS_SOURCE="ecs_secrets",
        DBT_ENV_SECRET_CREDENTIALS=json.dumps(
            {"username": "dbt", "password": SECRET, "host": "redshift.internal", "dbname": "warehouse_denied"}
        ),
        AWS_ACCESS_KEY_ID=key["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
    )
    with enable_iam_authentication():
        code, output = run(**env)
    assert code == 3, output[-3000:]
    reason = last_line(output)
    assert reason.endswith("failed: AccessDenied") and f"s3://{BUCKET}/{PROJECT}/ci/runs/{RUN_ID}/" in reason, reason
    assert "FAILED: artifacts export: upload of" in reason
    assert s3_keys(s3) == set()
    assert_secret_nowhere(output, project)


def load_raw_tables(database: Path, project: Path) -> None:
    """The raw tables a deployment reads (sources are real outside the local target): the sample rows."""
    import duckdb

    connection = duckdb.connect(str(database))
    try:
        connection.execute("create schema if not exists jaffle_shop")
        for table in ("customers", "orders", "payments"):
            csv = project / "dbt" / "seeds" / "jaffle_shop" / f"{table}.csv"
            connection.execute(
                f"create or replace table jaffle_shop.{table} as "
                f"select *, current_timestamp as _loaded_at from read_csv_auto('{csv}')"
            )
    finally:
        connection.close()


STALE_SOURCE = """
sources:
  - name: stale_fixture
    description: A source last loaded in 2000.
    schema: analytics_sandbox_jaffle_shop
    tables:
      - name: customers
        description: The sample customers, read as if loaded in 2000.
        config:
          loaded_at_field: "cast('2000-01-01' as timestamp)"
          freshness:
            error_after: {count: 1, period: day}
"""


@pytest.mark.parametrize("fail_on_stale", ["no", "yes"])
def test_stale_source_warns_or_fails_as_configured(run, planted, tmp_path: Path, fail_on_stale: str) -> None:
    planted["source"].write_text(STALE_SOURCE)
    code, output = run(ARTIFACTS_URL=(tmp_path / "artifacts").as_uri(), DBT_FAIL_ON_STALE_SOURCES=fail_on_stale)
    stale = "source.analytics_dbt.stale_fixture.customers is stale"
    if fail_on_stale == "yes":
        assert code == 1, output[-3000:]
        assert last_line(output).endswith(f"FAILED: step source freshness: {stale}"), last_line(output)
    else:
        assert code == 0, output[-3000:]
        assert f"runner warn: source freshness: {stale}" in output


def test_json_log_format_prints_only_json_lines(run, tmp_path: Path) -> None:
    code, output = run(ARTIFACTS_URL=(tmp_path / "artifacts").as_uri(), DBT_LOG_FORMAT="json")
    assert code == 0, output[-3000:]
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    runner_lines = [line for line in lines if line.get("logger") == "runner"]
    assert runner_lines[-1]["msg"].endswith("passed")
    assert any(line.get("info", {}).get("name") == "MainReportVersion" for line in lines), "dbt's own JSON lines"


def test_run_id_names_the_ecs_task(run, monkeypatch: pytest.MonkeyPatch) -> None:
    """On ECS the run id carries the task id, read from the task metadata endpoint."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Metadata(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = json.dumps({"TaskARN": "arn:aws:ecs:eu-west-1:111111111111:task/cluster/0123abcd"}).encode()
            status = 200 if self.path == "/v4/container/task" else 404
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Metadata)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", f"http://127.0.0.1:{server.server_port}/v4/container")
        run_id = importlib.import_module("runner.run_id").new()
    finally:
        server.shutdown()
        server.server_close()
    assert run_id.endswith("Z-0123abcd") and len(run_id) == len("20260101T000000Z-0123abcd"), run_id


# ---- pull-request modes: ci, cleanup, sweep ------------------------------------------------------


def ci_env(**extra: str) -> dict[str, str]:
    """A CI task's environment (Terraform's CI family), credentials as ECS injects them."""
    credentials = {"username": "dbt_ci", "password": SECRET, "host": "redshift.internal", "dbname": "warehouse_ci"}
    settings = {
        "RUNNER_MODE": "ci",
        "DBT_CREDENTIALS_SOURCE": "ecs_secrets",
        "DBT_ENV_SECRET_CREDENTIALS": json.dumps(credentials),
        **extra,
    }
    return deployment_env(**settings)


@pytest.mark.parametrize(
    ("mode", "variable", "value", "rule"),
    [
        ("ci", "DBT_PR_NUMBER", None, "DBT_PR_NUMBER must be the pull request's number, digits only"),
        ("ci", "DBT_PR_NUMBER", "7a", "DBT_PR_NUMBER must be the pull request's number, digits only"),
        ("cleanup", "DBT_PR_NUMBER", "", "DBT_PR_NUMBER must be the pull request's number, digits only"),
        ("sweep", "CI_SCHEMA_MAX_AGE_DAYS", "0", "CI_SCHEMA_MAX_AGE_DAYS must be a whole number of days, 1 or more"),
        ("preview", "RUNNER_MODE", None, "RUNNER_MODE must be one of deploy, ci, cleanup, sweep"),
    ],
)
def test_ci_modes_refuse_a_bad_setting_before_dbt_starts(run, mode, variable, value, rule) -> None:
    env = ci_env(RUNNER_MODE=mode)
    if value is not None:
        env[variable] = value
    code, output = run(**env)
    assert code == 2
    assert output.strip().count("\n") == 0, "one line"
    assert rule in last_line(output) and last_line(output).startswith(last_line(output).split("FAILED")[0])
    assert "FAILED: configuration: " in last_line(output)
    assert "dbt parse" not in output


def project_tarball(project: Path) -> bytes:
    """What ci-remote uploads: the repository's dbt/ directory, its files at the root."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(project / "dbt", arcname=".", filter=lambda info: None if "/target" in info.name else info)
    return buffer.getvalue()


@mock_aws
def test_ci_mode_builds_the_pull_requests_project_against_the_deployment_state(
    run, project: Path, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    url_key = f"{PROJECT}/ci/ci/pr-7/abc123/project.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=url_key, Body=project_tarball(project))
    scratch = tmp_path / "scratch"
    env = ci_env(
        DBT_PR_NUMBER="7",
        CI_PROJECT_URL=f"s3://{BUCKET}/{url_key}",
        DBT_TARGET_PATH=str(scratch / "target"),
        DBT_LOG_PATH=str(scratch / "logs"),
    )

    # No deployment yet: one line says so, and everything builds into the pull request's schemas.
    code, first = run(["--select", "stg_customers"], **env)
    assert f"run {RUN_ID}: ci run pull request 7 on environment ci, target ci" in first.splitlines()[0]
    assert f"project: the pull request's dbt project from s3://{BUCKET}/{url_key}" in first
    assert f"no deployment manifest at s3://{BUCKET}/{PROJECT}/ci/latest/manifest.json yet" in first
    assert "dbt build --select stg_customers" in first and "state:modified+" not in first
    prefix = f"{PROJECT}/ci/ci/pr-7/{RUN_ID}/"
    assert {key[len(prefix) :] for key in s3_keys(s3) if key.startswith(prefix)} >= {"manifest.json", "dbt.log"}

    # That manifest as the deployment's, read from latest/: only what changed builds.
    s3.upload_file(str(scratch / "target" / "manifest.json"), BUCKET, f"{PROJECT}/ci/latest/manifest.json")
    code, second = run(**env)
    assert code == 0, second[-3000:]
    assert f"state: deployment manifest s3://{BUCKET}/{PROJECT}/ci/latest/manifest.json" in second
    assert "dbt build --select state:modified+ --defer --state " + str(scratch / "state") in second

    # STATE_DIR wins over the bucket.
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(scratch / "target" / "manifest.json", state / "manifest.json")
    code, third = run(**env, STATE_DIR=str(state))
    assert code == 0, third[-3000:]
    assert f"state: deployment manifest from STATE_DIR {state}" in third
    assert f"--defer --state {state}" in third
    # A pull request's run never writes latest/: only the manifest put there above.
    assert {key for key in s3_keys(s3) if "/latest/" in key} == {f"{PROJECT}/ci/latest/manifest.json"}
    assert all(key.startswith((f"{PROJECT}/ci/ci/pr-7/", f"{PROJECT}/ci/latest/")) for key in s3_keys(s3))
    assert_secret_nowhere(first + second + third, scratch)

    # A STATE_DIR without a manifest, or a project that cannot be read: exit 2, one line.
    code, output = run(**env, STATE_DIR=str(tmp_path))
    assert code == 2 and f"FAILED: step state: STATE_DIR={tmp_path} has no manifest.json" in last_line(output)
    code, output = run(**{**env, "CI_PROJECT_URL": f"s3://{BUCKET}/{PROJECT}/ci/ci/pr-7/nope/project.tar.gz"})
    assert code == 2 and "FAILED: step project: cannot read the pull request's project" in last_line(output)
    assert "dbt parse" not in output


@mock_aws
@pytest.mark.parametrize(
    ("mode", "extra", "operation"),
    [
        ("cleanup", {"DBT_PR_NUMBER": "7"}, "dbt run-operation drop_pr_schemas --args {pr: 7}"),
        ("sweep", {"CI_SCHEMA_MAX_AGE_DAYS": "3"}, "dbt run-operation drop_stale_pr_schemas --args {max_age_days: 3}"),
    ],
)
def test_cleanup_and_sweep_parse_and_run_one_operation(run, mode: str, extra: dict, operation: str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    code, output = run(**ci_env(RUNNER_MODE=mode, **extra))
    assert f"{mode} run" in output.splitlines()[0] and "target ci" in output.splitlines()[0]
    assert operation in output
    for step in ("dbt debug", "dbt build", "dbt source", "dbt docs"):
        assert step not in output
    # The macros are another engineer's (dbt/macros/cleanup.sql); on DuckDB they may refuse,
    # so the exit code is the runner's: 0 passed, 1 the operation failed, with its reason last.
    assert code in (0, 1), output[-3000:]
    assert f"run {RUN_ID} passed" in last_line(output) or "FAILED: step run-operation: " in last_line(output)
    assert output.count("dbt parse") == (1 if mode == "cleanup" else 0), "a sweep's run-operation parses itself"
    where = f"ci/pr-7/cleanup/{RUN_ID}/" if mode == "cleanup" else f"ci/sweep/{RUN_ID}/"
    assert any(key.startswith(f"{PROJECT}/ci/{where}") for key in s3_keys(s3))
    assert not any("/latest/" in key for key in s3_keys(s3))


def test_make_run_is_the_local_pipeline(project_copy: Path) -> None:
    """`make run`, as a new user types it, on the template's venv; ENV from the shell is ignored."""
    make = require_tool("make", "apt-get install make")
    venv = Path(sys.executable).parent.parent
    env = {**os.environ, "ENV": "dev", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    # -o: the template's venv counts as installed; make must never pip-install into it.
    command = [make, "run", f"VENV={venv}", "-o", f"{venv}/.installed", "ARGS=--exclude dim_customers"]
    result = subprocess.run(command, cwd=project_copy, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "local run (ENV unset)" in result.stdout
    assert {path.name for path in (project_copy / "artifacts").iterdir()} == ALL_ARTIFACTS
    results = json.loads((project_copy / "artifacts" / "run_results.json").read_text())["results"]
    assert any(result["unique_id"].endswith(".fct_orders") for result in results)
    assert not any(result["unique_id"].endswith(".dim_customers") for result in results), "ARGS reach dbt build"


def test_runner_code_is_ruff_clean(default_project: Path) -> None:
    ruff = require_tool("ruff", "install the template's dev requirements: make venv")
    for command in ([ruff, "check", "runner"], [ruff, "format", "--check", "runner"]):
        result = subprocess.run(command, cwd=default_project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
