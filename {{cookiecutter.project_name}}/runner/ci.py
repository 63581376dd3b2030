"""What a pull request's run needs before dbt starts: its project and the deployment's state.

- The project: CI_PROJECT_URL (s3://.../project.tar.gz, the pull request's dbt/ directory,
  which `scripts/ci.py ci-remote` uploads) is unpacked into the scratch area and built in
  place of the image's own; without it, the image's dbt/ is the project. The image's dbt
  packages are linked in when the tarball has none (dbt deps runs at image build time).
- The state: STATE_DIR if set (a directory holding a deployment's manifest.json), else
  the environment's latest deployment manifest, s3://<DOCS_BUCKET>/<PROJECT_NAME>/<ENV>/latest/.
  No deployment yet: None, and the build takes everything into the pull request's schemas.

Each failure is a SetupError with one line that names what is missing and how to fix it.
"""

from __future__ import annotations

import re
import shutil
import tarfile
from pathlib import Path
from urllib.parse import urlparse

from runner import log
from runner.settings import REPO_ROOT, Settings


class SetupError(Exception):
    """The pull request's project or state could not be prepared; the message is one line."""


def _code(error: Exception) -> str:
    code = getattr(error, "response", {}).get("Error", {}).get("Code")
    if code:
        return str(code)
    found = re.search(r"\((\w+)\)", str(error))
    return found.group(1) if found else type(error).__name__


def _download(url: str, target: Path) -> None:
    """s3://bucket/key to target; raises the boto3 error (its code is the reason)."""
    import boto3  # imported late: local runs never need AWS

    parsed = urlparse(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    boto3.client("s3").download_file(parsed.netloc, parsed.path.lstrip("/"), str(target))


def fetch_project(config: Settings) -> None:
    """Unpack the pull request's dbt project from CI_PROJECT_URL into config.project_dir."""
    project = config.project_dir
    archive = config.scratch_dir / "project.tar.gz"
    shutil.rmtree(project, ignore_errors=True)
    try:
        _download(config.project_url, archive)
    except Exception as error:  # noqa: BLE001 - every failure becomes one line
        raise SetupError(
            f"cannot read the pull request's project {config.project_url}: {_code(error)}; "
            "ci-remote uploads it before it starts the task (and the CI task role must read ci/)"
        ) from None
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(project, filter="data")
    except (OSError, tarfile.TarError) as error:
        raise SetupError(f"cannot unpack {config.project_url}: {error}") from None
    finally:
        archive.unlink(missing_ok=True)
    if not (project / "dbt_project.yml").is_file():
        raise SetupError(f"{config.project_url} has no dbt_project.yml at its root; it must be a tarball of dbt/")
    image_packages = REPO_ROOT / "dbt" / "dbt_packages"
    if image_packages.is_dir() and not (project / "dbt_packages").exists():
        (project / "dbt_packages").symlink_to(image_packages, target_is_directory=True)
    for name in ("packages.yml", "package-lock.yml"):
        ours, theirs = REPO_ROOT / "dbt" / name, project / name
        if ours.is_file() != theirs.is_file() or (ours.is_file() and ours.read_bytes() != theirs.read_bytes()):
            log.warn(f"project: the pull request changes {name}; the task builds with the image's packages")
    log.info(f"project: the pull request's dbt project from {config.project_url}")


def state(config: Settings) -> Path | None:
    """The directory with the deployment manifest to compare against and defer to, or None."""
    if config.state_dir:
        directory = Path(config.state_dir).resolve()
        if not (directory / "manifest.json").is_file():
            raise SetupError(
                f"STATE_DIR={config.state_dir} has no manifest.json; point it at a deployment's manifest "
                f"(make state ENV={config.environment} fetches it into state/{config.environment}/), or unset it"
            )
        log.info(f"state: deployment manifest from STATE_DIR {directory}")
        return directory
    if not config.docs_bucket:
        raise SetupError("DOCS_BUCKET is not set, so there is no deployment manifest to read; set it, or STATE_DIR")
    url = f"s3://{config.docs_bucket}/{config.project_name}/{config.environment}/latest/manifest.json"
    directory = config.scratch_dir / "state"
    shutil.rmtree(directory, ignore_errors=True)
    try:
        _download(url, directory / "manifest.json")
    except Exception as error:  # noqa: BLE001
        code = _code(error)
        if code in ("404", "NoSuchKey"):
            log.info(
                f"state: no deployment manifest at {url} yet (nothing deployed to {config.environment}, or no run "
                "passed there): building everything into the pull request's schemas"
            )
            shutil.rmtree(directory, ignore_errors=True)
            return None
        raise SetupError(
            f"cannot read the deployment manifest {url}: {code}; the CI identity needs s3:GetObject on latest/ "
            "(and kms:Decrypt through S3), or set STATE_DIR"
        ) from None
    log.info(f"state: deployment manifest {url}")
    return directory


def build_args(config: Settings, extra: list[str]) -> list[str]:
    """`dbt build`'s arguments for a pull request: what changed and its children, the rest deferred."""
    directory = state(config)
    if directory is None:
        return list(extra)
    return ["--select", "state:modified+", "--defer", "--state", str(directory), *extra]


def operation(config: Settings) -> tuple[str, str]:
    """The macro and its --args of a cleanup or sweep run."""
    if config.mode == "cleanup":
        return "drop_pr_schemas", "{pr: " + config.pr_number + "}"
    return "drop_stale_pr_schemas", "{max_age_days: " + str(config.max_age_days) + "}"
