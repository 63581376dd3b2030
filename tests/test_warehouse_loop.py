"""The warehouse development loop on a real PostgreSQL server standing in for Redshift.

Targets name roles (dbt/profiles.yml): `deploy` builds the deployment schemas,
`ci` a pull request's `<schema>_pr_<N>*`, `sandbox` a person's
`<schema>_sandbox_<user>`; sandbox and ci read the real raw tables and defer
to the deployment. Proved here:

- a deploy build builds the deployment schemas, whose every relation is checksummed;
- PR 7 (one mart changed, one model added) builds exactly state:modified+ into
  its own schemas, reads unchanged parents from the deployment, and changes no
  deployment relation; PR 8 at the same time does not collide with it;
- drop_pr_schemas drops one PR's schemas and nothing else (not PR 70's);
  drop_stale_pr_schemas drops only the PRs whose last build is old;
- two analysts' `make dbt-build TARGET=sandbox` builds (credentials from .env,
  connection from environments.json) land apart, read the raw tables, defer to
  the deployment; `make sandbox-drop` drops only the caller's sandbox;
- no model, seed, snapshot or test of ci, sandbox or local resolves to a
  deployment schema, whatever ENV says;
- a missing or non-numeric DBT_PR_NUMBER on ci fails with one line naming it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import bake, load_raw_tables, require_tool, rewrite_profile_for_postgres
from tests.test_dbt_project import REDSHIFT_ENV, clean_environment, dbt_binary

DATABASE = "warehouse_loop"
DEPLOYMENT_SCHEMAS = {"analytics", "analytics_marts"}
NEW_MODEL = "order_status_counts"
# What PR 7 changes: one mart (fct_orders) and one new model; + their children.
PR7_MODELS = {"fct_orders", "dim_customers", NEW_MODEL}


class Dbt:
    """dbt invocations in this process (dbtRunner: the CLI's code without its import time per call)."""

    def __init__(self, project: Path, root: Path, base_env: dict[str, str]) -> None:
        self.project = project
        self.root = root
        self.base_env = base_env

    def __call__(self, name: str, args: list[str], **env: str) -> Run:
        from dbt.cli.main import dbtRunner

        run = Run(self.root / name)
        full = clean_environment(
            **self.base_env,
            **env,
            DBT_TARGET_PATH=str(run.target),
            DBT_LOG_PATH=str(run.path / "logs"),
            DBT_PARTIAL_PARSE="false",
        )
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(full)
        try:
            dbt_dir = str(self.project / "dbt")
            result = dbtRunner().invoke([*args, "--project-dir", dbt_dir, "--profiles-dir", dbt_dir])
        finally:
            os.environ.clear()
            os.environ.update(saved)
        run.success = result.success
        run.exception = None if result.exception is None else str(result.exception)
        return run


class Run:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.target = path / "target"
        self.success = False
        self.exception: str | None = None

    def log(self) -> str:
        log = self.path / "logs" / "dbt.log"
        return log.read_text() if log.exists() else "(no dbt.log)"

    def ok(self) -> Run:
        assert self.success, f"dbt failed: {self.exception}\n{self.log()[-6000:]}"
        return self

    def artifact(self, name: str) -> Any:
        return json.loads((self.target / name).read_text())

    def compiled(self, model: str) -> str:
        (path,) = self.target.glob(f"compiled/**/{model}.sql")
        return path.read_text()


class Warehouse:
    def __init__(self, settings: dict[str, str]) -> None:
        self.settings = settings

    def connect(self, dbname: str | None = None):  # noqa: ANN201
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1",
            port=int(self.settings["DBT_REDSHIFT_PORT"]),
            user=self.settings["DBT_REDSHIFT_USER"],
            password=self.settings["DBT_ENV_SECRET_REDSHIFT_PASSWORD"],
            dbname=dbname or self.settings["DBT_REDSHIFT_DB"],
        )

    def query(self, sql: str, *params: Any) -> list[tuple]:
        connection = self.connect()
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def schemas(self) -> set[str]:
        return {name for (name,) in self.query("select schema_name from information_schema.schemata")}

    def relations(self, schemas: set[str]) -> dict[str, str]:
        """schema.name -> a checksum: md5 over the ordered rows of a table, the definition of a view."""
        found = self.query(
            "select table_schema, table_name, table_type from information_schema.tables where table_schema = any(%s)",
            sorted(schemas),
        )
        sums = {}
        for schema, name, kind in found:
            if kind == "VIEW":
                (row,) = self.query("select pg_get_viewdef(format('%%I.%%I', %s, %s)::regclass)", schema, name)
            else:
                rows = "string_agg(r::text, E'\\n' order by r::text)"
                (row,) = self.query(f'select md5(coalesce({rows}, \'\')) from "{schema}"."{name}" r')
            sums[f"{schema}.{name}"] = row[0]
        return sums


