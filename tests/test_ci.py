"""CI/CD of the generated repository: workflows, GitLab variant, pre-commit and the make targets CI calls.

Every workflow is proved by the tools that consume it (the GitHub and GitLab
schemas, actionlint, zizmor). Every make target a workflow calls exists, and
the ones that do work run here for real: lint offline, push to a local OCI
archive with podman, the DAG copy and manifest fetch against a moto server.
The pull-request build inside AWS (ci-remote, ci-cleanup, ci-sweep) against moto:
tests/test_ci_remote.py; the runner's ci mode: tests/test_runner.py; the build
itself on a PostgreSQL warehouse: tests/test_warehouse_loop.py.
"""

from __future__ import annotations

import hashlib
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
    assert {path.name for path in found} == {
        "pull-request.yml",
        "pull-request-closed.yml",
        "ci-sweep.yml",
        "deploy.yml",
        "deploy-environment.yml",
    }
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
    assert {"lint", "test", "ci-remote", "ci-cleanup", "ci-sweep", "push", "deploy-dag", "plan-summary"} <= called
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
    # The audience the GitLab roles trust: the instance itself (terraform/modules/gitlab_oidc).
    assert pipeline[".aws"]["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "$CI_SERVER_URL"
    for job in ("deploy-dev", "plan-live", "ci-remote", "ci-cleanup", "ci-sweep"):
        assert ".aws" in pipeline[job]["extends"], f"{job} must authenticate by OIDC"
    # A merge request's schemas live as long as its review environment: stopping it drops them.
    assert pipeline["ci-remote"]["environment"] == {"name": "review/$CI_MERGE_REQUEST_IID", "on_stop": "ci-cleanup"}
    assert pipeline["ci-cleanup"]["environment"] == {"name": "review/$CI_MERGE_REQUEST_IID", "action": "stop"}
    assert pipeline["ci-cleanup"]["rules"][0]["when"] == "manual"
    for job in ("ci-remote", "ci-cleanup"):
        assert pipeline[job]["variables"]["PR"] == "$CI_MERGE_REQUEST_IID"
        assert pipeline[job]["variables"]["ROLE"] == "plan", "a merge request never gets the deploy role"
    assert pipeline["ci-sweep"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    # A scheduled pipeline runs the sweep alone: no checks, no image, never a deployment.
    scheduled = [
        name
        for name, job in pipeline.items()
        if isinstance(job, dict) and "stage" in job and _runs_on_schedule(pipeline, job)
    ]
    assert scheduled == ["ci-sweep"], scheduled
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


SCHEDULED = {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}


def _matches(condition: str, variables: dict[str, str]) -> bool:
    """A GitLab `if:` made of `a == b` / `a != b` clauses joined by &&, for the variables given."""
    result = True
    for clause in condition.split("&&"):
        left, operator, right = re.fullmatch(r"\s*(\S+)\s*(==|!=)\s*(\S+)\s*", clause).groups()
        values = [variables.get(side[1:], "") if side.startswith("$") else side.strip('"') for side in (left, right)]
        result = result and ((values[0] == values[1]) == (operator == "=="))
    return result


def _runs_on_schedule(pipeline: dict, job: dict) -> bool:
    """Whether GitLab would add the job to a scheduled pipeline of the default branch (its first matching rule)."""
    rules = _inherited(pipeline, job, "rules")
    for rule in rules:
        if "if" not in rule or _matches(rule["if"], SCHEDULED):
            return rule.get("when") != "never"
    return not rules


def _flatten(items: list) -> list[str]:
    return [line for item in items for line in (_flatten(item) if isinstance(item, list) else [item])]


def test_ci_provider_none_ships_only_the_make_targets(tmp_path: Path) -> None:
    project = bake(tmp_path, ci_provider="none")
    assert not (project / ".github").exists() and not (project / ".gitlab-ci.yml").exists()
    expected = {"lint", "ci-build", "ci-remote", "ci-cleanup", "ci-sweep", "push", "deploy-dag", "ci-outputs"}
    assert expected <= make_targets(project)


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


# ---- pull-request builds -------------------------------------------------------------------------


def test_github_pull_request_workflows_build_clean_up_and_sweep_inside_aws(github_project: Path) -> None:
    directory = github_project / ".github" / "workflows"
    build = yaml.safe_load((directory / "pull-request.yml").read_text())["jobs"]["warehouse"]
    closed = yaml.safe_load((directory / "pull-request-closed.yml").read_text())
    sweep = yaml.safe_load((directory / "ci-sweep.yml").read_text())
    assert closed[True]["pull_request"]["types"] == ["closed"]
    assert sweep[True]["schedule"] and "workflow_dispatch" in sweep[True]
    jobs = {"warehouse": build, "cleanup": closed["jobs"]["cleanup"], "sweep": sweep["jobs"]["sweep"]}
    for name, job in jobs.items():
        calls = [MAKE_CALL.search(step["run"]).group(1) for step in job["steps"] if "make" in step.get("run", "")]
        assert calls[-1] == {"warehouse": "ci-remote", "cleanup": "ci-cleanup", "sweep": "ci-sweep"}[name]
        assert job["env"]["ENV"] == "${{ needs.environments.outputs.first }}"
        (login,) = [step for step in job["steps"] if "configure-aws-credentials" in step.get("uses", "")]
        assert login["with"]["role-to-assume"] == "${{ steps.aws.outputs.plan_role_arn }}", "never the deploy role"
    for job in (build, closed["jobs"]["cleanup"]):
        assert job["env"]["PR"] == "${{ github.event.pull_request.number }}"
        # Forks get no OIDC token: they stop after the checks.
        assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


def test_ci_targets_refuse_a_bad_pull_request_or_environment(github_project: Path) -> None:
    for target in ("ci-build", "ci-remote", "ci-cleanup"):
        for value in ("", "7a", "-1"):
            result = make(github_project, target, f"PR={value}", check=False)
            assert result.returncode != 0
            assert result.stderr.splitlines()[0] == (
                f"{target}: set PR to the pull request's number, digits only, e.g. PR=7 (got '{value}')"
            ), result.stderr
    unknown = make(github_project, "ci-build", "PR=7", "ENV=nope", check=False)
    assert unknown.returncode != 0
    assert unknown.stderr.splitlines()[0] == "ci-build: unknown environment 'nope'; set ENV to one of: dev live"
    python = str(VENV_BIN / "python")
    for args, expected in (
        (["ci-remote", "nope", "7"], "ci: unknown environment 'nope'; environments.json has: dev live"),
        (["ci-remote", "dev", "x7"], "ci: the pull request number must be digits only, e.g. PR=7 (got 'x7')"),
        (["ci-cleanup", "dev"], "ci: the pull request number is missing: ci-cleanup dev PR, e.g. make ci-cleanup PR=7"),
    ):
        result = run([python, "scripts/ci.py", *args], github_project, check=False)
        assert result.returncode != 0 and result.stderr.strip() == expected, result.stderr
        assert "Traceback" not in result.stderr


# ---- supply chain: locks, pinned images, verified downloads ----------------------------------------

# Images a pipeline may pull by tag alone, each with the reason no digest pin is possible.
# Empty: every image is pinned; `make pin-images` moves the pins.
UNPINNED_IMAGES: dict[str, str] = {}
DIGEST_PIN = re.compile(r"[a-z0-9][\w./-]*:[\w.-]+@sha256:[0-9a-f]{64}")


@pytest.fixture(scope="module")
def gitlab_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("ci-gitlab"), ci_provider="gitlab")


def _images(node: object) -> list[str]:
    """Every `image:` of a GitLab pipeline: a string or {name: ...}, at any depth."""
    if isinstance(node, dict):
        found = []
        for key, value in node.items():
            if key == "image":
                found.append(value["name"] if isinstance(value, dict) else value)
            else:
                found.extend(_images(value))
        return found
    if isinstance(node, list):
        return [image for item in node for image in _images(item)]
    return []


def test_gitlab_images_are_pinned_by_digest(gitlab_project: Path) -> None:
    pipeline = yaml.safe_load((gitlab_project / ".gitlab-ci.yml").read_text())
    images = _images(pipeline)
    assert pipeline["default"]["image"] in images and len(images) >= 3, images
    for image in images:
        assert DIGEST_PIN.fullmatch(image) or image in UNPINNED_IMAGES, f"{image} is pinned by tag alone"


def test_dockerfile_default_base_is_pinned_by_digest(default_project: Path) -> None:
    dockerfile = (default_project / "Dockerfile").read_text()
    default_base = re.search(r"^FROM \$\{BASE_IMAGE:-([^}]+)\} AS base$", dockerfile, flags=re.M).group(1)
    assert DIGEST_PIN.fullmatch(default_base), default_base


def test_pin_images_rewrites_every_digest_and_keeps_the_tags(gitlab_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(gitlab_project, project, symlinks=True)
    # A stand-in skopeo: each image's "manifest" is its name, so each gets a new, known digest.
    fake = tmp_path / "bin"
    fake.mkdir()
    skopeo = fake / "skopeo"
    skopeo.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = inspect ]; then printf \'{"image": "%s"}\' "${3#docker://}";\n'
        'else printf "sha256:%s\\n" "$(sha256sum < "$2" | cut -d" " -f1)"; fi\n'
    )
    skopeo.chmod(0o755)
    before = {name: (project / name).read_text() for name in ("Dockerfile", ".gitlab-ci.yml")}
    env = {"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    out = make(project, "pin-images", env=env).stdout
    pinned = set()
    for name, old in before.items():
        new = (project / name).read_text()
        refs = DIGEST_PIN.findall(new)
        assert refs and len(DIGEST_PIN.findall(old)) == len(refs)
        for ref in refs:
            image, digest = ref.split("@")
            manifest = json.dumps({"image": image}, separators=(",", ": ")).encode()
            assert digest == "sha256:" + hashlib.sha256(manifest).hexdigest(), ref
            pinned.add(image)
        # Only the digests moved.
        assert DIGEST_PIN.sub("", new) == DIGEST_PIN.sub("", old)
    assert {f"pin-images: {image} ->" in out for image in pinned} == {True}
    yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    # Without skopeo it says how to get it.
    missing = make(project, "pin-images", env={"SKOPEO": "skopeo-not-installed"}, check=False)
    assert missing.returncode != 0 and "needs skopeo; install it with" in missing.stderr


def _inherited(pipeline: dict, job: dict, key: str) -> list:
    """A job's `key` as GitLab resolves it: its own, else from what it extends (the last one wins)."""
    if key in job:
        return job[key]
    parents = job.get("extends", [])
    for parent in reversed([parents] if isinstance(parents, str) else parents):
        found = _inherited(pipeline, pipeline[parent], key)
        if found:
            return found
    return []


def test_terraform_is_installed_once_and_verified(gitlab_project: Path) -> None:
    text = (gitlab_project / ".gitlab-ci.yml").read_text()
    pipeline = yaml.safe_load(text)
    # No job downloads it by itself: one script, on both images.
    assert "releases.hashicorp.com" not in text and "unzip" not in text
    install = 'scripts/install-terraform.sh "$TERRAFORM_VERSION"'
    assert text.count(install) == 1, "one definition (the &install_terraform anchor), aliased everywhere"
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "stage" in job}
    terraform_jobs = 0
    for name, job in jobs.items():
        script = _flatten(job.get("script", []))
        if any(re.search(r"make (lint|plan-summary|deploy-ecr|deploy-infra)\b", line) for line in script):
            terraform_jobs += 1
            assert install in _flatten(_inherited(pipeline, job, "before_script")), f"{name}: unverified terraform"
    assert terraform_jobs >= 4, "checks, a plan and a deploy per environment"
    script = (gitlab_project / "scripts" / "install-terraform.sh").read_text()
    assert "HASHICORP_FINGERPRINT=C874011F0AB405110D02105534365D9472D7468F" in script
    assert "sha256sum --check" in script and "--verify" in script


