"""checkov over the whole generated repository, every framework, as a team would run it.

`checkov -d .` in a baked project must find nothing: no failed check in any
framework (Terraform, Dockerfile, GitHub Actions or GitLab CI, secrets, ...).
The few false positives are suppressed in the project's .checkov.yaml, each one
check on named files with its reason; this test holds them to that.
"""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import bake, require_venv_python

# The frameworks that must have scanned something: a framework that silently
# found no files would pass without proving anything.
EXPECTED_FRAMEWORKS = {
    "github": {"terraform", "dockerfile", "secrets", "github_actions"},
    "gitlab": {"terraform", "dockerfile", "secrets", "gitlab_ci"},
}


def run_checkov(project: Path) -> list[dict[str, Any]]:
    checkov = require_venv_python("checkov", "venv-checkov").parent / "checkov"
    # No --framework: everything checkov knows. The working directory is outside the
    # project, so checkov finds .checkov.yaml the way it documents: in the -d directory.
    result = subprocess.run(
        [str(checkov), "-d", str(project), "--quiet", "--skip-download", "-o", "json"],
        cwd=project.parent,
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"checkov printed no JSON (exit {result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        (report["check_type"], check["check_id"], check["file_path"], check.get("file_line_range"))
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, f"checkov failed checks in {project}: {failed}"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return reports


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[dict[str, Any]]]]:
    """checkov's JSON reports for the default bake (GitHub) and the GitLab bake, scanned side by side."""
    projects = {
        "github": bake(tmp_path_factory.mktemp("checkov-github")),
        "gitlab": bake(tmp_path_factory.mktemp("checkov-gitlab"), ci_provider="gitlab"),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(run_checkov, project) for name, project in projects.items()}
        return {name: (projects[name], future.result()) for name, future in futures.items()}


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_checkov_over_the_whole_repository_fails_nothing(reports, provider: str) -> None:
    _, found = reports[provider]
    summaries = {report["check_type"]: report["summary"] for report in found}
    assert EXPECTED_FRAMEWORKS[provider] <= set(summaries), f"frameworks scanned: {sorted(summaries)}"
    for framework, summary in summaries.items():
        assert summary["failed"] == 0, f"{framework}: {summary}"
        assert summary["parsing_errors"] == 0, f"{framework} could not parse a file: {summary}"
    assert sum(summary["passed"] for summary in summaries.values()) > 0


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_config_suppressions_are_scoped_to_files_and_explained(reports, provider: str) -> None:
    project, found = reports[provider]
    text = (project / ".checkov.yaml").read_text()
    config = yaml.safe_load(text)
    assert set(config) == {"skip-check"}, "no skip-path, no framework filter: only scoped skips"
    scoped = {}
    for entry in config["skip-check"]:
        # CHECK_ID:path-regex, never a bare check id, which would switch the check off everywhere.
        check_id, _, pattern = entry.partition(":")
        assert re.fullmatch(r"CKV_[A-Z0-9]+_\d+", check_id) and pattern, f"{entry!r} is not scoped to files"
        scoped.setdefault(check_id, []).append(re.compile(pattern))
        # The reason sits in the comment block right above the list.
    assert re.search(r"(?m)^\s*#.*\n\s*-\s", text), "each suppression needs its reason in a comment"
    # Whatever checkov skipped on account of the config is one of those checks, on a matching file.
    for report in found:
        if report["check_type"] == "terraform":
            continue  # inline `checkov:skip` with reasons; tests/test_terraform.py holds those
        for check in report.get("results", {}).get("skipped_checks", []):
            patterns = scoped.get(check["check_id"], [])
            path = check["file_path"].lstrip("/")
            assert any(p.search(path) for p in patterns), f"unexpected skip: {check['check_id']} on {path}"
