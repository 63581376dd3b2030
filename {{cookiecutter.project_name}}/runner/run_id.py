"""A run id that sorts by time and, on ECS, names the task that produced the run."""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import UTC, datetime


def ecs_task_id() -> str:
    """The task id from the ECS task metadata endpoint, or "" outside ECS."""
    endpoint = os.environ.get("ECS_CONTAINER_METADATA_URI_V4", "")
    if not endpoint.startswith(("http://", "https://")):
        return ""
    try:
        with urllib.request.urlopen(f"{endpoint}/task", timeout=2) as response:
            return json.load(response).get("TaskARN", "").rsplit("/", 1)[-1]
    except (OSError, ValueError):
        return ""


def new() -> str:
    if os.environ.get("RUN_ID"):
        return os.environ["RUN_ID"]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    task = ecs_task_id()
    return f"{stamp}-{task}" if task else stamp
