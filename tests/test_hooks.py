"""The pre-generation hook: every wrong answer is rejected, named, and leaves nothing behind."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks import pre_gen_project as hook
from tests.conftest import REPO_ROOT


def default_answers() -> dict[str, str]:
    answers = json.loads((REPO_ROOT / "cookiecutter.json").read_text())
    return {key: value for key, value in answers.items() if not key.startswith("_")}


def errors_for(**changes: object) -> list[str]:
    errors, _ = hook.validate({**default_answers(), **changes})
    return errors


def test_defaults_are_valid() -> None:
    assert errors_for() == []


def test_document_carries_parsed_environments_and_names() -> None:
    errors, document = hook.validate(default_answers())
    assert errors == []
    dev = document["environments"]["dev"]
    assert dev["account_id"] == "111111111111"
    # The connection is configuration; a cluster's host is looked up at run time.
    assert dev["warehouse"] == {
        "type": "provisioned", "id": "", "host": "", "port": 5439,
        "database": "analytics", "schema": "analytics", "user": "dbt_deploy", "ci_user": "dbt_ci",
    }  # fmt: skip
    assert document["gitlab"] is None
    assert dev["subnet_ids"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0a1b2c3d4e5f60719"]
    assert dev["security_group_ids"] == ["sg-0a1b2c3d4e5f60718"]
    assert dev["names"]["docs_bucket"] == "analytics-dbt-dev-docs-111111111111"
    assert list(document["environments"]) == ["dev", "live"]


def test_environments_keep_the_given_order() -> None:
    _, document = hook.validate(
        {
            **default_answers(),
            "environments": "live dev",
        }
    )
    assert list(document["environments"]) == ["live", "dev"]


def test_security_groups_optional_when_the_template_creates_one() -> None:
    assert errors_for(create_security_group="yes", security_group_ids="") == []
    assert any(e.startswith("security_group_ids:") for e in errors_for(security_group_ids=""))


# field, answers, a fragment of the expected message
INVALID = [
    ("project_name", {"project_name": "Analytics"}, "kebab-case"),
    ("project_name", {"project_name": "analytics_dbt"}, "kebab-case"),
    ("project_name", {"project_name": "analytics--dbt"}, "kebab-case"),
    ("project_name", {"project_name": "-analytics"}, "kebab-case"),
    ("project_name", {"project_name": "analytics-"}, "kebab-case"),
    ("project_name", {"project_name": "9lives"}, "kebab-case"),
    ("project_name", {"project_name": "ab"}, "at least 3"),
    ("project_name", {"project_name": "analytics.dbt"}, "kebab-case"),
    ("project_name", {"project_name": "a" * 45}, "docs_bucket"),
    ("project_name", {"project_name": "my project"}, "kebab-case"),
    ("description", {"description": ""}, "non-empty"),
    ("description", {"description": 'say "hi"'}, "double quotes"),
    ("owner", {"owner": "x" * 201}, "at most 200"),
    ("aws_region", {"aws_region": "europe-west1"}, "region"),
    ("aws_region", {"aws_region": "eu-west"}, "region"),
    ("aws_region", {"aws_region": "EU-WEST-1"}, "region"),
    ("environments", {"environments": ""}, "at least one"),
    ("environments", {"environments": "dev dev"}, "twice"),
    ("environments", {"environments": "Dev"}, "lowercase"),
    ("environments", {"environments": "local"}, "reserved"),
    ("environments", {"environments": "pre-prod"}, "lowercase"),
    ("environments", {"environments": "development1"}, "1-10"),
    ("aws_account_ids", {"aws_account_ids": "dev=11111111111 live=222222222222"}, "12 digits"),
    ("aws_account_ids", {"aws_account_ids": "dev=1111111111111 live=222222222222"}, "12 digits"),
    ("aws_account_ids", {"aws_account_ids": "dev=11111111111a live=222222222222"}, "12 digits"),
    ("aws_account_ids", {"aws_account_ids": "dev=111111111111"}, "'live' has no value"),
    ("aws_account_ids", {"aws_account_ids": "dev=111111111111 live=222222222222 qa=333333333333"}, "not in"),
    ("aws_account_ids", {"aws_account_ids": "dev=111111111111,333333333333 live=222222222222"}, "give one"),
    ("aws_account_ids", {"aws_account_ids": "111111111111"}, "must look like"),
    ("aws_account_ids", {"aws_account_ids": "dev=111111111111 dev=111111111111 live=222222222222"}, "twice"),
    ("subnet_ids", {"subnet_ids": "dev=subnet-0a1b2c3d live=subnet-0A1B2C3D"}, "lowercase hex"),
    ("subnet_ids", {"subnet_ids": "dev=subnet-0a1b2c3 live=subnet-0a1b2c3d"}, "8 or 17"),
    ("subnet_ids", {"subnet_ids": "dev=subnet-0a1b2c3d4e5f6071 live=subnet-0a1b2c3d"}, "8 or 17"),
    ("subnet_ids", {"subnet_ids": "dev=sg-0a1b2c3d live=subnet-0a1b2c3d"}, "'subnet-'"),
    ("subnet_ids", {"subnet_ids": "dev=subnet-0a1b2c3d,subnet-0a1b2c3d live=subnet-0a1b2c3e"}, "twice"),
    ("subnet_ids", {"subnet_ids": "dev= live=subnet-0a1b2c3d"}, "'dev' has no value"),
    ("security_group_ids", {"security_group_ids": "dev=sg-xyz live=sg-0a1b2c3d"}, "'sg-'"),
    ("security_group_ids", {"security_group_ids": "dev=subnet-0a1b2c3d live=sg-0a1b2c3d"}, "'sg-'"),
    ("security_group_ids", {"security_group_ids": "dev=sg-0a1b2c3d"}, "'live' has no value"),
    ("schedule", {"schedule": "0 12 * *"}, "five cron fields"),
    ("schedule", {"schedule": "60 12 * * *"}, "minute"),
    ("schedule", {"schedule": "0 24 * * *"}, "hour"),
    ("schedule", {"schedule": "0 12 0 * *"}, "day of month"),
    ("schedule", {"schedule": "0 12 * 13 *"}, "month"),
    ("schedule", {"schedule": "0 12 * * 8"}, "day of week"),
    ("schedule", {"schedule": "*/0 * * * *"}, "minute"),
    ("schedule", {"schedule": "5-1 * * * *"}, "minute"),
    ("schedule", {"schedule": "@sometimes"}, "five cron fields"),
    ("fargate_cpu", {"fargate_cpu": "300"}, "must be one of"),
    ("fargate_cpu", {"fargate_cpu": "half"}, "must be one of"),
    ("fargate_memory", {"fargate_cpu": "256", "fargate_memory": "4096"}, "Fargate accepts"),
    ("fargate_memory", {"fargate_cpu": "1024", "fargate_memory": "1024"}, "Fargate accepts"),
    ("fargate_memory", {"fargate_cpu": "8192", "fargate_memory": "17408"}, "Fargate accepts"),
    ("cpu_architecture", {"cpu_architecture": "arm64"}, "X86_64, ARM64"),
    ("credentials_source", {"credentials_source": "vault"}, "must be one of"),
    ("ci_provider", {"ci_provider": "jenkins"}, "must be one of"),
    ("notifications", {"notifications": "email"}, "must be one of"),
    ("create_security_group", {"create_security_group": "true"}, "yes, no"),
    ("use_fargate_spot", {"use_fargate_spot": "y"}, "yes, no"),
    ("airflow_deferrable", {"airflow_deferrable": "True"}, "yes, no"),
    ("sandbox_user_suffix", {"sandbox_user_suffix": "1"}, "yes, no"),
    ("fail_on_stale_sources", {"fail_on_stale_sources": "maybe"}, "yes, no"),
    ("dbt_log_format", {"dbt_log_format": "xml"}, "text, json"),
    ("github_repository", {"github_repository": "no-slash"}, "owner/name"),
    ("github_repository", {"github_repository": "org/repo/extra"}, "owner/name"),
    ("warehouse_type", {"warehouse_type": "dedicated"}, "provisioned, serverless"),
    ("warehouse_ids", {"warehouse_ids": "dev=Analytics live=analytics"}, "cluster identifier"),
    ("warehouse_ids", {"warehouse_ids": "dev=ana--lytics live=analytics"}, "no '--'"),
    ("warehouse_ids", {"warehouse_ids": "dev=analytics- live=analytics"}, "not ending with '-'"),
    ("warehouse_ids", {"warehouse_ids": "dev=a,b live=analytics"}, "give one"),
    ("warehouse_ids", {"warehouse_ids": "qa=analytics"}, "not in environments"),
    ("warehouse_ids", {"warehouse_type": "serverless", "warehouse_ids": "dev=wg live=wg-live"}, "workgroup name"),
    ("warehouse_database", {"warehouse_database": "Analytics"}, "database identifier"),
    ("warehouse_schema", {"warehouse_schema": "my-schema"}, "database identifier"),
    ("warehouse_user", {"warehouse_user": "1dbt"}, "database identifier"),
    ("gitlab_project_path", {"ci_provider": "gitlab", "gitlab_project_path": "no-group"}, "group/project"),
    ("gitlab_url", {"ci_provider": "gitlab", "gitlab_url": "http://gitlab.example.com"}, "https://"),
]


@pytest.mark.parametrize(
    ("field", "changes", "fragment"),
    INVALID,
    ids=[f"{field}-{i}" for i, (field, _, _) in enumerate(INVALID)],
)
def test_invalid_answer_is_rejected_and_nothing_is_written(
    field: str, changes: dict[str, str], fragment: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FailedHookException):
        cookiecutter(str(REPO_ROOT), no_input=True, extra_context=changes, output_dir=str(tmp_path))
    stderr = capfd.readouterr().err
    messages = [line.strip()[2:] for line in stderr.splitlines() if line.strip().startswith("- ")]
    assert any(m.startswith(f"{field}:") and fragment in m for m in messages), stderr
    assert list(tmp_path.iterdir()) == [], "a rejected bake must leave no directory behind"
    assert "Traceback" not in stderr


def test_invalid_answer_table_is_broad() -> None:
    assert len(INVALID) >= 40
    covered = {field for field, _, _ in INVALID}
    asked = {key for key in default_answers()}
    assert asked - covered == set(), f"answers without an invalid case: {asked - covered}"


def test_a_warehouse_left_out_is_a_todo_named_after_the_bake(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    project = Path(
        cookiecutter(str(REPO_ROOT), no_input=True, extra_context={"warehouse_ids": "dev=analytics-dev"},
                     output_dir=str(tmp_path))
    )  # fmt: skip
    document = json.loads((project / "environments.json").read_text())
    assert document["environments"]["dev"]["warehouse"]["id"] == "analytics-dev"
    assert document["environments"]["live"]["warehouse"]["id"] == ""
    assert "TODO: environments.json has no warehouse for live: set" in capfd.readouterr().out


def test_serverless_host_is_derived_from_the_workgroup() -> None:
    errors, document = hook.validate(
        {**default_answers(), "warehouse_type": "serverless", "warehouse_ids": "dev=wg-dev live=wg-live"}
    )
    assert errors == []
    warehouse = document["environments"]["live"]["warehouse"]
    assert warehouse["host"] == "wg-live.222222222222.eu-west-1.redshift-serverless.amazonaws.com"


def test_gitlab_project_and_instance_reach_environments_json() -> None:
    errors, document = hook.validate({**default_answers(), "ci_provider": "gitlab"})
    assert errors == []
    assert document["gitlab"] == {"url": "https://gitlab.com", "project_path": "example-group/analytics-dbt"}
    assert document["github_repository"] is None


def test_every_error_is_reported_at_once() -> None:
    errors = errors_for(project_name="Bad", aws_region="nowhere", schedule="x", fargate_cpu="1", ci_provider="svn")
    fields = {error.split(":", 1)[0] for error in errors}
    assert {"project_name", "aws_region", "schedule", "fargate_cpu", "ci_provider"} <= fields


def test_non_string_answers_from_a_config_file_are_named() -> None:
    errors = errors_for(environments=["dev", "live"], subnet_ids={"dev": ["subnet-0a1b2c3d"]})
    assert any(e.startswith("environments:") and "not a string" in e for e in errors)
    assert any(e.startswith("subnet_ids:") and "not a string" in e for e in errors)


# ---- property-based: valid answers are accepted, near misses rejected --------

hex_id = st.sampled_from([8, 17]).flatmap(lambda n: st.text("0123456789abcdef", min_size=n, max_size=n))
env_name = st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True).filter(lambda s: s != hook.RESERVED_ENVIRONMENT)
project = st.from_regex(r"[a-z][a-z0-9]{2,8}(-[a-z0-9]{1,6}){0,2}", fullmatch=True)


@st.composite
def valid_answers(draw: st.DrawFn) -> dict[str, str]:
    envs = draw(st.lists(env_name, min_size=1, max_size=4, unique=True))
    cpu = draw(st.sampled_from(sorted(hook.FARGATE_MEMORY)))
    answers = default_answers()
    answers.update(
        project_name=draw(project),
        environments=" ".join(envs),
        aws_account_ids=" ".join(f"{e}={draw(st.from_regex(r'[0-9]{12}', fullmatch=True))}" for e in envs),
        subnet_ids=" ".join(
            f"{e}=" + ",".join(f"subnet-{h}" for h in draw(st.lists(hex_id, min_size=1, max_size=3, unique=True)))
            for e in envs
        ),
        security_group_ids=" ".join(
            f"{e}=" + ",".join(f"sg-{h}" for h in draw(st.lists(hex_id, min_size=1, max_size=3, unique=True)))
            for e in envs
        ),
        # Valid both as a cluster identifier and as a workgroup name: warehouse_type is drawn below.
        warehouse_ids=" ".join(f"{e}={draw(st.from_regex(r'[a-z][a-z0-9]{2,20}', fullmatch=True))}" for e in envs),
        fargate_cpu=str(cpu),
        fargate_memory=str(draw(st.sampled_from(hook.FARGATE_MEMORY[cpu]))),
        schedule=draw(
            st.sampled_from(["0 12 * * *", "*/15 * * * *", "0 6 * * MON-FRI", "30 2 1 JAN,JUL *", "5/10 0-6 * * 0"])
        ),
        aws_region=draw(st.sampled_from(["eu-west-1", "us-east-2", "ap-southeast-2", "eu-central-1", "sa-east-1"])),
    )
    for field, choices in hook.CHOICES.items():
        answers[field] = draw(st.sampled_from(choices))
    return answers


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(valid_answers())
def test_valid_answers_are_accepted(answers: dict[str, str]) -> None:
    errors, document = hook.validate(answers)
    assert errors == []
    assert list(document["environments"]) == answers["environments"].split()


def break_entry(value: str, env: str, prefix: str, insert: str) -> str:
    """Insert a wrong character right after ``env=<prefix>`` in that environment's entry only."""
    entries = value.split()
    index = next(i for i, entry in enumerate(entries) if entry.startswith(f"{env}="))
    entries[index] = entries[index].replace(f"{env}={prefix}", f"{env}={prefix}{insert}", 1)
    return " ".join(entries)


