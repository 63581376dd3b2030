"""The one patch the end-to-end runs need: moto's ECS tasks never run a container.

moto keeps every task's container PENDING with exit code 0 forever, so a waiter for STOPPED
never returns and a failing dbt cannot be simulated. ``install`` replaces moto's
``describe_tasks`` with one that plays the dbt container: the first time it sees a task, the
container is RUNNING and writes its log lines to the task's CloudWatch stream (``<prefix>/
<container>/<task id>``, as the awslogs driver names it); the next time, the task is STOPPED
with the chosen exit code. One poll of RUNNING matters: the deferrable trigger forwards the
CloudWatch lines only after a poll that did not find the task stopped.
Every task it stopped is recorded in ``STOPPED`` (with its overrides, start and network
details) for the test to assert on. Nothing else of moto is changed.
"""

from __future__ import annotations

import time
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ecs import models as ecs_models
from moto.logs import logs_backends

STOPPED: list[dict[str, Any]] = []


def install(*, exit_code: int, log_group: str, stream_prefix: str, log_lines: list[str]) -> None:
    original = ecs_models.EC2ContainerServiceBackend.describe_tasks

    def describe_tasks(self, cluster_str: str, tasks: list[str]) -> list:
        described = original(self, cluster_str, tasks)
        for task in described:
            container = task.containers[0]
            if container.last_status == "PENDING":
                _start_container(self.region_name, task, container)
            elif task.desired_status != "STOPPED":
                _stop_container(task, container)
        return described

    def _start_container(region: str, task: Any, container: Any) -> None:
        stream = f"{stream_prefix}/{container.name}/{task.id}"
        logs = logs_backends[DEFAULT_ACCOUNT_ID][region]
        logs.create_log_stream(log_group, stream)
        now = int(time.time() * 1000)
        logs.put_log_events(log_group, stream, [{"timestamp": now + i, "message": m} for i, m in enumerate(log_lines)])
        container.last_status = "RUNNING"
        task.last_status = "RUNNING"

    def _stop_container(task: Any, container: Any) -> None:
        stream = f"{stream_prefix}/{container.name}/{task.id}"
        container.last_status = "STOPPED"
        container.exitCode = exit_code  # the attribute moto serialises as exitCode
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        task.stopped_reason = "Essential container in task exited"
        STOPPED.append(
            {
                "task_arn": task.task_arn,
                "started_by": task.started_by,
                "overrides": task.overrides,
                "launch_type": task.launch_type,
                "capacity_provider": task.capacity_provider_name,
                "network_configuration": task.network_configuration,
                "log_stream": stream,
            }
        )

    ecs_models.EC2ContainerServiceBackend.describe_tasks = describe_tasks
