"""Shared fixtures: baking the template and finding the tools that prove its output."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

# Where .ci/run and `make venv-*` put the tools that need a virtualenv of their own.
VENVS = REPO_ROOT / ".venvs"


def bake(output_dir: Path, **answers: str) -> Path:
    """Bake the template non-interactively and return the generated project directory."""
    return Path(cookiecutter(str(REPO_ROOT), no_input=True, extra_context=answers, output_dir=str(output_dir)))


def require_tool(name: str, install_hint: str) -> str:
    """The path of a command-line tool, or a test failure that says how to install it.

    A missing tool fails the test instead of skipping it: a skipped proof is no proof.
    """
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if found is None:
        pytest.fail(f"'{name}' is not installed; {install_hint} (or run .ci/run, which installs every tool)")
    return found


def require_venv_python(name: str, make_target: str) -> Path:
    """The interpreter of one of the side virtualenvs (Airflow 2, Airflow 3, checkov)."""
    python = VENVS / name / "bin" / "python"
    if not python.exists():
        pytest.fail(f"virtualenv {VENVS / name} is missing; create it with `make {make_target}`")
    return python


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template baked with every default, shared read-only by the whole session."""
    return bake(tmp_path_factory.mktemp("default"))


@pytest.fixture
def project_copy(default_project: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the default bake, for tests that run tools which write."""
    target = tmp_path / default_project.name
    shutil.copytree(default_project, target, symlinks=True)
    return target
