"""One run: credentials, then parse, debug, build, source freshness and docs, then export.

Exit codes: 0 every step passed; 1 a dbt step failed; 2 the runner is misconfigured or
the credentials could not be read; 3 the artifacts could not be exported. The artifacts
are exported whatever happened before, and the last line says what failed and why.
"""

from __future__ import annotations

import os

from runner import artifacts, credentials, log, run_id, settings
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
    where = f"environment {config.environment}" if config.deployment else "local run (ENV unset)"
    log.info(f"run {run}: {where}, project {config.project_dir}, artifacts to {config.artifacts_url}")

    # dbt resolves relative paths in profiles.yml (the local DuckDB file) against the working
    # directory: the repository root, as for the Makefile's dbt targets.
    os.chdir(config.project_dir.parent)
    artifacts.clear(config.target_dir, config.log_dir)
    failure: Outcome | None = None
    exit_code = 0
    try:
        if config.deployment:
            credentials.load(config.credentials_source)
        else:
            log.info("local run: no credentials fetched")
    except credentials.CredentialsError as error:
        failure, exit_code = Outcome("credentials", False, str(error)), EXIT_SETUP
    if failure is None:
        failure = run_steps(config, argv)
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
        log.info(f"run {run} passed")
    return exit_code


def run_steps(config: settings.Settings, build_args: list[str]) -> Outcome | None:
    """Run the dbt steps; return the first failure, or None when all passed.

    Parse and the connection check stop the run: nothing else can work without them.
    A failed build still gets source freshness and docs, so the docs show the failure.
    """
    pipeline = Pipeline(
        config.project_dir, config.target_dir, config.log_format, build_args, config.fail_on_stale_sources
    )
    failure = None
    for step in (pipeline.parse, pipeline.debug, pipeline.build, pipeline.source_freshness, pipeline.docs_generate):
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
