"""One run: credentials, then parse, debug, build, source freshness and docs, then export.

RUNNER_MODE (runner/settings.py) changes the middle: `ci` gets the pull request's project
and the deployment's state first (runner/ci.py), then parses, checks the connection and
builds state:modified+ into the pull request's schemas; `cleanup` and `sweep` parse and run
one dbt macro that drops pull-request schemas.

Exit codes: 0 every step passed; 1 a dbt step failed; 2 the runner is misconfigured or
the credentials, project or state could not be read; 3 the artifacts could not be exported.
The artifacts are exported whatever happened before, and the last line says what failed and why.
"""

from __future__ import annotations

import os

from runner import artifacts, ci, credentials, log, run_id, settings
from runner.steps import Outcome, Pipeline

EXIT_STEP_FAILED = 1
EXIT_SETUP = 2
EXIT_EXPORT = 3


def main(argv: list[str]) -> int:
    # The log format is known before anything else, so even a configuration error is a proper line.
    log.configure(os.environ.get("DBT_LOG_FORMAT", settings.DBT_LOG_FORMAT))
    run = run_id.new()
    try:
        config = settings.load(run)
    except settings.ConfigurationError as error:
        log.error(f"FAILED: configuration: {error}")
        return EXIT_SETUP
    log.configure(config.log_format)
    if config.dbt_target:
        # The role decides the schemas (profiles.yml, generate_schema_name): the runner alone picks it.
        os.environ["DBT_TARGET"] = config.dbt_target
    if config.pr_number:
        os.environ["DBT_PR_NUMBER"] = config.pr_number
    if not config.deployment:
        where = "local run (ENV unset)"
    elif config.mode == "deploy":
        where = f"environment {config.environment}"
    else:
        pr = f" pull request {config.pr_number}" if config.pr_number else ""
        where = f"{config.mode} run{pr} on environment {config.environment}, target {config.dbt_target}"
    log.info(f"run {run}: {where}, project {config.project_dir}, artifacts to {config.artifacts_url}")

    failure: Outcome | None = None
    exit_code = 0
    if config.project_url:
        try:
            ci.fetch_project(config)
        except ci.SetupError as error:
            failure, exit_code = Outcome("project", False, str(error)), EXIT_SETUP
    # dbt resolves relative paths in profiles.yml (the local DuckDB file) against the working
    # directory: the repository root, as for the Makefile's dbt targets.
    config.project_dir.parent.mkdir(parents=True, exist_ok=True)
    os.chdir(config.project_dir.parent)
    artifacts.clear(config.target_dir, config.log_dir)
    if failure is None:
        try:
            if config.deployment:
                credentials.load(config.credentials_source)
            else:
                log.info("local run: no credentials fetched")
        except credentials.CredentialsError as error:
            failure, exit_code = Outcome("credentials", False, str(error)), EXIT_SETUP
    build_args = argv
    if failure is None and config.mode == "ci":
        try:
            build_args = ci.build_args(config, argv)
        except ci.SetupError as error:
            failure, exit_code = Outcome("state", False, str(error)), EXIT_SETUP
    if failure is None:
        failure = run_steps(config, build_args)
        exit_code = EXIT_STEP_FAILED if failure else 0

    export_error = ""
    try:
        files = artifacts.collect(config.target_dir, config.log_dir)
        artifacts.export(files, config.artifacts_url)
        if failure is None and config.latest_url:
            artifacts.export(files, config.latest_url)
    except artifacts.ExportError as error:
        export_error = str(error)

    if failure is not None:
        log.error(f"FAILED: step {failure.step}: {failure.reason}")
    if export_error:
        log.error(f"FAILED: artifacts export: {export_error}")
        return exit_code or EXIT_EXPORT
    if failure is None:
        log.info(f"run {run} passed" + (f": {config.mode} pull request {config.pr_number}" if config.pr_number else ""))
    return exit_code


def run_steps(config: settings.Settings, build_args: list[str]) -> Outcome | None:
    """Run the dbt steps; return the first failure, or None when all passed.

    Parse and the connection check stop the run: nothing else can work without them.
    A failed build still gets source freshness and docs, so the docs show the failure.
    """
    pipeline = Pipeline(
        config.project_dir, config.target_dir, config.log_format, build_args, config.fail_on_stale_sources
    )
    if config.mode in ("cleanup", "sweep"):
        macro, args = ci.operation(config)
        # A sweep has no pull request, and the ci target places nodes by one (generate_schema_name)
        # except in a run-operation: that invocation parses the project itself.
        steps = [lambda: pipeline.run_operation(macro, args)]
        if config.mode == "cleanup":
            steps.insert(0, pipeline.parse)
    elif config.mode == "ci":
        # A pull request's build: no freshness (the deployment's concern) and no docs site.
        steps = [pipeline.parse, pipeline.debug, pipeline.build]
    else:
        steps = [pipeline.parse, pipeline.debug, pipeline.build, pipeline.source_freshness, pipeline.docs_generate]
    failure = None
    for step in steps:
        outcome = step()
        for warning in outcome.warnings:
            log.warn(f"{outcome.step}: {warning}")
        if outcome.ok:
            log.info(f"step {outcome.step} passed")
            continue
        log.error(f"step {outcome.step} failed: {outcome.reason}")
        failure = failure or outcome
        if outcome.step in ("parse", "debug"):
            break
    return failure