NEAR_MISSES = {
    "aws_account_ids": lambda value, env: break_entry(value, env, "", "9"),
    "subnet_ids": lambda value, env: break_entry(value, env, "subnet-", "g"),
    "security_group_ids": lambda value, env: break_entry(value, env, "sg-", "X"),
    "warehouse_ids": lambda value, env: break_entry(value, env, "", "_"),
}


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(valid_answers(), st.sampled_from(sorted(NEAR_MISSES)), st.data())
def test_near_miss_per_environment_answers_are_rejected(
    answers: dict[str, str], field: str, data: st.DataObject
) -> None:
    env = data.draw(st.sampled_from(answers["environments"].split()))
    broken = {**answers, field: NEAR_MISSES[field](answers[field], env)}
    errors, _ = hook.validate(broken)
    assert any(e.startswith(f"{field}:") and f"'{env}'" in e for e in errors), errors


@settings(max_examples=100, deadline=None)
@given(
    valid_answers(),
    st.sampled_from(
        [
            ("project_name", lambda v: v.upper()),
            ("project_name", lambda v: v + "_x"),
            ("environments", lambda v: v + " " + v.split()[0]),
            ("environments", lambda v: v + " local"),
            ("schedule", lambda v: v + " *"),
            ("aws_region", lambda v: v.replace("-", "_")),
            ("fargate_memory", lambda v: str(int(v) + 1)),
            ("warehouse_user", lambda v: v + "-x"),
            ("warehouse_database", lambda v: v.upper()),
        ]
    ),
)
def test_near_miss_single_answers_are_rejected(answers: dict[str, str], mutation: tuple) -> None:
    field, mutate = mutation
    errors, _ = hook.validate({**answers, field: mutate(answers[field])})
    assert any(e.startswith(f"{field}:") for e in errors), errors


@given(st.text(alphabet=string.printable, max_size=30))
def test_cron_checker_never_crashes(text: str) -> None:
    errors: list[str] = []
    hook.check_cron(text, errors)
    assert all(e.startswith("schedule:") for e in errors)
