#!/usr/bin/env bash
# The reference the runner is measured against: the source article's container
# entry point, one dbt CLI process per step. Every process starts Python, imports
# dbt and parses the project again. Credentials and the S3 upload are left out:
# both sides run on the same local DuckDB target.
#
# usage: seed_pipeline.sh PROJECT_DIR PROFILES_DIR   (DBT names the dbt executable)
set -e

project_dir=$1
profiles_dir=$2
dbt=${DBT:-dbt}

"$dbt" deps --profiles-dir "$profiles_dir" --project-dir "$project_dir"
"$dbt" debug --profiles-dir "$profiles_dir" --project-dir "$project_dir"
"$dbt" run --profiles-dir "$profiles_dir" --project-dir "$project_dir"
"$dbt" test --profiles-dir "$profiles_dir" --project-dir "$project_dir"
"$dbt" source freshness --profiles-dir "$profiles_dir" --project-dir "$project_dir"
"$dbt" docs generate --profiles-dir "$profiles_dir" --project-dir "$project_dir"
