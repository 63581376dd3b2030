"""Shared fixtures: baking the template and finding the tools that prove its output."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cookiecutter.main import cookiecutter

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

# Where .ci/run and `make venv-*` put the tools that need a virtualenv of their own.
VENVS = REPO_ROOT / ".venvs"
# The password of the test warehouse: a planted secret that no output or file may contain.
POSTGRES_PASSWORD = "pl4nted-Pg-Secr3t-5a1e"


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres() -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL server on a free loopback port, with password auth."""
    initdb = require_tool("initdb", "apt-get install postgresql and put /usr/lib/postgresql/*/bin on PATH")
    pg_ctl = require_tool("pg_ctl", "apt-get install postgresql and put /usr/lib/postgresql/*/bin on PATH")
    # PostgreSQL refuses to run as root: as root, run it as the postgres user,
    # from a directory that user owns (pytest's own tmp dirs are private to root).
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="dbt-postgres-"))
    password = POSTGRES_PASSWORD
    (root / "password").write_text(password + "\n")
    if as_user:
        shutil.chown(root, "postgres")
        shutil.chown(root / "password", "postgres")
    port = free_port()
    data = root / "data"
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "dbt", f"--pwfile={root / 'password'}", "--auth=scram-sha-256"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield {
            "DBT_REDSHIFT_HOST": "127.0.0.1",
            "DBT_REDSHIFT_PORT": str(port),
            "DBT_REDSHIFT_USER": "dbt",
            "DBT_ENV_SECRET_REDSHIFT_PASSWORD": password,
            "DBT_REDSHIFT_DB": "postgres",
            "DBT_REDSHIFT_SCHEMA": "analytics",
            "DBT_THREADS": "2",
        }
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


# Profile keys of dbt-redshift that dbt-postgres does not have.
REDSHIFT_ONLY_KEYS = ("method", "cluster_id", "region")


def as_postgres(output: dict[str, Any]) -> dict[str, Any]:
    """A Redshift output of profiles.yml as dbt-postgres takes it: PostgreSQL stands in for Redshift."""
    return {**{key: value for key, value in output.items() if key not in REDSHIFT_ONLY_KEYS}, "type": "postgres"}


def rewrite_profile_for_postgres(profiles_path: Path) -> dict[str, Any]:
    """Swap dbt-postgres in for dbt-redshift in every Redshift output of a (copied) profiles.yml."""
    profiles = yaml.safe_load(profiles_path.read_text())
    (profile,) = profiles.values()
    for name, output in profile["outputs"].items():
        if output.get("type") == "redshift":
            profile["outputs"][name] = as_postgres(output)
    profiles_path.write_text(yaml.safe_dump(profiles, sort_keys=False))
    return profiles


def load_raw_tables(postgres: dict[str, str], project: Path) -> None:
    """What the loader puts in the warehouse before dbt runs: the raw jaffle_shop tables.

    Their rows are the sample seeds' with a fresh `_loaded_at`, typed as the seeds declare.
    """
    import csv

    import psycopg2

    seeds = project / "dbt" / "seeds" / "jaffle_shop"
    declared = yaml.safe_load((seeds / "_jaffle_shop__seeds.yml").read_text())["seeds"]
    connection = psycopg2.connect(
        host="127.0.0.1",
        port=int(postgres["DBT_REDSHIFT_PORT"]),
        user=postgres["DBT_REDSHIFT_USER"],
        password=postgres["DBT_ENV_SECRET_REDSHIFT_PASSWORD"],
        dbname=postgres["DBT_REDSHIFT_DB"],
    )
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("create schema if not exists jaffle_shop")
            for seed in declared:
                types = seed["config"]["column_types"]
                with (seeds / f"{seed['name']}.csv").open(newline="") as handle:
                    rows = list(csv.DictReader(handle))
                columns = list(rows[0])
                # Idempotent on the shared server: other tests' views may already read these tables.
                cursor.execute(
                    f"create table if not exists jaffle_shop.{seed['name']} "
                    f"({', '.join(f'{c} {types[c]}' for c in columns)})"
                )
                cursor.execute(f"truncate jaffle_shop.{seed['name']}")
                placeholders = ", ".join("now()" if c == "_loaded_at" else "%s" for c in columns)
                cursor.executemany(
                    f"insert into jaffle_shop.{seed['name']} ({', '.join(columns)}) values ({placeholders})",
                    [[row[c] for c in columns if c != "_loaded_at"] for row in rows],
                )
    finally:
        connection.close()


def find_provider_mirror() -> Path:
    """The directory that holds registry.terraform.io/hashicorp/aws (a filesystem mirror)."""
    if os.environ.get("TF_PROVIDER_MIRROR"):
        return Path(os.environ["TF_PROVIDER_MIRROR"])
    found = subprocess.run(
        ["find", "/", "-maxdepth", "6", "(", "-path", "/proc", "-o", "-path", "/sys", ")", "-prune", "-o",
         "-path", "*registry.terraform.io/hashicorp/aws", "-print", "-quit"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    if not found:
        pytest.fail(
            "no Terraform provider mirror with hashicorp/aws found (searched / to depth 6); "
            "create one with `terraform providers mirror DIR` or set TF_PROVIDER_MIRROR"
        )
    return Path(found).parent.parent.parent


@pytest.fixture(scope="module")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Terraform installs providers from the local mirror only: no registry, no network."""
    mirror = find_provider_mirror()
    config = tmp_path_factory.mktemp("tfcli") / "terraformrc"
    config.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
        '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n'
        "}\n",
        encoding="utf-8",
    )
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
