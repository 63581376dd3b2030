"""The generated dbt project (dbt/, .sqlfluff), proved by dbt and sqlfluff themselves.

- the warehouse targets (roles: sandbox, ci, deploy) parse with placeholder
  credentials and no connection; DBT_TARGET picks one, ENV only names the environment;
- `dbt debug`, `dbt build`, `dbt source freshness` and `dbt docs generate --static`
  pass on the default local DuckDB target;
- `dbt build` on the sandbox target passes on a real PostgreSQL server holding
  the raw tables, reached through the very env-var settings of the Redshift targets;
- models, seeds and sources land in the schemas the README promises, locally
  (sandbox, with and without the user suffix) and in every deployment
  (tests/test_warehouse_loop.py proves ci and sandbox on the warehouse);
- sqlfluff finds nothing, and a missing variable gives dbt's own clear error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import as_postgres, bake, load_raw_tables, require_tool

# Placeholder credentials of a deployment: enough for dbt to load and validate
# the profile (the port and thread count must become numbers), never dialled.
REDSHIFT_ENV = {
    "DBT_REDSHIFT_HOST": "redshift.example.invalid",
    "DBT_REDSHIFT_PORT": "5440",
    "DBT_REDSHIFT_USER": "dbt_runner",
    "DBT_ENV_SECRET_REDSHIFT_PASSWORD": "placeholder-password-never-used",
    "DBT_REDSHIFT_DB": "warehouse",
    "DBT_REDSHIFT_SCHEMA": "analytics",
    "DBT_THREADS": "2",
}
REQUIRED_VARIABLES = (
    "DBT_REDSHIFT_HOST",
    "DBT_REDSHIFT_USER",
    "DBT_ENV_SECRET_REDSHIFT_PASSWORD",
    "DBT_REDSHIFT_DB",
    "DBT_REDSHIFT_SCHEMA",
)
# The local target's schema (profiles.yml) and what the sample seeds stand in for.
LOCAL_SCHEMA = "analytics"
SEEDS = {"customers", "orders", "payments"}
STAGING = {"stg_jaffle_shop__customers", "stg_jaffle_shop__orders", "stg_jaffle_shop__payments"}
MARTS = {"fct_orders", "dim_customers"}
# A user name that needs sanitising into an identifier.
ANALYST = "Jane.Doe-2"
ANALYST_SCHEMA = "analytics_sandbox_jane_doe_2"

ENVIRONMENT_BAKES = {
    "default": {},
    "prod": {
        "environments": "prod",
        "aws_account_ids": "prod=333333333333",
        "subnet_ids": "prod=subnet-0a1b2c3d4e5f60718",
        "security_group_ids": "prod=sg-0a1b2c3d4e5f60718",
    },
    "three": {
        "environments": "dev staging live",
        "aws_account_ids": "dev=111111111111 staging=222222222222 live=333333333333",
        "subnet_ids": "dev=subnet-0a1b2c3d4e5f60718 staging=subnet-1a1b2c3d4e5f60718 live=subnet-2a1b2c3d4e5f60718",
        "security_group_ids": "dev=sg-0a1b2c3d4e5f60718 staging=sg-1a1b2c3d4e5f60718 live=sg-2a1b2c3d4e5f60718",
    },
}


def dbt_binary() -> str:
    return require_tool("dbt", "install the template's dev requirements: make venv")


def clean_environment(**extra: str) -> dict[str, str]:
    """The calling shell's environment without ENV, USER, AWS_PROFILE or any DBT_* variable.

    Only what a test passes decides the target and the schemas.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("ENV", "USER", "LOGNAME", "AWS_PROFILE") and not key.startswith("DBT_")
    }
    env.update(DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_USE_COLORS="false")
    env.update(extra)
    return env


# Runs many dbt invocations in one Python process through dbtRunner, the API the
# runtime image's runner uses: the same code as the CLI, without paying dbt's
# import time once per invocation (the suite runs on a small shared machine).
# Each job gets exactly its own environment variables and artifact directory.
BATCH_SCRIPT = """
import json, os, sys
from dbt.cli.main import dbtRunner

jobs = json.load(open(sys.argv[1]))
base = dict(os.environ)
results = {}
for job in jobs:
    os.environ.clear()
    os.environ.update(base)
    os.environ.update(job["env"])
    result = dbtRunner().invoke(job["args"])
    results[job["id"]] = {
        "success": result.success,
        "exception": None if result.exception is None else str(result.exception),
    }
json.dump(results, open(sys.argv[2], "w"))
"""


