"""Load and run the generated DAG inside one of the Airflow virtualenvs (.venvs/airflow2, airflow3).

Run by tests/test_airflow.py as a subprocess with AIRFLOW_HOME in a temporary directory; prints
one JSON document on its last line of stdout.

usage:
  run_dag.py integrity DAGS_DIR...
      DagBag over each DAGS_DIR with every socket connect refused and no AWS credentials:
      import errors, import seconds and the DAG's settings; then the first one again without
      the environment option, which must be an import error.
  run_dag.py run DAGS_DIR EXIT_CODE DBT_ARGS
      The DAG's run against an in-process moto server, with the ECS container played by
      fake_container (exiting EXIT_CODE), through dag.test(). Failure notifiers are built
      as the DAG declares them; their hooks' send methods are mocks, so nothing is sent.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

HERE = Path(__file__).resolve().parent
AIRFLOW_2 = __import__("airflow").__version__.startswith("2.")
LOG_LINES = ["dbt-container: Running with dbt=1.11", "dbt-container: Completed successfully PASS=7"]


def load_dagbag(dags_dir: str):
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
    except ImportError:
        from airflow.models.dagbag import DagBag
    kwargs = {"dag_folder": dags_dir}
    if "include_examples" in DagBag.__init__.__code__.co_varnames:
        kwargs["include_examples"] = False
    start = time.perf_counter()
    bag = DagBag(**kwargs)
    return bag, time.perf_counter() - start


def describe(dag) -> dict:
    task = dag.tasks[0]
    return {
        "tasks": [t.task_id for t in dag.tasks],
        "operator": type(task).__name__,
        "retries": task.retries,
        "retry_delay": task.retry_delay.total_seconds(),
        "execution_timeout": task.execution_timeout.total_seconds() if task.execution_timeout else None,
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "tags": sorted(dag.tags),
        # The argument as given: `schedule` on Airflow 3, `schedule_interval` on 2.
        "schedule": getattr(dag, "schedule_interval", None) if AIRFLOW_2 else dag.schedule,
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "doc_md": bool(dag.doc_md),
        "params": sorted(dag.params.keys()),
        "cluster": task.cluster,
        "task_definition": task.task_definition,
        "launch_type": task.launch_type,
        "capacity_provider_strategy": task.capacity_provider_strategy,
        "network_configuration": task.network_configuration,
        "container_name": task.container_name,
        "awslogs_group": task.awslogs_group,
        "awslogs_stream_prefix": task.awslogs_stream_prefix,
        "reattach": task.reattach,
        "deferrable": task.deferrable,
        "wait_for_completion": task.wait_for_completion,
        "overrides": task.overrides,
        "on_failure_callback": [notifier_target(n) for n in (task.on_failure_callback or [])],
    }


def notifier_target(notifier) -> dict:
    """What a failure notifier would send to, without sending anything."""
    return {
        "class": type(notifier).__name__,
        "slack_webhook_conn_id": getattr(notifier, "slack_webhook_conn_id", None),
        "target_arn": getattr(notifier, "target_arn", None),
        "region_name": getattr(notifier, "region_name", None),
    }


def integrity(dags_dirs: list[str]) -> dict:
    assert not any(k.startswith("AWS_") for k in os.environ), "the integrity check runs without AWS settings"

    def refuse(*args, **kwargs):
        raise OSError(f"network access while parsing the DAG: {args!r}")

    results = {}
    with mock.patch.object(socket.socket, "connect", refuse), mock.patch.object(socket, "getaddrinfo", refuse):
        for dags_dir in dags_dirs:
            # The first fill imports Airflow's and the provider's modules too (a fresh parser
            # process); the second is what every later re-parse of the file costs.
            bag, cold = load_dagbag(dags_dir)
            _, warm = load_dagbag(dags_dir)
            results[dags_dir] = {
                "import_seconds_cold": cold,
                "import_seconds_warm": warm,
                "import_errors": {path: str(error) for path, error in bag.import_errors.items()},
                "dags": {dag_id: describe(dag) for dag_id, dag in bag.dags.items()},
            }
        # Without the environment option the DAG must refuse to load, loudly.
        (variable,) = [k for k in os.environ if k.startswith("AIRFLOW__") and k.endswith("__ENVIRONMENT")]
        value = os.environ.pop(variable)
        bag, _ = load_dagbag(dags_dirs[0])
        os.environ[variable] = value
        results["without_environment"] = {path: str(error) for path, error in bag.import_errors.items()}
    return results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_aws_resources(environments: dict, environment: str) -> None:
    """What Terraform creates in the account, as far as the task run needs it."""
    import boto3

    settings = environments["environments"][environment]
    names = settings["names"]
    region = environments["aws_region"]
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # As for interface endpoints (ECR, logs, secrets) in private subnets; moto's awsvpc tasks need it too.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="dbt", Description="dbt task", VpcId=vpc)["GroupId"]
    ecs = boto3.client("ecs", region_name=region)
    ecs.create_cluster(clusterName=names["ecs_cluster"], capacityProviders=["FARGATE", "FARGATE_SPOT"])
    ecs.register_task_definition(
        family=names["task_family"],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="512",
        memory="1024",
        containerDefinitions=[
            {
                "name": names["container"],
                "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/dbt:latest",
                "essential": True,
                # moto sums container-level sizes; Fargate needs only the task-level ones.
                "cpu": 512,
                "memory": 1024,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": names["log_group"],
                        "awslogs-region": region,
                        "awslogs-stream-prefix": "ecs",
                    },
                },
            }
        ],
    )
    boto3.client("logs", region_name=region).create_log_group(logGroupName=names["log_group"])
    return {"subnet": subnet, "security_group": group}


def dag_prefix(dags_dir: str) -> str:
    """The dbt project name the DAG's file names start with."""
    return next(Path(dags_dir).glob("*_dbt.py")).name.removesuffix("_dbt.py")