@pytest.fixture(scope="module")
def warehouse(postgres: dict[str, str]) -> Iterator[Warehouse]:
    """A database of its own on the session's server: other tests' schemas never show here."""
    admin = Warehouse(postgres).connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"drop database if exists {DATABASE}")
        cursor.execute(f"create database {DATABASE}")
    admin.close()
    yield Warehouse({**postgres, "DBT_REDSHIFT_DB": DATABASE})


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("loop-bake"))


def postgres_copy(baked: Path, where: Path) -> Path:
    """A copy of the bake whose Redshift outputs are dbt-postgres: only the test's copy changes."""
    project = where / baked.name
    shutil.copytree(baked, project, symlinks=True)
    rewrite_profile_for_postgres(project / "dbt" / "profiles.yml")
    return project


@pytest.fixture(scope="module")
def deployment(baked: Path, warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """(a) The raw tables loaded, then a deploy build: what every other build defers to."""
    root = tmp_path_factory.mktemp("loop")
    project = postgres_copy(baked, root)
    load_raw_tables(warehouse.settings, project)
    run = Dbt(project, root, warehouse.settings)("deploy", ["build"], DBT_TARGET="deploy", ENV="dev").ok()
    return {"root": root, "project": project, "run": run, "checksums": warehouse.relations(DEPLOYMENT_SCHEMAS)}


def test_deploy_builds_the_deployment_schemas(deployment: dict[str, Any], warehouse: Warehouse) -> None:
    results = deployment["run"].artifact("run_results.json")["results"]
    assert {result["status"] for result in results} <= {"success", "pass"}
    built = {result["unique_id"].split(".")[-1] for result in results if result["unique_id"].startswith("model.")}
    assert built == {"stg_jaffle_shop__customers", "stg_jaffle_shop__orders", "stg_jaffle_shop__payments"} | {
        "fct_orders",
        "dim_customers",
    }
    assert not any(result["unique_id"].startswith("seed.") for result in results)
    assert set(deployment["checksums"]) == {
        "analytics.stg_jaffle_shop__customers",
        "analytics.stg_jaffle_shop__orders",
        "analytics.stg_jaffle_shop__payments",
        "analytics_marts.fct_orders",
        "analytics_marts.dim_customers",
    }
    # The deployment reads the loader's raw tables: 8 sample customers, payments of 179.00 in all.
    assert warehouse.query("select count(*), sum(lifetime_value) from analytics_marts.dim_customers") == [(8, 179)]
    # A deploy build leaves no ci marker: that is the ci target's alone.
    assert not {schema for schema in warehouse.schemas() if "_pr_" in schema}


def pull_request(deployment: dict[str, Any], where: Path, change: str) -> Path:
    project = deployment["root"] / where
    project.mkdir()
    project = project / deployment["project"].name
    shutil.copytree(deployment["project"], project, symlinks=True)
    models = project / "dbt" / "models"
    if change == "pr7":
        fct = models / "marts" / "fct_orders.sql"
        fct.write_text(
            fct.read_text().replace(
                "    orders.status,\n", "    orders.status,\n    upper(orders.status) as status_label,\n"
            )
        )
        assert "status_label" in fct.read_text()
        (models / "marts" / f"{NEW_MODEL}.sql").write_text(
            "select status, count(*) as orders\nfrom {{ ref('stg_jaffle_shop__orders') }}\ngroup by status\n"
        )
    else:
        dim = models / "marts" / "dim_customers.sql"
        dim.write_text(
            dim.read_text().replace("    customers.last_name,\n", "    customers.last_name,\n    1 as pr8,\n")
        )
        assert "pr8" in dim.read_text()
    return project


def test_pull_requests_build_apart_and_are_dropped(deployment: dict[str, Any], warehouse: Warehouse) -> None:
    """(b) PR 7 builds exactly state:modified+ in its schemas; (c) PR 8 beside it; the cleanups."""
    deploy_state = str(deployment["run"].target)
    slim = ["build", "--select", "state:modified+", "--defer", "--state", deploy_state]
    pr7 = pull_request(deployment, Path("pr7"), "pr7")
    dbt7 = Dbt(pr7, deployment["root"], warehouse.settings)
    run7 = dbt7("pr7-build", slim, DBT_TARGET="ci", DBT_PR_NUMBER="7", ENV="dev").ok()

    manifest = run7.artifact("manifest.json")
    nodes = manifest["nodes"]
    models = {uid for uid, node in nodes.items() if node["resource_type"] == "model" and node["name"] in PR7_MODELS}
    expected = models | {
        uid
        for uid, node in nodes.items()
        if node["resource_type"] == "test" and set(node["depends_on"]["nodes"]) & models
    }
    results = run7.artifact("run_results.json")["results"]
    # Plus the on-run-end hook that records the build time.
    assert {result["unique_id"] for result in results} == expected | {
        "operation.analytics_dbt.analytics_dbt-on-run-end-0"
    }
    assert {result["status"] for result in results} <= {"success", "pass"}
    # Everything it built is the PR's; what it read and did not build is the deployment's.
    for uid in expected:
        assert nodes[uid]["schema"].startswith("analytics_pr_7"), (uid, nodes[uid]["schema"])
    assert warehouse.relations({"analytics_pr_7", "analytics_pr_7_marts"}).keys() == {
        "analytics_pr_7._ci_last_build",
        "analytics_pr_7_marts.fct_orders",
        "analytics_pr_7_marts.dim_customers",
        f"analytics_pr_7_marts.{NEW_MODEL}",
    }
    fct_sql = run7.compiled("fct_orders")
    assert '"analytics"."stg_jaffle_shop__orders"' in fct_sql and '"analytics"."stg_jaffle_shop__payments"' in fct_sql
    dim_sql = run7.compiled("dim_customers")
    assert '"analytics_pr_7_marts"."fct_orders"' in dim_sql and '"analytics"."stg_jaffle_shop__customers"' in dim_sql
    assert '"analytics"."stg_jaffle_shop__orders"' in run7.compiled(NEW_MODEL)
    assert warehouse.query("select count(*) from analytics_pr_7_marts.fct_orders where status_label is not null")
    assert warehouse.relations(DEPLOYMENT_SCHEMAS) == deployment["checksums"]

    # (c) PR 8 at the same time, and PR 70, whose number starts with 7.
    pr7_sums = warehouse.relations({"analytics_pr_7", "analytics_pr_7_marts"})
    pr8 = pull_request(deployment, Path("pr8"), "pr8")
    dbt8 = Dbt(pr8, deployment["root"], warehouse.settings)
    run8 = dbt8("pr8-build", slim, DBT_TARGET="ci", DBT_PR_NUMBER="8", ENV="dev").ok()
    assert {
        r["unique_id"].split(".")[-1]
        for r in run8.artifact("run_results.json")["results"]
        if r["unique_id"].startswith("model.")
    } == {"dim_customers"}
    run70 = dbt7(
        "pr70-build",
        ["build", "--select", "fct_orders", "--defer", "--state", deploy_state],
        DBT_TARGET="ci",
        DBT_PR_NUMBER="70",
    ).ok()
    assert run70.success
    pr7_after = warehouse.relations({"analytics_pr_7", "analytics_pr_7_marts"})
    pr7_after.pop("analytics_pr_7._ci_last_build"), pr7_sums.pop("analytics_pr_7._ci_last_build")
    assert pr7_after == pr7_sums
    assert warehouse.relations(DEPLOYMENT_SCHEMAS) == deployment["checksums"]

    # The cleanups refuse any target but ci.
    refused = dbt7("drop-on-deploy", ["run-operation", "drop_pr_schemas", "--args", "{pr: 7}"], DBT_TARGET="deploy")
    assert not refused.success and "drop_pr_schemas runs only with DBT_TARGET=ci" in refused.log()

    before = warehouse.schemas()
    assert {
        "analytics_pr_7",
        "analytics_pr_7_marts",
        "analytics_pr_8",
        "analytics_pr_8_marts",
        "analytics_pr_70",
    } <= before
    drop7 = dbt7("drop-7", ["run-operation", "drop_pr_schemas", "--args", "{pr: 7}"], DBT_TARGET="ci").ok()
    assert before - warehouse.schemas() == {"analytics_pr_7", "analytics_pr_7_marts"}
    assert "dropped schema analytics_pr_7_marts (pull request 7)" in drop7.log()
    assert warehouse.relations(DEPLOYMENT_SCHEMAS) == deployment["checksums"]

    # Time passes for PR 8 (its last build ten days ago); a PR schema from before the marker has none.
    warehouse.query("update analytics_pr_8._ci_last_build set built_at = built_at - interval '10 days'")
    warehouse.query("create schema analytics_pr_99")
    before = warehouse.schemas()
    sweep = dbt7(
        "sweep", ["run-operation", "drop_stale_pr_schemas", "--args", "{max_age_days: 7}"], DBT_TARGET="ci"
    ).ok()
    assert before - warehouse.schemas() == {"analytics_pr_8", "analytics_pr_8_marts"}
    assert "skipped analytics_pr_99: no _ci_last_build table" in sweep.log()
    assert warehouse.relations(DEPLOYMENT_SCHEMAS) == deployment["checksums"]


# ---- analysts' sandboxes, through make ----------------------------------------------


def make_sandbox(project: Path, target: str, user: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    make = require_tool("make", "apt-get install make")
    venv = Path(dbt_binary()).parent.parent
    env = clean_environment(
        USER=user, DBT_TARGET_PATH=str(tmp / user / "target"), DBT_LOG_PATH=str(tmp / user / "logs")
    )
    # -o: the test's venv counts as installed; make must never pip-install into it.
    command = [make, target, "TARGET=sandbox", f"VENV={venv}", "-o", f"{venv}/.installed", *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)


def test_analysts_sandboxes_are_apart_read_raw_and_defer(
    deployment: dict[str, Any], warehouse: Warehouse, tmp_path: Path
) -> None:
    """(d) ann and bob, each with a .env, on the warehouse environments.json names."""
    project = tmp_path / deployment["project"].name
    shutil.copytree(deployment["project"], project, symlinks=True)
    environments = json.loads((project / "environments.json").read_text())
    dev = environments["environments"]["dev"]["warehouse"]
    dev.update(host="127.0.0.1", port=int(warehouse.settings["DBT_REDSHIFT_PORT"]), database=DATABASE)
    (project / "environments.json").write_text(json.dumps(environments))
    settings = warehouse.settings
    (project / ".env").write_text(
        f"DBT_REDSHIFT_USER={settings['DBT_REDSHIFT_USER']}\n"
        f"DBT_ENV_SECRET_REDSHIFT_PASSWORD={settings['DBT_ENV_SECRET_REDSHIFT_PASSWORD']}\n"
        "DBT_THREADS=2\n"
    )
    (project / "state" / "dev").mkdir(parents=True)
    shutil.copy(deployment["run"].target / "manifest.json", project / "state" / "dev" / "manifest.json")

    selections = {"ann": "stg_jaffle_shop__orders+", "bob": "fct_orders+"}
    for user, selection in selections.items():
        made = make_sandbox(project, "dbt-build", user, tmp_path, f"ARGS=--select {selection}")
        assert made.returncode == 0, f"make failed:\n{made.stdout[-6000:]}\n{made.stderr[-3000:]}"
        assert "dbt-build: deferring to dev's deployment (state/dev/manifest.json)" in made.stdout
        assert settings["DBT_ENV_SECRET_REDSHIFT_PASSWORD"] not in made.stdout + made.stderr

    ann = warehouse.relations({"analytics_sandbox_ann"})
    bob = warehouse.relations({"analytics_sandbox_bob"})
    assert set(ann) == {
        f"analytics_sandbox_ann.{m}" for m in ("stg_jaffle_shop__orders", "fct_orders", "dim_customers")
    }
    assert set(bob) == {f"analytics_sandbox_bob.{m}" for m in ("fct_orders", "dim_customers")}
    compiled = tmp_path / "ann" / "target" / "compiled"
    (stg,) = compiled.glob("**/stg_jaffle_shop__orders.sql")
    # The real raw table, never a seed; the rest of the DAG from the deployment.
    assert '"jaffle_shop"."orders"' in stg.read_text() and "sandbox_jaffle_shop" not in stg.read_text()
    (fct,) = compiled.glob("**/fct_orders.sql")
    assert '"analytics_sandbox_ann"."stg_jaffle_shop__orders"' in fct.read_text()
    assert '"analytics"."stg_jaffle_shop__payments"' in fct.read_text()
    (fct,) = (tmp_path / "bob" / "target" / "compiled").glob("**/fct_orders.sql")
    assert '"analytics"."stg_jaffle_shop__orders"' in fct.read_text()
    assert warehouse.query("select count(*) from analytics_sandbox_ann.stg_jaffle_shop__orders") == warehouse.query(
        "select count(*) from jaffle_shop.orders"
    )
    assert warehouse.relations(DEPLOYMENT_SCHEMAS) == deployment["checksums"]

    dropped = make_sandbox(project, "sandbox-drop", "ann", tmp_path)
    assert dropped.returncode == 0, f"make failed:\n{dropped.stdout[-6000:]}\n{dropped.stderr[-3000:]}"
    assert "dropped schema analytics_sandbox_ann" in dropped.stdout
    schemas = warehouse.schemas()
    assert "analytics_sandbox_ann" not in schemas and "analytics_sandbox_bob" in schemas
    assert warehouse.relations(DEPLOYMENT_SCHEMAS) == deployment["checksums"]


def test_make_refuses_a_wrong_target_or_a_ci_run_without_a_pr(baked: Path) -> None:
    make = require_tool("make", "apt-get install make")
    venv = Path(dbt_binary()).parent.parent
    for args, line in (
        (["TARGET=prod"], "dbt-build: TARGET must be one of local, sandbox, ci, deploy (got 'prod')"),
        (["TARGET=ci"], "dbt-build: TARGET=ci builds a pull request's schemas: set PR=<its number> (got '')"),
        (
            ["TARGET=ci", "PR=7a"],
            "dbt-build: TARGET=ci builds a pull request's schemas: set PR=<its number> (got '7a')",
        ),
    ):
        made = subprocess.run(
            [make, "dbt-build", *args, f"VENV={venv}", "-o", f"{venv}/.installed"],
            cwd=baked,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode != 0
        assert made.stderr.splitlines()[0] == line


# ---- placement: parse only ------------------------------------------------------------

SNAPSHOT = """snapshots:
  - name: orders_snapshot
    description: Order status history.
    relation: ref('stg_jaffle_shop__orders')
    config:
      unique_key: order_id
      strategy: check
      check_cols: all
"""
PLACEMENT_ENVS = ("", "dev", "live")


@pytest.fixture(scope="module")
def placements(baked: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Run]:
    """`dbt parse` of the real (Redshift) profile for every target and several ENV values, with a snapshot added.

    The templated dbt/ has no snapshot yet; one is added here so the proof covers snapshots too.
    """
    root = tmp_path_factory.mktemp("placement")
    project = root / baked.name
    shutil.copytree(baked, project, symlinks=True)
    (project / "dbt" / "snapshots" / "orders_snapshot.yml").write_text(SNAPSHOT)
    dbt = Dbt(project, root, REDSHIFT_ENV)
    runs = {}
    for target in ("local", "sandbox", "ci", "deploy"):
        for environment in PLACEMENT_ENVS:
            env = {"DBT_TARGET": target, "USER": "ann", "DBT_PR_NUMBER": "7"}
            if environment:
                env["ENV"] = environment
            runs[target, environment] = dbt(f"{target}-{environment or 'unset'}", ["parse"], **env)
    return runs


@pytest.fixture(scope="module")
def bad_pr_numbers(baked: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    root = tmp_path_factory.mktemp("bad-pr")
    dbt = Dbt(baked, root, REDSHIFT_ENV)
    return {
        value: dbt(f"ci-pr-{value or 'missing'}", ["parse"], DBT_TARGET="ci", DBT_PR_NUMBER=value)
        for value in ("", "seven", "7;drop")
    }


def placed(run: Run) -> dict[str, str]:
    manifest = run.ok().artifact("manifest.json")
    return {
        uid: node["schema"]
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed", "snapshot", "test")
    }


def test_no_ci_or_sandbox_node_resolves_to_a_deployment_schema(placements: dict[tuple[str, str], Run]) -> None:
    """(e) Every model, seed, snapshot and test, whatever ENV says."""
    for environment in PLACEMENT_ENVS:
        assert_placement(placements, environment)


def assert_placement(placements: dict[tuple[str, str], Run], environment: str) -> None:
    deployment = set(placed(placements["deploy", environment]).values())
    # Tests place like models (store_failures: <schema>_dbt_test__audit in a deployment).
    assert deployment == DEPLOYMENT_SCHEMAS | {"analytics_dbt_test__audit"}
    prefixes = {"ci": "analytics_pr_7", "sandbox": "analytics_sandbox_ann", "local": "analytics_sandbox"}
    for target, prefix in prefixes.items():
        nodes = placed(placements[target, environment])
        kinds = {uid.split(".")[0] for uid in nodes}
        assert {"model", "snapshot", "test"} <= kinds
        assert ("seed" in kinds) == (target == "local")
        for uid, schema in nodes.items():
            assert schema not in deployment, (target, environment, uid, schema)
            assert schema.startswith(prefix), (target, environment, uid, schema)
    sources = placements["ci", environment].artifact("manifest.json")["sources"].values()
    assert {source["schema"] for source in sources} == {"jaffle_shop"}


@pytest.mark.parametrize("value", ["", "seven", "7;drop"])
def test_ci_without_a_pr_number_fails_with_one_line(bad_pr_numbers: dict[str, Run], value: str) -> None:
    """(f) Before anything is placed: one line naming DBT_PR_NUMBER and the rule."""
    run = bad_pr_numbers[value]
    assert not run.success
    lines = [line for line in (run.exception or "").splitlines() if "DBT_PR_NUMBER" in line]
    assert len(lines) == 1, run.exception
    assert (
        f"DBT_PR_NUMBER must be the pull request's number, digits only, for DBT_TARGET=ci (got '{value}')" in lines[0]
    )
