"""Warehouse credentials, fetched at run time into this process's environment only.

dbt's profiles.yml reads the DBT_REDSHIFT_* variables, and the password from
DBT_ENV_SECRET_REDSHIFT_PASSWORD, a name dbt scrubs from its logs. Nothing here
writes a value to disk or prints one: messages name variables and sources only.
Which source is used is an answer (credentials_source), overridable with
DBT_CREDENTIALS_SOURCE; the name of the secret, parameter path or Glue
connection comes from the task definition's environment.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping

from runner import log

PASSWORD = "DBT_ENV_SECRET_REDSHIFT_PASSWORD"
REQUIRED = ("DBT_REDSHIFT_HOST", "DBT_REDSHIFT_USER", PASSWORD, "DBT_REDSHIFT_DB", "DBT_REDSHIFT_SCHEMA")

# Keys of a secret or parameter path, and the variable each one sets. These are the keys
# of the JSON secret AWS creates for a Redshift cluster (host, port, username, password, dbname).
KEYS = {
    "host": "DBT_REDSHIFT_HOST",
    "port": "DBT_REDSHIFT_PORT",
    "username": "DBT_REDSHIFT_USER",
    "password": PASSWORD,
    "dbname": "DBT_REDSHIFT_DB",
    "schema": "DBT_REDSHIFT_SCHEMA",
}

JDBC_URL = re.compile(r"^jdbc:redshift://(?P<host>[^:/?]+)(?::(?P<port>\d+))?/(?P<dbname>[^?;]+)")


class CredentialsError(Exception):
    """The credentials could not be fetched or are incomplete; the message holds no value."""


def _client(service: str):
    import boto3  # imported late: local runs never need AWS

    return boto3.client(service)


def _setting(name: str, source: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise CredentialsError(f"{name} is not set; the task definition must name the {source}")
    return value


def _aws_error(what: str, error: Exception) -> CredentialsError:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
    return CredentialsError(f"could not read {what}: {code}")


def from_secrets_manager() -> dict[str, str]:
    secret_id = _setting("DBT_CREDENTIALS_SECRET_ID", "Secrets Manager secret")
    try:
        secret = _client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as error:  # noqa: BLE001 - every failure becomes one line without values
        raise _aws_error(f"Secrets Manager secret {secret_id}", error) from None
    try:
        document = json.loads(secret)
    except ValueError:
        raise CredentialsError(f"Secrets Manager secret {secret_id} is not a JSON object") from None
    if not isinstance(document, dict):
        raise CredentialsError(f"Secrets Manager secret {secret_id} is not a JSON object")
    return _mapped(document)


def from_ssm_parameter_store() -> dict[str, str]:
    path = _setting("DBT_CREDENTIALS_PARAMETER_PATH", "SSM parameter path").rstrip("/") + "/"
    values: dict[str, str] = {}
    try:
        pages = _client("ssm").get_paginator("get_parameters_by_path")
        for page in pages.paginate(Path=path, WithDecryption=True):
            for parameter in page["Parameters"]:
                values[parameter["Name"][len(path) :]] = parameter["Value"]
    except Exception as error:  # noqa: BLE001
        raise _aws_error(f"SSM parameters under {path}", error) from None
    if not values:
        raise CredentialsError(f"no SSM parameters found under {path}")
    return _mapped(values)


def from_glue_connection() -> dict[str, str]:
    name = _setting("DBT_GLUE_CONNECTION", "Glue connection")
    try:
        connection = _client("glue").get_connection(Name=name, HidePassword=False)["Connection"]
    except Exception as error:  # noqa: BLE001
        raise _aws_error(f"Glue connection {name}", error) from None
    properties = connection.get("ConnectionProperties", {})
    match = JDBC_URL.match(properties.get("JDBC_CONNECTION_URL", ""))
    if not match:
        raise CredentialsError(f"Glue connection {name}: JDBC_CONNECTION_URL is not jdbc:redshift://host:port/database")
    values = {key: value for key, value in match.groupdict().items() if value}
    values["username"] = properties.get("USERNAME", "")
    values["password"] = properties.get("PASSWORD", "")
    return _mapped(values)


def from_ecs_secrets() -> dict[str, str]:
    # ECS injected the values from the task definition's `secrets` before the process started.
    return {}


SOURCES: dict[str, Callable[[], dict[str, str]]] = {
    "secrets_manager": from_secrets_manager,
    "ssm_parameter_store": from_ssm_parameter_store,
    "glue_connection": from_glue_connection,
    "ecs_secrets": from_ecs_secrets,
}


def _mapped(document: Mapping[str, object]) -> dict[str, str]:
    aliases = {"user": "username", "database": "dbname", "db": "dbname"}
    values = {}
    for key, value in document.items():
        variable = KEYS.get(aliases.get(key, key))
        if variable and value not in (None, ""):
            values[variable] = str(value)
    return values


def load(source: str) -> None:
    """Fetch the credentials from `source` into os.environ, or raise CredentialsError."""
    if source not in SOURCES:
        raise CredentialsError(f"unknown credentials source {source!r}; use one of {', '.join(SOURCES)}")
    values = SOURCES[source]()
    log.redact(values.get(PASSWORD, ""))
    log.redact(os.environ.get(PASSWORD, ""))
    os.environ.update(values)
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        raise CredentialsError(f"{', '.join(missing)} not set after reading credentials from {source}")
    log.info(f"credentials from {source}: set {', '.join(sorted(values)) or 'nothing (injected by ECS)'}")
