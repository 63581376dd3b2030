"""The generated Airflow DAG, in Airflow 2.10 and Airflow 3 (each in its own venv), against moto.

Everything Airflow runs in a subprocess of .venvs/airflow2 or .venvs/airflow3 through
tests/airflow_harness/run_dag.py; the two versions run side by side, once per module, and the
tests below assert on what they reported. Three bakes cover the answers the DAG depends on:

- default: FARGATE, synchronous wait, no notification;
- spot: FARGATE_SPOT, deferrable, SNS on failure, Terraform-created security group;
- slack: Slack webhook on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, bake, require_tool, require_venv_python

HARNESS = REPO_ROOT / "tests" / "airflow_harness" / "run_dag.py"
VENVS = {"airflow2": "venv-airflow2", "airflow3": "venv-airflow3"}
VARIANTS = {
    "default": {},
    "spot": {
        "use_fargate_spot": "yes",
        "airflow_deferrable": "yes",
        "notifications": "sns",
        "create_security_group": "yes",
        "security_group_ids": "",
    },
    "slack": {"notifications": "slack"},
}
# Which environment each variant's Airflow is, and what each run does: (variant, exit code, dbt args).
ENVIRONMENT = {"default": "dev", "spot": "live", "slack": "live"}
RUNS = {
    "success": ("default", 0, "--select orders+"),
    "deferred_success": ("spot", 0, ""),
    "failure_sns": ("spot", 3, ""),
    "failure_slack": ("slack", 1, ""),
}
SECTION = "ANALYTICS_DBT"
CONTAINER_LOG = "dbt-container: Completed successfully PASS=7"
HARNESS_TIMEOUT = 240
# moto's default account, so the assumed role lands where the harness created the resources.
RUNNER_ROLE = "arn:aws:iam::123456789012:role/airflow-runs-dbt"


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: bake(tmp_path_factory.mktemp(name), **answers) for name, answers in VARIANTS.items()}


def in_venv(command: list[str], home: Path, log: Path, environment: str | None = None, aws: bool = False) -> str:
    """Run a command of an Airflow venv with a clean environment; its output is also kept in `log`."""
    env = {
        "PATH": os.environ["PATH"],
        # No ~/.aws, no AWS_* variables: nothing to find credentials in unless `aws` asks for moto's.
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    if environment:
        env[f"AIRFLOW__{SECTION}__ENVIRONMENT"] = environment
    if aws:
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-west-1")
        # The connection as README.md configures it for a cross-account run: the provider assumes the role.
        env["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
            {"conn_type": "aws", "extra": {"role_arn": RUNNER_ROLE, "region_name": "eu-west-1"}}
        )
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=HARNESS_TIMEOUT, check=False)
    output = result.stdout + result.stderr
    log.write_text(output)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command[1:4])} failed ({result.returncode}), see {log}:\n{output[-4000:]}")
    return result.stdout


def harness(python: Path, home: Path, log: Path, *args: str, **kwargs) -> tuple[dict, str, float]:
    """The harness's JSON report (its last stdout line), its whole output and its seconds."""
    started = time.perf_counter()
    stdout = in_venv([str(python), str(HARNESS), *args], home, log, **kwargs)
    return json.loads(stdout.strip().splitlines()[-1]), log.read_text(), time.perf_counter() - started


def run_version(venv: str, projects: dict[str, Path], work: Path) -> dict:
    python = require_venv_python(venv, VENVS[venv])
    home = work / "home"
    home.mkdir(parents=True)
    report: dict = {"seconds": {}, "runs": {}, "outputs": {}}
    started = time.perf_counter()
    in_venv([str(python.parent / "airflow"), "db", "migrate"], home, work / "migrate.log")
    report["seconds"]["db_migrate"] = time.perf_counter() - started
    dags = [str(projects[name] / "airflow" / "dags") for name in VARIANTS]
    report["integrity"], _, report["seconds"]["integrity"] = harness(
        python, home, work / "integrity.log", "integrity", *dags, environment="dev"
    )
    for run, (variant, exit_code, dbt_args) in RUNS.items():
        run_home = work / run
        # Each run deploys its own copy of the DAG folder next to the shared, migrated database.
        run_home.mkdir()
        (run_home / "airflow.db").symlink_to(home / "airflow.db")
        dags_dir = str(projects[variant] / "airflow" / "dags")
        report["runs"][run], report["outputs"][run], report["seconds"][run] = harness(
            python,
            run_home,
            work / f"{run}.log",
            "run",
            dags_dir,
            str(exit_code),
            dbt_args,
            environment=ENVIRONMENT[variant],
            aws=True,
        )
    return report