class Job:
    """One dbt invocation on a baked project, with its own artifacts directory."""

    def __init__(self, job_id: str, project: Path, args: list[str], env: dict[str, str], root: Path) -> None:
        self.id = job_id
        self.project = project
        self.args = args
        self.artifacts = root / job_id.replace("/", "-")
        self.env = {
            **env,
            "DBT_TARGET_PATH": str(self.artifacts / "target"),
            "DBT_LOG_PATH": str(self.artifacts / "logs"),
            "DBT_DUCKDB_PATH": str(self.artifacts / "local.duckdb"),
        }
        self.success: bool | None = None
        self.exception: str | None = None

    def spec(self) -> dict[str, Any]:
        dbt_dir = str(self.project / "dbt")
        return {
            "id": self.id,
            "env": self.env,
            "args": [*self.args, "--project-dir", dbt_dir, "--profiles-dir", dbt_dir],
        }

    def log(self) -> str:
        log = self.artifacts / "logs" / "dbt.log"
        return log.read_text()[-6000:] if log.exists() else "(no dbt.log)"

    def succeeded(self) -> Job:
        assert self.success, f"dbt {' '.join(self.args)} ({self.id}) failed: {self.exception}\n{self.log()}"
        return self

    def artifact(self, name: str) -> Any:
        return json.loads((self.artifacts / "target" / name).read_text())