def _fake_release(root: Path, version: str, gnupg: Path) -> tuple[Path, str]:
    """releases.hashicorp.com's layout for one version, signed with a throwaway key; returns (dir, fingerprint)."""
    env = {**os.environ, "GNUPGHOME": str(gnupg)}
    gnupg.mkdir(mode=0o700)
    gpg = ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(
        [*gpg, "--quick-gen-key", "Test Releases <t@example.com>", "ed25519", "sign", "never"], env=env, check=True
    )
    listing = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--fingerprint"], env=env, capture_output=True, text=True
    )
    fingerprint = next(line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:"))
    release = root / "terraform" / version
    release.mkdir(parents=True)
    payload = root / "terraform"
    binary = root / "bin-src" / "terraform"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\necho fake terraform\n")
    binary.chmod(0o755)
    sums = []
    for arch in ("amd64", "arm64"):
        archive = release / f"terraform_{version}_linux_{arch}.zip"
        subprocess.run(["zip", "-qj", str(archive), str(binary)], check=True)
        sums.append(f"{hashlib.sha256(archive.read_bytes()).hexdigest()}  {archive.name}\n")
    sums_file = release / f"terraform_{version}_SHA256SUMS"
    sums_file.write_text("".join(sums))
    subprocess.run([*gpg, "--detach-sign", "-o", f"{sums_file}.sig", str(sums_file)], env=env, check=True)
    subprocess.run(["gpg", "--batch", "--armor", "--export", "-o", str(root / "key.asc")], env=env, check=True)
    return payload, fingerprint


def test_install_terraform_trusts_only_the_pinned_key_and_the_checksum(gitlab_project: Path, tmp_path: Path) -> None:
    for tool in ("gpg", "zip", "unzip", "curl"):
        require_tool(tool, f"apt-get install {'gnupg' if tool == 'gpg' else tool}")
    gnupg = tmp_path / "g"
    releases, fingerprint = _fake_release(tmp_path / "mirror", "9.9.9", gnupg)
    try:
        env = {"TERRAFORM_RELEASES_URL": f"file://{releases}", "HASHICORP_KEY_URL": f"file://{tmp_path}/mirror/key.asc"}
        script = gitlab_project / "scripts" / "install-terraform.sh"
        # The real script: a mirror signed by any other key is refused, and nothing is installed.
        refused = run([str(script), "9.9.9", str(tmp_path / "out")], gitlab_project, env=env, check=False)
        assert refused.returncode != 0 and "is not signed by HashiCorp's key" in refused.stderr
        assert not (tmp_path / "out").exists()
        # The same script trusting the test key instead: installs the verified binary.
        trusting = tmp_path / "install-terraform.sh"
        trusting.write_text(script.read_text().replace("C874011F0AB405110D02105534365D9472D7468F", fingerprint))
        trusting.chmod(0o755)
        run([str(trusting), "9.9.9", str(tmp_path / "out")], gitlab_project, env=env)
        assert run([str(tmp_path / "out" / "terraform")], tmp_path).stdout == "fake terraform\n"
        # A zip that does not match its signed checksum is refused.
        for archive in (releases / "9.9.9").glob("*.zip"):
            archive.write_bytes(archive.read_bytes() + b"tampered")
        tampered = run([str(trusting), "9.9.9", str(tmp_path / "out2")], gitlab_project, env=env, check=False)
        assert tampered.returncode != 0 and "FAILED" in tampered.stdout + tampered.stderr
        assert not (tmp_path / "out2").exists()
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(gnupg)})