@pytest.fixture(scope="module")
def airflow(projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Both Airflow versions through integrity and every run, in parallel (one process each)."""
    for venv in VENVS:
        require_venv_python(venv, VENVS[venv])
    with ThreadPoolExecutor(max_workers=len(VENVS)) as pool:
        futures = {venv: pool.submit(run_version, venv, projects, tmp_path_factory.mktemp(venv)) for venv in VENVS}
    results = {}
    for venv, future in futures.items():
        try:
            results[venv] = future.result()
        except Exception as error:  # reported by every test of that version
            results[venv] = {"error": error}
    return results


def version_report(airflow: dict, venv: str) -> dict:
    report = airflow[venv]
    if "error" in report:
        pytest.fail(f"{venv}: {report['error']}")
    return report


def environments(project: Path) -> dict:
    return json.loads((project / "environments.json").read_text())


@pytest.mark.parametrize("venv", VENVS)
def test_dag_imports_cleanly_offline_with_expected_settings(airflow, projects, venv, capsys):
    integrity = version_report(airflow, venv)["integrity"]
    for name, project in projects.items():
        report = integrity[str(project / "airflow" / "dags")]
        assert report["import_errors"] == {}, f"{name}: {report['import_errors']}"
        dag = report["dags"]["analytics_dbt_dbt"]
        names = environments(project)["environments"]["dev"]
        assert dag["tasks"] == ["dbt_build"] and dag["operator"] == "EcsRunTaskOperator"
        assert dag["retries"] == 2 and dag["retry_delay"] == 300 and dag["execution_timeout"] == 3 * 3600
        assert dag["max_active_runs"] == 1 and dag["catchup"] is False
        assert dag["tags"] == ["dbt", "dev", "ecs"]
        assert dag["schedule"] == "0 12 * * *"
        assert dag["start_date"] == "2025-01-01T00:00:00+00:00" and dag["doc_md"]
        assert dag["params"] == ["dbt_args"]
        assert dag["cluster"] == names["names"]["ecs_cluster"]
        assert dag["task_definition"] == names["names"]["task_family"]
        assert dag["container_name"] == "dbt" and dag["awslogs_group"] == names["names"]["log_group"]
        assert dag["awslogs_stream_prefix"] == "ecs/dbt"
        assert dag["reattach"] is True and dag["wait_for_completion"] is True
        network = dag["network_configuration"]["awsvpcConfiguration"]
        assert network["subnets"] == names["subnet_ids"] and network["assignPublicIp"] == "DISABLED"
        (override,) = dag["overrides"]["containerOverrides"]
        assert override["name"] == "dbt" and override["environment"] == [{"name": "ENV", "value": "dev"}]
        if name == "spot":
            assert dag["launch_type"] is None
            assert dag["capacity_provider_strategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
            assert dag["deferrable"] is True
            assert network["securityGroups"] == "{{ var.value.analytics_dbt_security_group_ids.split(',') }}"
        else:
            assert dag["launch_type"] == "FARGATE" and dag["capacity_provider_strategy"] is None
            assert dag["deferrable"] is False
            assert network["securityGroups"] == names["security_group_ids"]
        with capsys.disabled():
            print(
                f"\n{venv} DAG import ({name}): {report['import_seconds_cold']:.3f}s cold, "
                f"{report['import_seconds_warm']:.3f}s warm"
            )


@pytest.mark.parametrize("venv", VENVS)
def test_failure_notifiers_target_the_right_place(airflow, projects, venv):
    dags = version_report(airflow, venv)["integrity"]
    by_variant = {
        name: dags[str(project / "airflow" / "dags")]["dags"]["analytics_dbt_dbt"]["on_failure_callback"]
        for name, project in projects.items()
    }
    assert by_variant["default"] == []
    (sns,) = by_variant["spot"]
    assert sns["class"] == "SnsNotifier"
    assert sns["target_arn"] == "arn:aws:sns:eu-west-1:111111111111:analytics-dbt-dev-dbt-alerts"
    (slack,) = by_variant["slack"]
    assert slack["class"] == "SlackWebhookNotifier" and slack["slack_webhook_conn_id"] == "analytics_dbt_slack"


@pytest.mark.parametrize("venv", VENVS)
def test_dag_without_environment_is_an_import_error(airflow, venv):
    errors = version_report(airflow, venv)["integrity"]["without_environment"]
    (error,) = errors.values()
    assert "[analytics_dbt] environment" in error and "AIRFLOW__ANALYTICS_DBT__ENVIRONMENT" in error


@pytest.mark.parametrize("venv", VENVS)
def test_success_runs_dbt_args_and_brings_container_log(airflow, venv, capsys):
    report = version_report(airflow, venv)
    run = report["runs"]["success"]
    assert run["dag_run_state"].endswith("success") and run["try_numbers"] == {"dbt_build": 1}
    (task,) = run["ecs_tasks"]
    assert task["launch_type"] == "FARGATE"
    (override,) = task["overrides"]["containerOverrides"]
    assert override["command"] == ["--select", "orders+"]
    assert override["environment"] == [{"name": "ENV", "value": "dev"}]
    network = task["network_configuration"]["awsvpcConfiguration"]
    assert network == {
        "subnets": [run["created"]["subnet"]],
        "securityGroups": [run["created"]["security_group"]],
        "assignPublicIp": "DISABLED",
    }
    assert task["log_stream"].startswith("ecs/dbt/")
    assert CONTAINER_LOG in report["outputs"]["success"]
    assert any(
        CONTAINER_LOG in line and "task_log_fetcher" in line for line in report["outputs"]["success"].splitlines()
    )
    assert run["notifications_sent"] == []
    # Credentials came from assuming the connection's role_arn, not from the DAG.
    assert run["assumed_roles"] and set(run["assumed_roles"]) == {RUNNER_ROLE}
    with capsys.disabled():
        print(f"\n{venv} seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report["seconds"].items()))


@pytest.mark.parametrize("venv", VENVS)
def test_deferred_spot_run_succeeds_with_container_log(airflow, venv):
    report = version_report(airflow, venv)
    run = report["runs"]["deferred_success"]
    assert run["dag_run_state"].endswith("success")
    (task,) = run["ecs_tasks"]
    assert task["capacity_provider"] == "FARGATE_SPOT" and task["launch_type"] == ""
    # The Terraform-created security group, read from the Airflow Variable when the task ran.
    assert task["network_configuration"]["awsvpcConfiguration"]["securityGroups"] == [run["created"]["security_group"]]
    assert task["overrides"]["containerOverrides"][0]["environment"] == [{"name": "ENV", "value": "live"}]
    output = report["outputs"]["deferred_success"]
    assert "running trigger in line" in output  # really deferred
    assert CONTAINER_LOG in output


@pytest.mark.parametrize("run_name", ["failure_sns", "failure_slack"])
@pytest.mark.parametrize("venv", VENVS)
def test_failing_container_fails_task_after_retries_and_notifies_once(airflow, venv, run_name):
    report = version_report(airflow, venv)
    run = report["runs"][run_name]
    assert run["dag_run_state"].endswith("failed")
    assert run["task_states"] == {"dbt_build": "failed"}
    # retries=2 from default_args: three tries, each a new ECS task (the previous one had stopped),
    # all started by the same deterministic startedBy that reattach=True looks for.
    assert run["try_numbers"] == {"dbt_build": 3}
    assert len(run["ecs_tasks"]) == 3
    assert len({task["started_by"] for task in run["ecs_tasks"]}) == 1
    assert "This task is not in success state" in report["outputs"][run_name]
    (sent,) = run["notifications_sent"]
    if run_name == "failure_sns":
        assert sent["via"] == "sns"
        assert sent["target_arn"] == "arn:aws:sns:eu-west-1:222222222222:analytics-dbt-live-dbt-alerts"
        assert sent["subject"] == "analytics-dbt dbt failed in live"
        assert "try 3" in sent["message"]
    else:
        assert sent["via"] == "slack" and sent["conn_id"] == "analytics_dbt_slack"
        assert "failed in live" in sent["text"] and "try 3" in sent["text"]


@pytest.mark.parametrize("venv", VENVS)
def test_make_dag_check_parses_every_environment(projects, venv, tmp_path):
    make = require_tool("make", "apt-get install make")
    python = require_venv_python(venv, VENVS[venv])
    venv_dir = python.parent.parent
    result = subprocess.run(
        [make, "-C", str(projects["slack"]), "dag-check", f"AIRFLOW_VENV={venv_dir}"],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=HARNESS_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dag-check: dev: analytics_dbt_dbt" in result.stdout
    assert "dag-check: live: analytics_dbt_dbt" in result.stdout
    # The copy deploy-dag ships beside the DAG (dag-check parses the DAG as deployed).
    shipped = projects["slack"] / "airflow" / "dags" / "analytics_dbt_environments.json"
    assert shipped.read_text() == (projects["slack"] / "environments.json").read_text()


@pytest.mark.parametrize("variant", VARIANTS)
def test_mwaa_requirements_honour_constraint_and_resolve_in_tested_airflow(projects, variant, tmp_path):
    """MWAA's rule: a --constraint line first. Then uv, offline, must find every requirement
    satisfied by the Airflow 2.10 venv the DAG was tested in, with that venv's pins as constraints."""
    uv = require_tool("uv", "pip install uv")
    text = (projects[variant] / "airflow" / "requirements.txt").read_text()
    first, *rest = text.splitlines()
    assert (
        first
        == '--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt"'
    )
    requirements = [line for line in rest if line and not line.startswith("#")]
    expected = {
        "default": ["apache-airflow-providers-amazon"],
        "spot": ["apache-airflow-providers-amazon[aiobotocore]"],
        "slack": ["apache-airflow-providers-amazon", "apache-airflow-providers-slack"],
    }[variant]
    assert requirements == expected
    python = require_venv_python("airflow2", "venv-airflow2")
    freeze = subprocess.run([uv, "pip", "freeze", "--python", str(python)], capture_output=True, text=True, check=True)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(freeze.stdout)
    local = tmp_path / "requirements.txt"
    local.write_text("\n".join([f'--constraint "{constraints}"', *rest]) + "\n")
    check = subprocess.run(
        [uv, "pip", "install", "--dry-run", "--offline", "--python", str(python), "-r", str(local)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert "Would make no changes" in check.stderr, check.stderr


def test_airflow_files_are_ruff_clean(projects):
    ruff = require_tool("ruff", "make venv (requirements-dev.txt)")
    for name, project in projects.items():
        for command in ([ruff, "check", "--no-cache", "airflow"], [ruff, "format", "--check", "--no-cache", "airflow"]):
            result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
            assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