def run_jobs(jobs: list[Job], root: Path) -> None:
    python = Path(dbt_binary()).parent / "python"
    (root / "jobs.json").write_text(json.dumps([job.spec() for job in jobs]))
    process = subprocess.run(
        [str(python), "-c", BATCH_SCRIPT, str(root / "jobs.json"), str(root / "results.json")],
        env=clean_environment(),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, f"the dbt batch crashed:\n{process.stdout[-4000:]}\n{process.stderr[-4000:]}"
    results = json.loads((root / "results.json").read_text())
    for job in jobs:
        job.success = results[job.id]["success"]
        job.exception = results[job.id]["exception"]


def schemas(manifest: dict[str, Any]) -> dict[str, str]:
    """The schema of every enabled model and seed, by name."""
    return {
        node["name"]: node["schema"]
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
    }


def source_schemas(manifest: dict[str, Any]) -> dict[str, str]:
    return {source["name"]: source["schema"] for source in manifest["sources"].values()}


def environments_of(bake_name: str) -> list[str]:
    return (ENVIRONMENT_BAKES[bake_name].get("environments") or "dev live").split()


SANDBOX_CASES = {
    "user-suffix": ("default", ANALYST, ANALYST_SCHEMA),
    "user-suffix-without-user": ("default", "", f"{LOCAL_SCHEMA}_sandbox"),
    "no-user-suffix": ("no-suffix", ANALYST, f"{LOCAL_SCHEMA}_sandbox"),
}
LOCAL_PIPELINE = ("debug", "build", "source freshness", "docs generate --static")


@pytest.fixture(scope="module")
def bakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The template baked once per set of answers this module needs."""
    baked = {
        name: bake(tmp_path_factory.mktemp(f"dbt-{name}"), **answers) for name, answers in ENVIRONMENT_BAKES.items()
    }
    baked["no-suffix"] = bake(tmp_path_factory.mktemp("dbt-no-suffix"), sandbox_user_suffix="no")
    return baked


@pytest.fixture(scope="module")
def jobs(bakes: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Job]:
    """Every dbt invocation of this module, run once in one process.

    - the local pipeline on a fresh DuckDB file, in the order the runner runs it;
    - `dbt parse` of the sandbox cases;
    - `dbt parse` of the deploy target for every environment of every bake (placeholder credentials);
    - `dbt parse` of the deploy target with each required variable missing.
    """
    root = tmp_path_factory.mktemp("dbt-jobs")
    default = bakes["default"]
    planned: list[Job] = []
    local = {"USER": ANALYST}
    for step in LOCAL_PIPELINE:
        job = Job(f"local/{step}", default, step.split(), local, root)
        # The steps share one DuckDB file, as in the runner; each keeps its own artifacts.
        job.env["DBT_DUCKDB_PATH"] = str(root / "local.duckdb")
        planned.append(job)
    for case, (bake_name, user, _) in SANDBOX_CASES.items():
        planned.append(Job(f"sandbox/{case}", bakes[bake_name], ["parse"], {"USER": user} if user else {}, root))
    for bake_name in ENVIRONMENT_BAKES:
        for environment in environments_of(bake_name):
            env = {**REDSHIFT_ENV, "DBT_TARGET": "deploy", "ENV": environment}
            planned.append(Job(f"deploy/{bake_name}/{environment}", bakes[bake_name], ["parse"], env, root))
    for variable in REQUIRED_VARIABLES:
        env = {key: value for key, value in REDSHIFT_ENV.items() if key != variable}
        planned.append(
            Job(f"missing/{variable}", default, ["parse"], {**env, "DBT_TARGET": "deploy", "ENV": "dev"}, root)
        )
    run_jobs(planned, root)
    return {job.id: job for job in planned}


def test_debug_passes_on_the_local_target(jobs: dict[str, Job]) -> None:
    job = jobs["local/debug"].succeeded()
    log = job.log()
    assert "Registered adapter: duckdb" in log
    assert "OK connection ok" in log and "All checks passed!" in log


def test_build_passes_on_a_fresh_duckdb(jobs: dict[str, Job]) -> None:
    job = jobs["local/build"].succeeded()
    run_results = job.artifact("run_results.json")
    assert run_results["args"]["which"] == "build"
    statuses = {result["unique_id"]: result["status"] for result in run_results["results"]}
    assert set(statuses.values()) <= {"success", "pass"}, statuses
    built = {unique_id.split(".")[-1] for unique_id in statuses if unique_id.startswith(("model.", "seed."))}
    assert built == SEEDS | STAGING | MARTS
    tests = [unique_id for unique_id in statuses if unique_id.startswith("test.")]
    # Generic tests (built-in and the project's non_negative) and the singular test all ran.
    assert any(".unique_" in test for test in tests)
    assert any(".relationships_" in test for test in tests)
    assert any(".non_negative_" in test for test in tests)
    assert any(test.endswith(".assert_order_totals_match_payments") for test in tests)


def test_source_freshness_passes_locally(jobs: dict[str, Job]) -> None:
    sources = jobs["local/source freshness"].succeeded().artifact("sources.json")
    statuses = {result["unique_id"].split(".")[-1]: result["status"] for result in sources["results"]}
    assert statuses == {"customers": "pass", "orders": "pass", "payments": "pass"}


def test_static_docs_are_generated_locally(jobs: dict[str, Job]) -> None:
    job = jobs["local/docs generate --static"].succeeded()
    catalog = job.artifact("catalog.json")
    assert {node.split(".")[-1] for node in catalog["nodes"]} >= STAGING | MARTS
    static = (job.artifacts / "target" / "static_index.html").read_text()
    # The static page embeds manifest and catalog: it works from S3 or a file.
    assert "dim_customers" in static and len(static) > 100_000


def test_every_model_and_column_is_described(jobs: dict[str, Job]) -> None:
    job = jobs["local/docs generate --static"].succeeded()
    manifest = job.artifact("manifest.json")
    documented = [
        node
        for node in [*manifest["nodes"].values(), *manifest["sources"].values()]
        if node["resource_type"] in ("model", "seed", "source")
    ]
    assert len(documented) == len(SEEDS | STAGING | MARTS) + len(SEEDS)
    catalog = job.artifact("catalog.json")
    for node in documented:
        assert node["description"].strip(), f"{node['unique_id']} has no description"
        columns = catalog["sources" if node["resource_type"] == "source" else "nodes"][node["unique_id"]]["columns"]
        assert set(node["columns"]) == {name.lower() for name in columns}, f"{node['unique_id']}: undocumented columns"
        for column in node["columns"].values():
            assert column["description"].strip(), f"{node['unique_id']}.{column['name']} has no description"


def test_local_run_builds_in_the_users_sandbox(jobs: dict[str, Job]) -> None:
    """Read back from DuckDB itself where the build put every relation."""
    import duckdb

    job = jobs["local/build"].succeeded()
    with duckdb.connect(job.env["DBT_DUCKDB_PATH"], read_only=True) as connection:
        rows = connection.execute("select table_schema, table_name from information_schema.tables").fetchall()
    placed = {name: schema for schema, name in rows}
    for model in STAGING | MARTS:
        assert placed[model] == ANALYST_SCHEMA
    for seed in SEEDS:
        # Sample seeds sit where the jaffle_shop source reads them, shared by all sandboxes.
        assert placed[seed] == f"{LOCAL_SCHEMA}_sandbox_jaffle_shop"


@pytest.mark.parametrize("case", sorted(SANDBOX_CASES))
def test_sandbox_schema_placement(jobs: dict[str, Job], case: str) -> None:
    _, _, sandbox = SANDBOX_CASES[case]
    manifest = jobs[f"sandbox/{case}"].succeeded().artifact("manifest.json")
    placed = schemas(manifest)
    # The marts' custom schema collapses into the sandbox: one place to look.
    assert {placed[model] for model in STAGING | MARTS} == {sandbox}
    assert {placed[seed] for seed in SEEDS} == {f"{LOCAL_SCHEMA}_sandbox_jaffle_shop"}
    assert set(source_schemas(manifest).values()) == {f"{LOCAL_SCHEMA}_sandbox_jaffle_shop"}
    staging = [node for node in manifest["nodes"].values() if node["name"] in STAGING]
    # Each staging model waits for its sample seed, so one `dbt build` works.
    assert all(any(parent.startswith("seed.") for parent in node["depends_on"]["nodes"]) for node in staging)


@pytest.mark.parametrize("bake_name", sorted(ENVIRONMENT_BAKES))
def test_every_deployment_target_parses_without_a_connection(
    bakes: dict[str, Path], jobs: dict[str, Job], bake_name: str
) -> None:
    environments = environments_of(bake_name)
    profile = yaml.safe_load((bakes[bake_name] / "dbt" / "profiles.yml").read_text())
    (outputs,) = [entry["outputs"] for entry in profile.values()]
    # Targets name roles; no environment appears in profiles.yml or dbt_project.yml.
    assert sorted(outputs) == ["ci", "deploy", "local", "sandbox"]
    assert outputs["local"]["type"] == "duckdb"
    assert outputs["sandbox"] == outputs["ci"] == outputs["deploy"]
    assert outputs["deploy"]["type"] == "redshift"
    for text in ((bakes[bake_name] / "dbt" / name).read_text() for name in ("profiles.yml", "dbt_project.yml")):
        assert not any(f"'{environment}'" in text or f'"{environment}"' in text for environment in environments)
    for environment in environments:
        manifest = jobs[f"deploy/{bake_name}/{environment}"].succeeded().artifact("manifest.json")
        assert manifest["metadata"]["adapter_type"] == "redshift"
        placed = schemas(manifest)
        assert {placed[model] for model in STAGING} == {"analytics"}
        # A custom schema in a deployment: <schema>_<custom>.
        assert {placed[model] for model in MARTS} == {"analytics_marts"}
        # The sample seeds never build in a deployment; the source reads the loader's schema.
        assert not SEEDS & set(placed)
        assert {node.split(".")[-1] for node in manifest["disabled"]} == SEEDS
        assert set(source_schemas(manifest).values()) == {"jaffle_shop"}
        assert {source["loaded_at_field"] for source in manifest["sources"].values()} == {"_loaded_at"}


@pytest.mark.parametrize("variable", REQUIRED_VARIABLES)
def test_a_missing_variable_names_itself(jobs: dict[str, Job], variable: str) -> None:
    job = jobs[f"missing/{variable}"]
    assert job.success is False
    assert f"Env var required but not provided: '{variable}'" in (job.exception or "")


# ---- PostgreSQL: the env-var profile against a real server ------------------


def test_build_passes_on_postgres(bakes: dict[str, Path], postgres: dict[str, str], tmp_path: Path) -> None:
    """The sandbox target as dbt-postgres, on the real raw tables the loader left."""
    import psycopg2

    project = bakes["default"]
    load_raw_tables(postgres, project)
    profile = yaml.safe_load((project / "dbt" / "profiles.yml").read_text())
    (outputs,) = [entry["outputs"] for entry in profile.values()]
    outputs["sandbox"] = as_postgres(outputs["sandbox"])
    profiles_dir = tmp_path / "profiles"
    profiles_dir.mkdir()
    (profiles_dir / "profiles.yml").write_text(yaml.safe_dump(profile))

    env = clean_environment(
        **postgres,
        USER=ANALYST,
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
    )
    dbt_dir = str(project / "dbt")
    command = [
        dbt_binary(),
        "build",
        "--target",
        "sandbox",
        "--project-dir",
        dbt_dir,
        "--profiles-dir",
        str(profiles_dir),
    ]
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"dbt build on PostgreSQL failed:\n{result.stdout}\n{result.stderr}"
    assert "Completed successfully" in result.stdout and "ERROR=0" in result.stdout
    # The password came in through DBT_ENV_SECRET_, so dbt never printed it.
    assert (
        postgres["DBT_ENV_SECRET_REDSHIFT_PASSWORD"] not in result.stdout + (tmp_path / "logs" / "dbt.log").read_text()
    )

    connection = psycopg2.connect(
        host="127.0.0.1",
        port=int(postgres["DBT_REDSHIFT_PORT"]),
        user="dbt",
        password=postgres["DBT_ENV_SECRET_REDSHIFT_PASSWORD"],
        dbname="postgres",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("select table_schema, table_name from information_schema.tables")
            placed = {name: schema for schema, name in cursor.fetchall()}
            cursor.execute(f"select count(*), sum(lifetime_value) from {ANALYST_SCHEMA}.dim_customers")
            customers, lifetime_value = cursor.fetchone()
    finally:
        connection.close()
    assert {placed[model] for model in STAGING | MARTS} == {ANALYST_SCHEMA}
    # Outside local the sample seeds never build: the sources read the raw tables.
    assert {placed[seed] for seed in SEEDS} == {"jaffle_shop"}
    # 8 sample customers; the sample payments add up to 179.00.
    assert (customers, float(lifetime_value)) == (8, 179.0)


# ---- sqlfluff ----------------------------------------------------------------


def lint(project: Path) -> list[dict[str, Any]]:
    sqlfluff = require_tool("sqlfluff", "install the template's dev requirements: make venv")
    result = subprocess.run(
        [sqlfluff, "lint", "dbt", "--format", "json", "--disable-progress-bar"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_sqlfluff_finds_nothing(bakes: dict[str, Path]) -> None:
    files = lint(bakes["default"])
    linted = {Path(entry["filepath"]).name for entry in files}
    # Every model and test was templated and parsed, not skipped.
    assert {f"{model}.sql" for model in STAGING | MARTS} <= linted
    assert "assert_order_totals_match_payments.sql" in linted
    violations = [(entry["filepath"], violation) for entry in files for violation in entry["violations"]]
    assert violations == []


def test_sqlfluff_renders_cross_database_macros_as_redshift(tmp_path: Path, bakes: dict[str, Path]) -> None:
    """The lint is live: a style slip in a model that uses dbt.datediff is reported."""
    project = tmp_path / "project"
    shutil.copytree(bakes["default"], project)
    model = project / "dbt" / "models" / "marts" / "dim_customers.sql"
    model.write_text(model.read_text().replace("left join customer_orders", "LEFT JOIN customer_orders"))
    files = lint(project)
    codes = {
        violation["code"]
        for entry in files
        if entry["filepath"].endswith("dim_customers.sql")
        for violation in entry["violations"]
    }
    assert codes == {"CP01"}
    sqlfluff = require_tool("sqlfluff", "install the template's dev requirements: make venv")
    rendered = subprocess.run(
        [sqlfluff, "render", str(model.relative_to(project))], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    assert "datediff(day, customer_orders.first_order_date, customer_orders.most_recent_order_date)" in rendered


# ---- the generated Makefile ---------------------------------------------------


def test_make_targets_lint_and_build(bakes: dict[str, Path], tmp_path: Path) -> None:
    """`make lint-sql` and `make dbt-build`, as an analyst runs them, on the template's venv."""
    make = require_tool("make", "apt-get install make")
    venv = Path(dbt_binary()).parent.parent
    # -o: the template's venv counts as installed; make must never pip-install into it.
    command = [make, "lint-sql", "dbt-build", f"VENV={venv}", "-o", f"{venv}/.installed"]
    env = clean_environment(
        USER=ANALYST,
        DBT_DUCKDB_PATH=str(tmp_path / "local.duckdb"),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
    )
    result = subprocess.run(command, cwd=bakes["default"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"make failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert "All Finished" in result.stdout
    run_results = json.loads((tmp_path / "target" / "run_results.json").read_text())
    assert run_results["args"]["which"] == "build"
    assert {result["status"] for result in run_results["results"]} <= {"success", "pass"}
    assert len(run_results["results"]) > len(SEEDS | STAGING | MARTS)
