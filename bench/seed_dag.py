"""The source article's DAG pattern, for the import benchmark: an AWS call at module level.

Airflow imports every DAG file again and again (on each parse of the DAG folder), so this
STS call runs on every parse; without credentials it first probes the instance metadata
service, then fails the import. Only the module-level part matters to the benchmark.
"""

import os
from datetime import datetime, timedelta

import boto3
from airflow import DAG
from airflow.providers.standard.operators.python import PythonOperator

PROJECT_NAME = "my-dbt-project"
REGION = os.getenv("AWS_REGION", os.getenv("AWS_DEFAULT_REGION", "eu-west-1"))
ACCOUNT_ID = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
ROLE_TO_ASSUME = f"arn:aws:iam::{ACCOUNT_ID}:role/DBTServiceRole-{PROJECT_NAME}"


def run_ecs_task(jobname: str) -> None:
    raise NotImplementedError(jobname)


with DAG(
    dag_id=f"{PROJECT_NAME}-seed",
    schedule="0 12 * * *",
    start_date=datetime(2022, 12, 1),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    PythonOperator(task_id="run_dbt", python_callable=run_ecs_task, op_kwargs={"jobname": "todo"})