def test_image_and_setup_install_the_lock_with_hash_checking(default_project: Path) -> None:
    dockerfile = (default_project / "Dockerfile").read_text().replace("\\\n", " ")
    installs = [line for line in dockerfile.splitlines() if "pip install" in line and not line.startswith("#")]
    assert installs and all("--require-hashes" in line and "-r /tmp/requirements.txt" in line for line in installs)
    makefile = (default_project / "Makefile").read_text()
    setup = re.findall(r"^\t.*pip install .*-r requirements(?:-dev)?\.txt.*$", makefile, flags=re.M)
    assert setup and all("--require-hashes" in line for line in setup), setup


def _lock(path: Path) -> dict[str, str]:
    """A lock file's pins, {name: version}; fails on any requirement without a hash."""
    pins = {}
    logical = re.sub(r"\\\n", " ", path.read_text())
    for line in logical.splitlines():
        line = " ".join(line.split(" #", 1)[0].split()) if not line.lstrip().startswith("#") else ""
        if not line:
            continue
        assert not line.startswith("-"), f"{path.name}: option line {line!r} (a lock includes nothing)"
        match = re.fullmatch(r"([A-Za-z0-9][\w.-]*)==(\S+?)(?: ; [^-]+?)?((?: --hash=sha256:[0-9a-f]{64})+)", line)
        assert match, f"{path.name}: {line!r} is not `name==version --hash=...`"
        name, version = match.group(1).lower(), match.group(2)
        assert pins.get(name, version) == version or "python_full_version" in line, f"{path.name}: {name} twice"
        pins.setdefault(name, version)
    return pins


