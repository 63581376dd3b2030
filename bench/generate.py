"""Synthetic dbt projects for the benchmarks: N models in three layers.

The shape follows a typical warehouse project rather than a chain or a star:

* ``raw`` sources: one table per ten models, each with a ``loaded_at`` column and a
  freshness policy, so ``dbt source freshness`` has real work to do;
* staging (30 %): one view per source table, renaming and casting;
* intermediate (40 %): views joining two to four staging or earlier intermediate models;
* marts (30 %): tables joining two to five intermediate models, the leaves of the DAG.

Every model carries ``unique`` and ``not_null`` tests on its key, every source table a
``not_null`` test, so a build runs roughly two tests per model as real projects do.
The graph is drawn from a seeded random generator: the same N always gives the same project.

The raw tables live in schema ``bench_raw`` of the DuckDB file; ``create_raw_tables`` fills them
(benchmark setup, not timed), so the sources have data without seeds in the timed builds.
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

RAW_ROWS = 200
LEAF_MODEL_PREFIX = "mart_"

RAW_SCHEMA = "bench_raw"


def layer_sizes(n_models: int) -> tuple[int, int, int, int]:
    """(sources, staging, intermediate, marts) for a project of n_models models."""
    if n_models < 6:
        raise ValueError("a layered project needs at least 6 models")
    staging = max(2, round(n_models * 0.3))
    marts = max(2, round(n_models * 0.3))
    intermediate = n_models - staging - marts
    sources = staging  # one staging model per source table, as dbt's style guide has it
    return sources, staging, intermediate, marts


def _join_sql(parents: list[str], extra: str = "") -> str:
    first, *rest = parents
    amount = " + ".join(f"{alias}.amount" for alias in [f"p{i}" for i in range(len(parents))])
    lines = [
        "select",
        "    p0.id,",
        f"    {amount} as amount,",
        f"    p0.loaded_at{extra}",
        f"from {{{{ ref('{first}') }}}} as p0",
    ]
    for i, parent in enumerate(rest, start=1):
        lines.append(f"left join {{{{ ref('{parent}') }}}} as p{i} on p{i}.id = p0.id")
    return "\n".join(lines) + "\n"


def _model_tests(name: str) -> str:
    return f"  - name: {name}\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n"


def write_models(models_dir: Path, n_models: int, seed: int = 20261124) -> dict[str, object]:
    """Write the layered models, sources and tests into models_dir; return the project's shape."""
    rng = random.Random(seed)
    n_sources, n_staging, n_intermediate, n_marts = layer_sizes(n_models)
    if models_dir.exists():
        shutil.rmtree(models_dir)
    for layer in ("staging", "intermediate", "marts"):
        (models_dir / layer).mkdir(parents=True)

    raw_tables = [f"raw_{i:04d}" for i in range(n_sources)]
    source_yml = [
        "version: 2",
        "sources:",
        "  - name: raw",
        f"    schema: {RAW_SCHEMA}",
        "    loaded_at_field: loaded_at",
        "    freshness:",
        "      warn_after: {count: 24, period: hour}",
        "      error_after: {count: 48, period: hour}",
        "    tables:",
    ]
    for table in raw_tables:
        source_yml += [
            f"      - name: {table}",
            "        columns:",
            "          - name: id",
            "            data_tests: [not_null]",
        ]
    (models_dir / "staging" / "_sources.yml").write_text("\n".join(source_yml) + "\n")

    staging = [f"stg_{i:04d}" for i in range(n_staging)]
    for name, table in zip(staging, raw_tables, strict=True):
        (models_dir / "staging" / f"{name}.sql").write_text(
            "select\n    cast(id as bigint) as id,\n    cast(amount as double) as amount,\n    loaded_at\n"
            f"from {{{{ source('raw', '{table}') }}}}\n"
        )

    intermediate: list[str] = []
    for i in range(n_intermediate):
        name = f"int_{i:04d}"
        # Fan-in from staging and from intermediates built earlier: a DAG several layers deep.
        pool = staging + intermediate
        parents = rng.sample(pool, k=min(len(pool), rng.randint(2, 4)))
        (models_dir / "intermediate" / f"{name}.sql").write_text(_join_sql(parents))
        intermediate.append(name)

    marts: list[str] = []
    for i in range(n_marts):
        name = f"{LEAF_MODEL_PREFIX}{i:04d}"
        parents = rng.sample(intermediate or staging, k=min(len(intermediate or staging), rng.randint(2, 5)))
        (models_dir / "marts" / f"{name}.sql").write_text("{{ config(materialized='table') }}\n" + _join_sql(parents))
        marts.append(name)

    for layer, names in (("staging", staging), ("intermediate", intermediate), ("marts", marts)):
        (models_dir / layer / f"_{layer}.yml").write_text(
            "version: 2\nmodels:\n" + "".join(_model_tests(name) for name in names)
        )

    return {
        "models": n_models,
        "sources": n_sources,
        "tests": 2 * n_models + n_sources,
        "raw_tables": raw_tables,
        "leaf": marts[-1],
    }


def create_raw_tables(duckdb_path: Path, shape: dict[str, object]) -> None:
    """The raw tables the sources point at: RAW_ROWS rows each, loaded just now (so: fresh)."""
    import duckdb

    with duckdb.connect(str(duckdb_path)) as con:
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        for table in shape["raw_tables"]:
            con.execute(
                f"create or replace table {RAW_SCHEMA}.{table} as select range as id, "
                f"(range * 7) % 101 as amount, current_timestamp::timestamp as loaded_at from range({RAW_ROWS})"
            )


def write_standalone(dest: Path, n_models: int) -> dict[str, object]:
    """A complete dbt project on DuckDB (no template needed): dbt_project.yml, profiles.yml, models."""
    dest.mkdir(parents=True, exist_ok=True)
    shape = write_models(dest / "models", n_models)
    (dest / "dbt_project.yml").write_text(
        "name: bench\nversion: '1.0.0'\nprofile: bench\nmodels:\n  bench:\n    +materialized: view\n"
    )
    (dest / "profiles.yml").write_text(
        "bench:\n  target: local\n  outputs:\n    local:\n      type: duckdb\n"
        f"      path: \"{{{{ env_var('DBT_DUCKDB_PATH', '{dest / 'bench.duckdb'}') }}}}\"\n"
        "      schema: main\n      threads: 4\n"
    )
    return shape


def leaf_change(project_dir: Path, shape: dict[str, object]) -> Path:
    """Change one leaf-side model the way a pull request would: one more column."""
    path = project_dir / "models" / "marts" / f"{shape['leaf']}.sql"
    text = path.read_text()
    path.write_text(text.replace("    p0.loaded_at\n", "    p0.loaded_at,\n    'changed' as review_note\n", 1))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--models", type=int, default=300)
    args = parser.parse_args()
    shape = write_standalone(args.dest, args.models)
    print(f"{args.dest}: {shape['models']} models, {shape['sources']} sources, {shape['tests']} tests")


if __name__ == "__main__":
    main()
