"""CI/CD of the generated repository: workflows, GitLab variant, pre-commit and the make targets CI calls.

Every workflow is proved by the tools that consume it (the GitHub and GitLab
schemas, actionlint, zizmor). Every make target a workflow calls exists, and
the ones that do work run here for real: lint offline, push to a local OCI
archive with podman, the DAG copy and manifest fetch against a moto server,
and slim CI as a second dbt build that defers to a saved production manifest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import boto3
import pytest
import yaml

from tests.conftest import REPO_ROOT, bake, require_tool
from tests.moto_server import MotoServer

VENV_BIN = REPO_ROOT / ".venv" / "bin"
INSTALL = "run `make venv` in the template repository"
MAKE_CALL = re.compile(r"\bmake\b(?:\s+--?[a-z-]+)*\s+([a-z][a-z0-9-]*)")


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True, timeout: int = 300):
    result = subprocess.run(
        cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def as_git_repo(project: Path) -> Path:
    """git init + commit (pre-commit and IMAGE_TAG need a repository), and the template's venv as the project's.

    The project's .venv gets the template's tools (the same pins as its requirements-dev.txt)
    and a fresh .installed stamp, so `make` neither creates nor installs anything.
    """
    run(["git", "init", "-q", "-b", "main"], project)
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-qm", "baked"], project)
    venv = project / ".venv"
    venv.mkdir()
    (venv / "bin").symlink_to(VENV_BIN)
    (venv / ".installed").touch()
    return project


def make(project: Path, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: int = 300):
    return run(["make", "--no-print-directory", *args], project, env=env, check=check, timeout=timeout)


@pytest.fixture(scope="module")
def github_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return as_git_repo(bake(tmp_path_factory.mktemp("ci-github")))


@pytest.fixture(scope="module")
def moto():
    with MotoServer(account_id="111111111111") as server:
        yield server


def workflows(project: Path) -> list[Path]:
    found = sorted((project / ".github" / "workflows").glob("*.yml"))
    assert {path.name for path in found} == {"pull-request.yml", "deploy.yml", "deploy-environment.yml"}
    return found


def make_targets(project: Path) -> set[str]:
    database = make(project, "--print-data-base", "--question", "help", check=False).stdout
    return set(re.findall(r"^([a-z][a-z0-9-]*):", database, flags=re.M))


# ---- the workflow files --------------------------------------------------------------------------


def test_workflows_match_the_github_schema(github_project: Path) -> None:
    tool = require_tool("check-jsonschema", INSTALL)
    files = [str(path) for path in workflows(github_project)]
    result = run([tool, "--builtin-schema", "vendor.github-workflows", *files], github_project)
    assert "ok -- validation done" in result.stdout


def test_actionlint_finds_nothing(github_project: Path) -> None:
    tool = require_tool("actionlint", INSTALL)
    # Run in the repository, so actionlint also checks the calls of the local reusable workflow.
    result = run([tool, "-no-color"], github_project, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_finds_nothing(github_project: Path) -> None:
    tool = require_tool("zizmor", INSTALL)
    result = run([tool, "--offline", "--no-progress", "."], github_project, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout
    # Every relaxed rule says why, in a comment right above it.
    config = (github_project / ".github" / "zizmor.yml").read_text()
    for rule in yaml.safe_load(config)["rules"]:
        assert re.search(rf"#[^\n]*\n(?:\s*#[^\n]*\n)*\s*{rule}:", config), f"zizmor rule {rule} relaxed without a why"


def test_workflows_are_least_privilege_pinned_and_take_no_untrusted_input(github_project: Path) -> None:
    for path in workflows(github_project):
        document = yaml.safe_load(path.read_text())
        assert document["permissions"] == {}, f"{path.name}: the default token must have no permissions"
        for name, job in document["jobs"].items():
            granted = job.get("permissions", {})
            assert set(granted) <= {"contents", "id-token"}, f"{path.name}:{name} asks for {granted}"
            assert granted.get("contents") in (None, "read")
            for step in job.get("steps", []):
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
                if "run" in step:
                    assert "${{" not in step["run"], f"{path.name}:{name} interpolates into run: {step['run']}"
                if "aws-actions/configure-aws-credentials" in step.get("uses", ""):
                    assert granted.get("id-token") == "write"
                    assert set(step["with"]) == {"role-to-assume", "aws-region"}, "OIDC only, no keys"
    text = "".join(path.read_text() for path in workflows(github_project))
    assert "secrets." not in text and "AWS_ACCESS_KEY_ID" not in text


def test_deployment_order_and_promotion(github_project: Path) -> None:
    deploy = yaml.safe_load((github_project / ".github" / "workflows" / "deploy-environment.yml").read_text())
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.environment }}", "promotion must run in the GitHub environment"
    calls = [MAKE_CALL.search(step["run"]).group(1) for step in job["steps"] if "run" in step]
    order = ["image-load", "deploy-ecr", "push", "deploy-infra", "deploy-dag"]
    assert [call for call in calls if call in order] == order
    caller = yaml.safe_load((github_project / ".github" / "workflows" / "deploy.yml").read_text())
    assert caller[True]["push"]  # YAML 1.1 reads the key `on` as true
    assert caller[True]["push"]["branches"] == ["main"]
    assert caller["jobs"]["promote"]["needs"] == ["environments", "first"]
    assert caller["jobs"]["promote"]["strategy"]["max-parallel"] == 1


def test_every_make_target_a_workflow_calls_exists(github_project: Path) -> None:
    targets = make_targets(github_project)
    called = {
        MAKE_CALL.search(step["run"]).group(1)
        for path in workflows(github_project)
        for job in yaml.safe_load(path.read_text())["jobs"].values()
        for step in job.get("steps", [])
        if "make" in step.get("run", "")
    }
    assert {"lint", "test", "slim-ci", "push", "deploy-dag", "plan-summary"} <= called
    assert called - targets == set(), f"workflows call missing make targets: {called - targets}"


def test_ci_outputs_come_from_environments_json(github_project: Path) -> None:
    document = json.loads((github_project / "environments.json").read_text())
    listed = dict(line.split("=", 1) for line in make(github_project, "--silent", "ci-environments").stdout.split())
    assert json.loads(listed["all"]) == list(document["environments"]) == ["dev", "live"]
    assert listed["first"] == "dev" and json.loads(listed["promote"]) == ["live"]
    out = dict(line.split("=", 1) for line in make(github_project, "--silent", "ci-outputs", "ENV=live").stdout.split())
    live = document["environments"]["live"]
    assert out["deploy_role_arn"] == f"arn:aws:iam::{live['account_id']}:role/{live['names']['ci_deploy_role']}"
    assert out["repository_url"] == f"{live['account_id']}.dkr.ecr.eu-west-1.amazonaws.com/analytics-dbt-live"
    missing = make(github_project, "ci-outputs", check=False)
    assert missing.returncode != 0 and "set ENV to one of: dev live" in missing.stderr


# ---- the other providers -------------------------------------------------------------------------


def test_gitlab_variant_matches_its_schema_with_one_deploy_job_per_environment(tmp_path: Path) -> None:
    project = bake(
        tmp_path,
        ci_provider="gitlab",
        environments="dev staging live",
        aws_account_ids="dev=111111111111 staging=111111111112 live=222222222222",
        subnet_ids="dev=subnet-0a1b2c3d staging=subnet-0a1b2c3e live=subnet-0a1b2c3f",
        security_group_ids="dev=sg-0a1b2c3d staging=sg-0a1b2c3e live=sg-0a1b2c3f",
    )
    assert not (project / ".github").exists()
    tool = require_tool("check-jsonschema", INSTALL)
    result = run([tool, "--builtin-schema", "vendor.gitlab-ci", str(project / ".gitlab-ci.yml")], project)
    assert "ok -- validation done" in result.stdout
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    assert pipeline["deploy-dev"]["rules"][0].get("when") is None, "the first environment deploys on merge"
    assert pipeline["deploy-staging"]["rules"][0]["when"] == "manual"
    assert pipeline["deploy-live"]["needs"] == ["build-image", "deploy-staging"]
    assert pipeline["deploy-live"]["environment"]["name"] == "live"
    assert pipeline[".aws"]["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
    for job in ("deploy-dev", "plan-live", "slim-ci"):
        assert ".aws" in pipeline[job]["extends"], f"{job} must authenticate by OIDC"
    targets = make_targets(project)
    called = {
        MAKE_CALL.search(line).group(1)
        for job in pipeline.values()
        if isinstance(job, dict)
        for key in ("script", "before_script")
        for line in _flatten(job.get(key, []))
        if re.search(r"(^|\$\()make\b", line)
    }
    assert called - targets == set(), f".gitlab-ci.yml calls missing make targets: {called - targets}"


def _flatten(items: list) -> list[str]:
    return [line for item in items for line in (_flatten(item) if isinstance(item, list) else [item])]


def test_ci_provider_none_ships_only_the_make_targets(tmp_path: Path) -> None:
    project = bake(tmp_path, ci_provider="none")
    assert not (project / ".github").exists() and not (project / ".gitlab-ci.yml").exists()
    assert {"lint", "slim-ci", "push", "deploy-dag", "ci-outputs"} <= make_targets(project)


def test_github_repository_is_validated(tmp_path: Path) -> None:
    from cookiecutter.exceptions import FailedHookException

    with pytest.raises(FailedHookException):
        bake(tmp_path, github_repository="not a repository")
    # Only GitHub uses it: another provider ignores a value it cannot use.
    assert bake(tmp_path, ci_provider="gitlab", github_repository="").exists()


# ---- the make targets, for real ------------------------------------------------------------------


def test_lint_runs_every_hook_offline_and_passes(github_project: Path) -> None:
    require_tool("terraform", "install terraform 1.11")
    result = make(
        github_project, "lint", env={"PRE_COMMIT_HOME": str(github_project / ".pre-commit-cache")}, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for hook in ("sqlfluff", "ruff check", "ruff format", "terraform fmt", "hadolint", "shellcheck"):
        assert re.search(rf"^{re.escape(hook)}[ .(]", result.stdout, flags=re.M), f"hook {hook} did not run"
    assert "Skipped" not in result.stdout, "every hook must have files to check:\n" + result.stdout


def test_lint_fails_on_a_shell_defect(github_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(github_project, project, symlinks=True)
    script = project / "scripts" / "broken.sh"
    script.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    run(["git", "add", "scripts/broken.sh"], project)
    result = make(project, "lint", env={"PRE_COMMIT_HOME": str(tmp_path / "cache")}, check=False)
    assert result.returncode != 0 and "SC2086" in result.stdout


@pytest.mark.image
def test_push_and_image_handover_to_local_destinations(github_project: Path, tmp_path: Path) -> None:
    podman = require_tool("podman", "apt-get install podman runc")
    image = "localhost/analytics-dbt-ci-test:local"
    empty = tmp_path / "empty.tar"
    subprocess.run(["tar", "-cf", str(empty), "--files-from", "/dev/null"], check=True)
    run([podman, "import", str(empty), image], tmp_path)
    try:
        archive = tmp_path / "pushed.tar"
        out = make(github_project, "push", f"IMAGE={image}", f"IMAGE_DEST=oci-archive:{archive}", "CONTAINER=" + podman)
        assert f"-> oci-archive:{archive}" in out.stdout
        with tarfile.open(archive) as tar:
            assert json.load(tar.extractfile("index.json"))["manifests"], "an OCI layout with one image"
        directory = tmp_path / "pushed-dir"
        make(github_project, "push", f"IMAGE={image}", f"IMAGE_DEST=dir:{directory}", "CONTAINER=" + podman)
        manifest = json.loads((directory / "manifest.json").read_text())
        assert manifest["schemaVersion"] == 2 and manifest["layers"]
        # The build job saves the image, a deploy job loads it back under the same name.
        handover = tmp_path / "image.tar"
        make(github_project, "image-save", f"IMAGE={image}", f"IMAGE_ARCHIVE={handover}", "CONTAINER=" + podman)
        run([podman, "rmi", image], tmp_path)
        make(github_project, "image-load", f"IMAGE_ARCHIVE={handover}", "CONTAINER=" + podman)
        assert run([podman, "image", "exists", image], tmp_path, check=False).returncode == 0
    finally:
        subprocess.run([podman, "rmi", "--force", image], capture_output=True)


def test_push_without_a_tag_or_environment_says_what_is_missing(github_project: Path) -> None:
    result = make(github_project, "push", "IMAGE_TAG=", check=False)
    assert result.returncode != 0 and "IMAGE_TAG is empty" in result.stderr


def test_ecr_helpers_against_moto(github_project: Path, moto: MotoServer) -> None:
    ecr = boto3.client("ecr", **moto.boto3_kwargs())
    ecr.create_repository(repositoryName="analytics-dbt-dev", imageTagMutability="IMMUTABLE")
    python = str(VENV_BIN / "python")
    absent = run([python, "scripts/ci.py", "image-exists", "dev", "abc123"], github_project, moto.aws_env(), False)
    assert absent.returncode == 1
    ecr.put_image(
        repositoryName="analytics-dbt-dev",
        imageManifest=json.dumps(
            {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {}, "layers": []}
        ),
        imageTag="abc123",
    )
    run([python, "scripts/ci.py", "image-exists", "dev", "abc123"], github_project, moto.aws_env())
    password = run([python, "scripts/ci.py", "ecr-password", "dev"], github_project, moto.aws_env()).stdout.strip()
    assert password and ":" not in password


def test_deploy_dag_copies_the_dags_and_requirements_to_the_bucket(github_project: Path, moto: MotoServer) -> None:
    s3 = boto3.client("s3", **moto.boto3_kwargs())
    s3.create_bucket(Bucket="mwaa-dev", CreateBucketConfiguration={"LocationConstraint": moto.region})
    missing = make(github_project, "deploy-dag", check=False)
    assert missing.returncode != 0 and "set MWAA_BUCKET" in missing.stderr
    make(github_project, "deploy-dag", "MWAA_BUCKET=mwaa-dev", env=moto.aws_env())
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket="mwaa-dev")["Contents"]}
    dags = github_project / "airflow" / "dags"
    expected = {f"dags/{p.relative_to(dags).as_posix()}" for p in dags.rglob("*") if p.is_file()}
    assert any(key.endswith(".py") for key in expected), "no DAG file in airflow/dags"
    assert keys == expected | {"requirements.txt"}
    body = s3.get_object(Bucket="mwaa-dev", Key="requirements.txt")["Body"].read()
    assert body == (github_project / "airflow" / "requirements.txt").read_bytes()


# ---- slim CI -------------------------------------------------------------------------------------


def _built(project: Path) -> set[str]:
    results = json.loads((project / "dbt" / "target" / "run_results.json").read_text())
    return {result["unique_id"] for result in results["results"]}


def test_slim_ci_builds_only_the_changed_model_and_its_children(
    github_project: Path, tmp_path: Path, moto: MotoServer
) -> None:
    project = tmp_path / "p"
    shutil.copytree(github_project, project, symlinks=True)
    env = {**moto.aws_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    s3 = boto3.client("s3", **moto.boto3_kwargs())
    bucket = json.loads((project / "environments.json").read_text())["environments"]["dev"]["names"]["docs_bucket"]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": moto.region})

    # No production manifest yet: everything builds, and the log says why.
    first = make(project, "slim-ci", env=env, timeout=600)
    assert "has no production manifest yet" in first.stdout
    everything = _built(project)
    models = {uid for uid in everything if uid.startswith("model.")}
    assert len(models) >= 3

    # That build becomes "production": its manifest goes where deployments put it.
    s3.upload_file(str(project / "dbt" / "target" / "manifest.json"), bucket, "analytics-dbt/dev/latest/manifest.json")
    manifest = json.loads((project / "dbt" / "target" / "manifest.json").read_text())
    child_map = manifest["child_map"]
    # A model with children, so the test sees state:modified+ follow the graph, and not all of it.
    changed = next(uid for uid in sorted(models) if any(c.startswith("model.") for c in child_map[uid]))
    expected, todo = set(), [changed]
    while todo:
        node = todo.pop()
        if node not in expected:
            expected.add(node)
            todo.extend(child_map.get(node, []))
    expected_models = {uid for uid in expected if uid.startswith("model.")}
    assert expected_models != models, "pick a model whose descendants are not the whole project"

    sql = project / "dbt" / manifest["nodes"][changed]["original_file_path"]
    sql.write_text(sql.read_text() + "\n-- changed in a pull request\n")
    second = make(project, "slim-ci", env=env, timeout=600)
    assert "production manifest s3://" in second.stdout and "--defer" in second.stdout + second.stderr
    assert (project / "state" / "manifest.json").exists()
    rebuilt = _built(project)
    assert {uid for uid in rebuilt if uid.startswith("model.")} == expected_models
    # Data tests are children in the graph; unit tests are not, but belong to their model.
    unit_tests = {
        uid for uid, test in manifest.get("unit_tests", {}).items() if test["depends_on"]["nodes"][0] in expected
    }
    assert rebuilt <= expected | unit_tests
    assert rebuilt >= {uid for uid in expected if uid.split(".")[0] in ("model", "test")}