def _top_level(path: Path) -> dict[str, str]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return dict(line.lower().split("==") for line in lines if "==" in line)


def test_locks_pin_every_package_with_hashes_and_agree(default_project: Path) -> None:
    runtime = _lock(default_project / "requirements.txt")
    dev = _lock(default_project / "requirements-dev.txt")
    assert len(runtime) > 20 and len(dev) > len(runtime)
    # The image and the dev venv run the same versions of what they share.
    assert {name: dev.get(name) for name in runtime} == runtime
    # Every top-level pin is in its lock at that version: an .in edited without `make lock` fails here.
    for source, lock in (("requirements.in", runtime), ("requirements-dev.in", dev)):
        for name, version in _top_level(default_project / source).items():
            assert lock.get(name) == version, f"{source} pins {name}=={version}; the lock has {lock.get(name)}"
    assert "-r requirements.in" in (default_project / "requirements-dev.in").read_text()


def test_make_lock_reproduces_the_committed_locks(default_project: Path, tmp_path: Path) -> None:
    require_tool("uv", "pip install uv")
    project = tmp_path / "p"
    shutil.copytree(default_project, project, symlinks=True)
    make(project, "lock", timeout=600)
    for name in ("requirements.txt", "requirements-dev.txt"):
        assert (project / name).read_text() == (default_project / name).read_text(), f"make lock changed {name}"
    missing = make(project, "lock", "UV=uv-not-installed", check=False)
    assert missing.returncode != 0 and "needs uv; install it with: " in missing.stderr