def deploy_copy(dags_dir: str, environments: dict, environment: str, created: dict) -> str:
    """The DAG folder as `make deploy-dag` ships it, environments.json copied beside the DAG; the
    environment's answers being the subnet and security group that exist in moto."""
    target = Path(os.environ["AIRFLOW_HOME"]) / "dags"
    shutil.copytree(dags_dir, target, dirs_exist_ok=True)
    settings = environments["environments"][environment]
    settings["subnet_ids"] = [created["subnet"]]
    if settings["security_group_ids"]:
        settings["security_group_ids"] = [created["security_group"]]
    else:
        # create_security_group=yes: the DAG takes Terraform's group from an Airflow Variable at run time.
        os.environ[f"AIRFLOW_VAR_{dag_prefix(dags_dir).upper()}_SECURITY_GROUP_IDS"] = created["security_group"]
    (target / f"{dag_prefix(dags_dir)}_environments.json").write_text(json.dumps(environments))
    return str(target)


def run(dags_dir: str, exit_code: int, dbt_args: str) -> dict:
    from moto.server import ThreadedMotoServer

    sys.path.insert(0, str(HERE))
    import fake_container

    environments = json.loads((Path(dags_dir).parents[1] / "environments.json").read_text())
    environment = next(v for k, v in os.environ.items() if k.startswith("AIRFLOW__") and k.endswith("__ENVIRONMENT"))
    names = environments["environments"][environment]["names"]

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=bool(os.environ.get("HARNESS_MOTO_VERBOSE")))
    server.start()
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    try:
        created = create_aws_resources(environments, environment)
        dags_dir = deploy_copy(dags_dir, environments, environment, created)
        fake_container.install(
            exit_code=exit_code, log_group=names["log_group"], stream_prefix="ecs", log_lines=LOG_LINES
        )
        bag, _ = load_dagbag(dags_dir)
        assert not bag.import_errors, bag.import_errors
        (dag,) = bag.dags.values()
        task = dag.tasks[0]
        # Test speed only: no waiting between tries and for log polls; the counts stay the DAG's.
        task.retry_delay = timedelta(0)
        task.retry_exponential_backoff = False
        task.awslogs_fetch_interval = timedelta(seconds=1)
        task.waiter_delay = 1
        sent = []
        with notifier_mocks(sent):
            started = time.perf_counter()
            dag_run = dag.test(run_conf={"dbt_args": dbt_args} if dbt_args else None)
            seconds = time.perf_counter() - started
        tis = dag_run.get_task_instances() if hasattr(dag_run, "get_task_instances") else []
        return {
            "created": created,
            "dag_run_state": str(dag_run.state),
            "task_states": {ti.task_id: str(ti.state) for ti in tis},
            "try_numbers": {ti.task_id: ti.try_number for ti in tis},
            "ecs_tasks": fake_container.STOPPED,
            "notifications_sent": sent,
            "assumed_roles": assumed_roles(),
            "dag_test_seconds": seconds,
        }
    finally:
        server.stop()


def assumed_roles() -> list[str]:
    """The role ARNs moto's STS handed out credentials for (the connection's role_arn extra)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.sts.models import sts_backends

    backend = sts_backends[DEFAULT_ACCOUNT_ID]["aws"]
    return sorted({role.role_arn for role in backend.assumed_roles})


def notifier_mocks(sent: list):
    """Replace the send calls of the Slack and SNS hooks; record what would have gone out."""
    from contextlib import ExitStack

    stack = ExitStack()
    try:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        def slack_send(self, **kwargs):
            sent.append({"via": "slack", "conn_id": self.slack_webhook_conn_id, **kwargs})
            return SimpleNamespace(status_code=200, api_url="mock://slack")

        stack.enter_context(mock.patch.object(SlackWebhookHook, "send", slack_send))
    except ImportError:
        pass
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    def sns_publish(self, target_arn, message, subject=None, message_attributes=None, **kwargs):
        sent.append({"via": "sns", "target_arn": target_arn, "message": message, "subject": subject})

    stack.enter_context(mock.patch.object(SnsHook, "publish_to_target", sns_publish))
    return stack


def main(argv: list[str]) -> int:
    command, dags_dir, *rest = argv
    if command == "integrity":
        result = integrity([dags_dir, *rest])
    elif command == "run":
        result = run(dags_dir, int(rest[0]), rest[1] if len(rest) > 1 else "")
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
