"""Where the runner reads its configuration: the answers baked into the repository, then the
environment the ECS task definition (or `make run`) sets, which wins.

RUNNER_MODE says what a run is for (the task definition or `make` sets it):

- local (ENV unset): the whole pipeline on the embedded DuckDB, as `make run`;
- deploy (the default when ENV is set): the deployment schemas, artifacts under runs/ and latest/;
- ci: a pull request's changes (state:modified+) into its own schemas, deferring to the
  environment's latest deployment; artifacts under ci/pr-<N>/<run id>/, never latest/;
- cleanup: drop every schema of one pull request; sweep: drop pull-request schemas older
  than CI_SCHEMA_MAX_AGE_DAYS.

The runner picks dbt's target from the mode (deploy, or ci for the three CI modes); a
local run keeps whatever DBT_TARGET says (local by default).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Answers given when this repository was generated.
PROJECT_NAME = "{{ cookiecutter.project_name }}"
CREDENTIALS_SOURCE = "{{ cookiecutter.credentials_source }}"
FAIL_ON_STALE_SOURCES = "{{ cookiecutter.fail_on_stale_sources }}"  # yes or no
DBT_LOG_FORMAT = "{{ cookiecutter.dbt_log_format }}"

REPO_ROOT = Path(__file__).resolve().parent.parent

MODES = ("deploy", "ci", "cleanup", "sweep")
# The modes that work on a pull request's schemas, with dbt's ci target.
CI_MODES = ("ci", "cleanup", "sweep")
DEFAULT_MAX_AGE_DAYS = "7"


@dataclass(frozen=True)
class Settings:
    environment: str  # "" for a local run
    project_name: str
    project_dir: Path
    credentials_source: str
    fail_on_stale_sources: bool
    log_format: str
    artifacts_url: str
    latest_url: str  # "" when nothing is published as latest
    mode: str = "local"  # local, or one of MODES
    pr_number: str = ""  # ci and cleanup: the pull (merge) request's number
    max_age_days: int = 0  # sweep: PR schemas older than this many days are dropped
    project_url: str = ""  # ci: s3://.../project.tar.gz, the pull request's dbt/ directory
    state_dir: str = ""  # ci: a directory with the deployment's manifest.json, instead of fetching it
    docs_bucket: str = ""
    scratch_dir: Path = Path()  # where the run may write: the parent of DBT_TARGET_PATH

    @property
    def deployment(self) -> bool:
        return bool(self.environment)

    @property
    def dbt_target(self) -> str:
        """The profiles.yml target of this run; "" keeps DBT_TARGET as it is (a local run)."""
        return "ci" if self.mode in CI_MODES else "deploy" if self.mode == "deploy" else ""

    @property
    def target_dir(self) -> Path:
        return self._dbt_path("DBT_TARGET_PATH", "target")

    @property
    def log_dir(self) -> Path:
        return self._dbt_path("DBT_LOG_PATH", "logs")

    def _dbt_path(self, variable: str, default: str) -> Path:
        # dbt resolves these relative to the project directory, so the runner does too.
        return self.project_dir / os.environ.get(variable, default)


class ConfigurationError(Exception):
    """A setting the runner cannot work without is missing or malformed."""


def yes(value: str) -> bool:
    if value.lower() in ("yes", "true", "1"):
        return True
    if value.lower() in ("no", "false", "0"):
        return False
    raise ConfigurationError(f"expected yes or no, got {value!r}")


def pr_number(mode: str) -> str:
    value = os.environ.get("DBT_PR_NUMBER", "").strip()
    if not value.isdigit() or not value.isascii():
        raise ConfigurationError(
            f"DBT_PR_NUMBER must be the pull request's number, digits only, for RUNNER_MODE={mode} (got {value!r})"
        )
    return str(int(value))


def max_age_days() -> int:
    value = os.environ.get("CI_SCHEMA_MAX_AGE_DAYS", "").strip() or DEFAULT_MAX_AGE_DAYS
    if not value.isdigit() or not value.isascii() or int(value) < 1:
        raise ConfigurationError(f"CI_SCHEMA_MAX_AGE_DAYS must be a whole number of days, 1 or more (got {value!r})")
    return int(value)


def load(run_id: str) -> Settings:
    env = os.environ
    environment = env.get("ENV", "").strip()
    if not environment:
        # Set but empty is unset: profiles.yml's env_var('ENV', 'local') would otherwise read ''.
        env.pop("ENV", None)
    mode = env.get("RUNNER_MODE", "").strip() or ("deploy" if environment else "local")
    if mode not in MODES and not (mode == "local" and not environment):
        raise ConfigurationError(f"RUNNER_MODE must be one of {', '.join(MODES)} (got {mode!r})")
    if mode != "local" and not environment:
        raise ConfigurationError(f"RUNNER_MODE={mode} needs ENV, the environment whose warehouse it works on")
    project_name = env.get("PROJECT_NAME", PROJECT_NAME)
    artifacts_url = env.get("ARTIFACTS_URL", "")
    latest_url = env.get("LATEST_URL", "")
    number = pr_number(mode) if mode in ("ci", "cleanup") else ""
    days = max_age_days() if mode == "sweep" else 0
    bucket = env.get("DOCS_BUCKET", "")
    if mode in CI_MODES:
        # Never latest/: that is the deployment's, which docs hosting and every deferral read.
        latest_url = ""
        if not artifacts_url:
            if not bucket:
                raise ConfigurationError("DOCS_BUCKET is not set; the CI task definition must name the docs bucket")
            where = {"ci": f"pr-{number}", "cleanup": f"pr-{number}/cleanup", "sweep": "sweep"}[mode]
            artifacts_url = f"s3://{bucket}/{project_name}/{environment}/ci/{where}/{run_id}/"
    elif environment:
        # A deployment: every run keeps its own prefix; latest/ is what docs hosting and pull-request builds read.
        if not artifacts_url or not latest_url:
            if not bucket:
                raise ConfigurationError("DOCS_BUCKET is not set; the task definition must name the docs bucket")
            base = f"s3://{bucket}/{project_name}/{environment}"
            artifacts_url = artifacts_url or f"{base}/runs/{run_id}/"
            latest_url = latest_url or f"{base}/latest/"
    elif not artifacts_url:
        artifacts_url = (REPO_ROOT / "artifacts").as_uri() + "/"
    log_format = env.get("DBT_LOG_FORMAT", DBT_LOG_FORMAT)
    if log_format not in ("text", "json", "debug", "default"):
        raise ConfigurationError(f"DBT_LOG_FORMAT must be text or json, got {log_format!r}")
    project_dir = Path(env.get("DBT_PROJECT_DIR", REPO_ROOT / "dbt")).resolve()
    # The scratch area: where DBT_TARGET_PATH points on ECS (the root filesystem is read-only).
    target_path = env.get("DBT_TARGET_PATH", "")
    scratch_dir = (
        (project_dir / target_path).parent if target_path else Path(tempfile.gettempdir()) / f"dbt-runner-{run_id}"
    )
    project_url = env.get("CI_PROJECT_URL", "").strip() if mode == "ci" else ""
    if project_url:
        if not project_url.startswith("s3://") or not project_url.endswith(".tar.gz"):
            raise ConfigurationError(f"CI_PROJECT_URL must be s3://bucket/key.tar.gz (got {project_url!r})")
        # The pull request's project replaces the image's own.
        project_dir = scratch_dir / "project"
    return Settings(
        environment=environment,
        project_name=project_name,
        project_dir=project_dir,
        credentials_source=env.get("DBT_CREDENTIALS_SOURCE", CREDENTIALS_SOURCE),
        fail_on_stale_sources=yes(env.get("DBT_FAIL_ON_STALE_SOURCES", FAIL_ON_STALE_SOURCES)),
        log_format=log_format,
        artifacts_url=artifacts_url,
        latest_url=latest_url,
        mode=mode,
        pr_number=number,
        max_age_days=days,
        project_url=project_url,
        state_dir=env.get("STATE_DIR", "").strip() if mode == "ci" else "",
        docs_bucket=bucket,
        scratch_dir=scratch_dir,
    )
