#!/bin/sh
# The container's entrypoint. Everything happens in the Python runner, in one
# process: credentials stay in its memory and the artifacts are exported even
# when a dbt step fails. Arguments (the ECS container command override, e.g.
# `--select tag:daily`) are passed on to `dbt build`.
set -eu
exec python -m runner "$@"
