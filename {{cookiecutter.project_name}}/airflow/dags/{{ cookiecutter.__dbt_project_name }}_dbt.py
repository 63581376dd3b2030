"""Run {{ cookiecutter.project_name }}'s dbt image on ECS Fargate, on schedule, in whichever environment this Airflow is.

The same file deploys unchanged to every environment. Parsing it reads two local things
and nothing else (no AWS call, no metadata database, no network):

- the Airflow configuration option ``[{{ cookiecutter.__dbt_project_name }}] environment`` (on MWAA the custom
  configuration option ``{{ cookiecutter.__dbt_project_name }}.environment``; anywhere else the environment
  variable ``AIRFLOW__{{ cookiecutter.__dbt_project_name | upper }}__ENVIRONMENT``): which environment this is;
- ``{{ cookiecutter.__dbt_project_name }}_environments.json`` beside this file, the copy of the repository's
  ``environments.json`` that ``make deploy-dag`` uploads with it (in the repository itself, the
  original two folders up): that environment's cluster, task definition family, container,
  log group, subnets and security groups.

AWS credentials come from the Airflow connection ``aws_default``; to act in another account it
carries a ``role_arn`` extra, so there is no STS code here (see README.md, "Airflow").
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

try:  # Airflow 3: the task SDK is the DAG author's interface.
    from airflow.sdk import DAG, Param, conf
except ImportError:  # Airflow 2.10
    from airflow.configuration import conf
    from airflow.models.dag import DAG
    from airflow.models.param import Param
{%- if cookiecutter.notifications == "slack" %}
from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
{%- elif cookiecutter.notifications == "sns" %}
from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
{%- endif %}

PROJECT = "{{ cookiecutter.project_name }}"
CONFIG_SECTION = "{{ cookiecutter.__dbt_project_name }}"
# Deployed: the copy beside this file. In the repository (dag-check, tests): environments.json itself.
ENVIRONMENTS_FILES = (
    Path(__file__).with_name("{{ cookiecutter.__dbt_project_name }}_environments.json"),
    Path(__file__).resolve().parents[2] / "environments.json",
)
# awslogs-stream-prefix of the task definition's log configuration (terraform/modules/dbt_task):
# ECS names each stream <prefix>/<container>/<task id>.
TASK_LOG_STREAM_PREFIX = "ecs"


def environment_settings() -> tuple[str, str, dict]:
    """This Airflow's environment name, the AWS region and that environment's entry of environments.json."""
    found = [path for path in ENVIRONMENTS_FILES if path.is_file()]
    if not found:
        raise FileNotFoundError(f"{ENVIRONMENTS_FILES[0].name} is missing beside the DAG; deploy with make deploy-dag")
    document = json.loads(found[0].read_text(encoding="utf-8"))
    known = " ".join(document["environments"])
    name = conf.get(CONFIG_SECTION, "environment", fallback=None)
    if not name:
        # Fail the parse loudly: a DAG that guessed its environment could run live from dev.
        raise ValueError(
            f"set the Airflow configuration option [{CONFIG_SECTION}] environment to one of: {known} "
            f"(MWAA: custom option {CONFIG_SECTION}.environment; "
            f"elsewhere: AIRFLOW__{CONFIG_SECTION.upper()}__ENVIRONMENT)"
        )
    if name not in document["environments"]:
        raise ValueError(f"[{CONFIG_SECTION}] environment is {name!r}; {found[0].name} knows: {known}")
    return name, document["aws_region"], document["environments"][name]


ENVIRONMENT, REGION, SETTINGS = environment_settings()
NAMES = SETTINGS["names"]
{%- if cookiecutter.create_security_group == "yes" %}
# Terraform creates the task's security group, so its ID is known only after the first apply:
# set the Airflow Variable {{ cookiecutter.__dbt_project_name }}_security_group_ids to Terraform's output
# (comma-separated). It is read when the task runs, never when the file is parsed.
SECURITY_GROUPS_VARIABLE = "{{ cookiecutter.__dbt_project_name }}_security_group_ids"
SECURITY_GROUPS = SETTINGS["security_group_ids"] or "{% raw %}{{ var.value.{% endraw %}" + SECURITY_GROUPS_VARIABLE + "{% raw %}.split(',') }}{% endraw %}"
{%- else %}
SECURITY_GROUPS = SETTINGS["security_group_ids"]
{%- endif %}
{%- if cookiecutter.notifications == "slack" %}

# The webhook URL is a secret: it lives in this Airflow connection (type "Slack Incoming Webhook").
SLACK_CONNECTION = "{{ cookiecutter.__dbt_project_name }}_slack"
notify_failure = SlackWebhookNotifier(
    slack_webhook_conn_id=SLACK_CONNECTION,
    text=(
        f":red_circle: {PROJECT} dbt failed in {ENVIRONMENT}: "
        "{% raw %}{{ ti.dag_id }}.{{ ti.task_id }}, run {{ run_id }}, try {{ ti.try_number }}. "
        "Log: {{ ti.log_url }}{% endraw %}"
    ),
)
{%- elif cookiecutter.notifications == "sns" %}

# The topic Terraform creates in each environment's account; subscribe people or chat to it there.
ALERTS_TOPIC_ARN = f"arn:aws:sns:{REGION}:{SETTINGS['account_id']}:{NAMES['alerts_topic']}"
notify_failure = SnsNotifier(
    target_arn=ALERTS_TOPIC_ARN,
    region_name=REGION,
    subject=f"{PROJECT} dbt failed in {ENVIRONMENT}",
    message=(
        f"{PROJECT} dbt failed in {ENVIRONMENT}: "
        "{% raw %}{{ ti.dag_id }}.{{ ti.task_id }}, run {{ run_id }}, try {{ ti.try_number }}.\n"
        "Log: {{ ti.log_url }}{% endraw %}"
    ),
)
{%- endif %}

default_args = {
    "owner": "{{ cookiecutter.owner.split('<')[0].strip() }}",
    # A retry reattaches to the task still running (reattach=True) instead of starting another dbt.
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    # A dbt run past this is stuck, not slow; the operator stops the ECS task on timeout.
    "execution_timeout": timedelta(hours=3),
{%- if cookiecutter.notifications != "none" %}
    # After the last retry only: a retry that succeeds is not worth waking anyone.
    "on_failure_callback": [notify_failure],
{%- endif %}
}

with DAG(
    dag_id="{{ cookiecutter.__dbt_project_name }}_dbt",
    description="{{ cookiecutter.description }}",
    doc_md=__doc__,
    schedule="{{ cookiecutter.schedule }}",
    start_date=datetime(2025, 1, 1),
    # dbt builds the current state of the warehouse: one run catches up everything missed.
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    params={
        "dbt_args": Param(
            "",
            type="string",
            description="Arguments for `dbt build` in this run, e.g. --select orders+ (empty: everything).",
        ),
    },
    # Templates render to Python objects, so the dbt arguments reach ECS as a list.
    render_template_as_native_obj=True,
    user_defined_filters={"shlex_split": shlex.split},
    tags=["dbt", "ecs", ENVIRONMENT],
) as dag:
    EcsRunTaskOperator(
        task_id="dbt_build",
        region_name=REGION,
        cluster=NAMES["ecs_cluster"],
        # The family alone: ECS runs its latest active revision, the one Terraform deployed last.
        task_definition=NAMES["task_family"],
{%- if cookiecutter.use_fargate_spot == "yes" %}
        # Spot capacity: cheaper, and an interrupted run is retried like any other failure.
        launch_type=None,
        capacity_provider_strategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
{%- else %}
        launch_type="FARGATE",
{%- endif %}
        network_configuration={
            "awsvpcConfiguration": {
                "subnets": SETTINGS["subnet_ids"],
                "securityGroups": SECURITY_GROUPS,
                # Private subnets: the task reaches AWS and the warehouse through NAT or endpoints.
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={
            "containerOverrides": [
                {
                    "name": NAMES["container"],
                    "environment": [{"name": "ENV", "value": ENVIRONMENT}],
                    "command": "{% raw %}{{ params.dbt_args | shlex_split }}{% endraw %}",
                }
            ]
        },
        container_name=NAMES["container"],
        # The container's CloudWatch stream, copied into this task's log.
        awslogs_group=NAMES["log_group"],
        awslogs_region=REGION,
        awslogs_stream_prefix=f"{TASK_LOG_STREAM_PREFIX}/{NAMES['container']}",
        reattach=True,
        wait_for_completion=True,
        deferrable={{ "True" if cookiecutter.airflow_deferrable == "yes" else "False" }},
        propagate_tags="TASK_DEFINITION",
    )
