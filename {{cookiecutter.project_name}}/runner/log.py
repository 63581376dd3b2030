"""One line per event on stdout, which CloudWatch Logs stores and searches line by line."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

_format = "text"
_redact: set[str] = set()


def configure(log_format: str) -> None:
    global _format
    _format = "json" if log_format == "json" else "text"


def redact(value: str) -> None:
    """Never print this value, whatever message carries it (a password, say)."""
    if value:
        _redact.add(value)


def _scrub(message: str) -> str:
    for value in _redact:
        message = message.replace(value, "*****")
    # One event, one line: a multi-line message would be split into several log events.
    return " ".join(message.split())


def emit(level: str, message: str) -> None:
    message = _scrub(message)
    now = datetime.now(UTC)
    if _format == "json":
        line = json.dumps(
            {"ts": now.isoformat(timespec="milliseconds"), "level": level, "logger": "runner", "msg": message}
        )
    else:
        line = f"{now:%H:%M:%S} runner {level}: {message}"
    print(line, file=sys.stdout, flush=True)


def info(message: str) -> None:
    emit("info", message)


def warn(message: str) -> None:
    emit("warn", message)


def error(message: str) -> None:
    emit("error", message)
