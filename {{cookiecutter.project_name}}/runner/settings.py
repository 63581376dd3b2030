"""Where the runner reads its configuration: the answers baked into the repository, then the
environment the ECS task definition (or `make run`) sets, which wins."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Answers given when this repository was generated.
PROJECT_NAME = "{{ cookiecutter.project_name }}"
CREDENTIALS_SOURCE = "{{ cookiecutter.credentials_source }}"
FAIL_ON_STALE_SOURCES = "{{ cookiecutter.fail_on_stale_sources }}"  # yes or no
DBT_LOG_FORMAT = "{{ cookiecutter.dbt_log_format }}"

REPO_ROOT = Path(__file__).resolve().parent.parent


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

    @property
    def deployment(self) -> bool:
        return bool(self.environment)

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


def load(run_id: str) -> Settings:
    env = os.environ
    environment = env.get("ENV", "").strip()
    if not environment:
        # Set but empty is unset: profiles.yml's env_var('ENV', 'local') would otherwise read ''.
        env.pop("ENV", None)
    project_name = env.get("PROJECT_NAME", PROJECT_NAME)
    artifacts_url = env.get("ARTIFACTS_URL", "")
    latest_url = env.get("LATEST_URL", "")
    if environment:
        # A deployment: every run keeps its own prefix; latest/ is what docs hosting and slim CI read.
        bucket = env.get("DOCS_BUCKET", "")
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
    return Settings(
        environment=environment,
        project_name=project_name,
        project_dir=Path(env.get("DBT_PROJECT_DIR", REPO_ROOT / "dbt")).resolve(),
        credentials_source=env.get("DBT_CREDENTIALS_SOURCE", CREDENTIALS_SOURCE),
        fail_on_stale_sources=yes(env.get("DBT_FAIL_ON_STALE_SOURCES", FAIL_ON_STALE_SOURCES)),
        log_format=log_format,
        artifacts_url=artifacts_url,
        latest_url=latest_url,
    )
