"""Baking the template: defaults, every option on its own, the pairs that interact, determinism."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from hooks import post_gen_project, pre_gen_project
from tests.conftest import bake

UNRENDERED = re.compile(rb"\{\{\s*cookiecutter\.|\{%-?\s*(if|for|raw)\b[^%]*cookiecutter\.")

# Every non-default value of every answer, one bake each.
OPTIONS = [
    {
        "environments": "prod",
        "aws_account_ids": "prod=333333333333",
        "subnet_ids": "prod=subnet-0a1b2c3d",
        "security_group_ids": "prod=sg-0a1b2c3d",
    },
    {
        "environments": "dev staging live",
        "aws_account_ids": "dev=111111111111 staging=333333333333 live=222222222222",
        "subnet_ids": "dev=subnet-0a1b2c3d staging=subnet-1a1b2c3d live=subnet-2a1b2c3d",
        "security_group_ids": "dev=sg-0a1b2c3d staging=sg-1a1b2c3d live=sg-2a1b2c3d",
    },
    {"project_name": "sales-marts-2"},
    {"aws_region": "us-east-2"},
    {"schedule": "*/30 6-18 * * MON-FRI"},
    {"fargate_cpu": "2048", "fargate_memory": "8192"},
    *({field: choice} for field, choices in pre_gen_project.CHOICES.items() for choice in choices[1:]),
]

# Answers whose effects meet in the same files.
PAIRS = [
    {"create_security_group": "yes", "security_group_ids": ""},
    {"use_fargate_spot": "yes", "airflow_deferrable": "yes"},
    {"credentials_source": "ecs_secrets", "cpu_architecture": "ARM64"},
    {"credentials_source": "glue_connection", "notifications": "sns"},
    {"ci_provider": "gitlab", "notifications": "slack"},
    {"ci_provider": "none", "credentials_source": "ssm_parameter_store"},
    {"fail_on_stale_sources": "yes", "dbt_log_format": "json"},
    {
        "sandbox_user_suffix": "no",
        "environments": "prod",
        "aws_account_ids": "prod=333333333333",
        "subnet_ids": "prod=subnet-0a1b2c3d",
        "security_group_ids": "prod=sg-0a1b2c3d",
    },
]


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() + oct(path.stat().st_mode)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def assert_fully_rendered(project: Path) -> None:
    leftovers = [
        str(p.relative_to(project)) for p in project.rglob("*") if p.is_file() and UNRENDERED.search(p.read_bytes())
    ]
    assert leftovers == [], f"unrendered cookiecutter variables in {leftovers}"
    names = [str(p.relative_to(project)) for p in project.rglob("*") if "cookiecutter" in p.name]
    assert names == [], f"unrendered file names: {names}"


def assert_matches_answers(project: Path, answers: dict[str, str]) -> None:
    document = json.loads((project / "environments.json").read_text())
    merged = {**answers}
    assert list(document["environments"]) == merged.get("environments", "dev live").split()
    for path in post_gen_project.paths_to_remove({"ci_provider": "github", **answers}):
        assert not (project / path).exists(), f"{path} should have been removed"


def test_default_bake(default_project: Path) -> None:
    assert default_project.name == "analytics-dbt"
    assert_fully_rendered(default_project)
    assert_matches_answers(default_project, {})
    for expected in ("README.md", "Makefile", ".gitignore", "environments.json"):
        assert (default_project / expected).is_file(), expected


@pytest.mark.parametrize("answers", OPTIONS + PAIRS, ids=lambda a: ",".join(f"{k}={v}" for k, v in a.items())[:60])
def test_bake_with_option(answers: dict[str, str], tmp_path: Path) -> None:
    project = bake(tmp_path, **answers)
    assert_fully_rendered(project)
    assert_matches_answers(project, answers)


def test_bake_is_deterministic(tmp_path: Path) -> None:
    first = tree_digest(bake(tmp_path / "one"))
    second = tree_digest(bake(tmp_path / "two"))
    assert first == second


def test_post_gen_removes_only_the_unchosen_ci() -> None:
    assert ".github" not in post_gen_project.paths_to_remove({"ci_provider": "github"})
    assert ".gitlab-ci.yml" in post_gen_project.paths_to_remove({"ci_provider": "github"})
    assert {".github", ".gitlab-ci.yml"} <= set(post_gen_project.paths_to_remove({"ci_provider": "none"}))
