"""Warehouse credentials, fetched at run time into this process's environment only.

The connection itself is configuration: environments.json's `warehouse` reaches the task
definition's environment through Terraform as DBT_REDSHIFT_HOST, _PORT, _DB, _SCHEMA, _USER
and _CLUSTER_ID. The credentials source adds only what is secret:

- iam: nothing stored. dbt-redshift asks Redshift for a short-lived password on every
  connection (`method: iam`); the runner asks once up front, so a missing grant fails
  here in one line instead of inside dbt.
- secrets_manager, ecs_secrets: a JSON secret in the format AWS writes for Redshift and
  RDS (username, password, and for a cluster's own secret host, port, dbClusterIdentifier,
  engine); the managed master-user secret holds only username and password.
- ssm_parameter_store: parameters under a path, `password` (a SecureString) at least.
- glue_connection: a JDBC connection; host, port and database come from its URL.
- environment: nothing fetched; a person's own credentials are already in the environment
  (their .env, read by make): `make ci-build` on a laptop. DBT_REDSHIFT_METHOD picks the
  method (database, the default, or iam).

Values a store holds win over the configuration: a password belongs to its username.
An empty host is looked up from the cluster identifier (DescribeClusters). The password
goes to DBT_ENV_SECRET_REDSHIFT_PASSWORD, a name dbt scrubs from its logs. Nothing here
writes a value to disk or prints one: messages name variables and sources only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping

from runner import log

PASSWORD = "DBT_ENV_SECRET_REDSHIFT_PASSWORD"
HOST, PORT, USER, DATABASE, SCHEMA = (f"DBT_REDSHIFT_{key}" for key in ("HOST", "PORT", "USER", "DB", "SCHEMA"))
CLUSTER_ID, METHOD, REGION = "DBT_REDSHIFT_CLUSTER_ID", "DBT_REDSHIFT_METHOD", "DBT_REDSHIFT_REGION"
REQUIRED = {"database": (HOST, USER, PASSWORD, DATABASE, SCHEMA), "iam": (HOST, USER, DATABASE, SCHEMA)}
# Where each variable comes from when it is missing: the one thing to fix.
FIX = {
    HOST: "environments.json warehouse.host, or warehouse.id to look it up",
    USER: "environments.json warehouse.user",
    DATABASE: "environments.json warehouse.database",
    SCHEMA: "environments.json warehouse.schema",
    PASSWORD: "the credentials store's 'password'",
}

# Keys of a secret or parameter path, and the variable each one sets: the keys AWS writes
# into a Redshift or RDS secret, and their common spellings.
KEYS = {
    "host": HOST,
    "port": PORT,
    "username": USER,
    "password": PASSWORD,
    "dbname": DATABASE,
    "schema": SCHEMA,
    "dbClusterIdentifier": CLUSTER_ID,
}
ALIASES = {"user": "username", "database": "dbname", "db": "dbname"}

JDBC_URL = re.compile(r"^jdbc:redshift://(?P<host>[^:/?]+)(?::(?P<port>\d+))?/(?P<dbname>[^?;]+)")
SERVERLESS_HOST = re.compile(r"^(?P<workgroup>[a-z0-9-]+)\.[0-9]{12}\.[a-z0-9-]+\.redshift-serverless\.amazonaws\.com$")
# The shortest lifetime Redshift grants; the up-front check needs no more.
CHECK_DURATION_SECONDS = 900


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


def _json_object(text: str, what: str) -> dict[str, object]:
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise CredentialsError(f"{what} is not a JSON object with a password")
    return document


def from_secrets_manager() -> dict[str, str]:
    secret_id = _setting("DBT_CREDENTIALS_SECRET_ID", "Secrets Manager secret")
    what = f"Secrets Manager secret {secret_id}"
    try:
        secret = _client("secretsmanager").get_secret_value(SecretId=secret_id)
    except Exception as error:  # noqa: BLE001 - every failure becomes one line without values
        raise _aws_error(what, error) from None
    if "SecretString" not in secret:
        raise CredentialsError(f"{what} holds binary data, not a JSON object with a password")
    return _mapped(_json_object(secret["SecretString"], what), what)


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
    return _mapped(values, f"SSM parameters under {path}")


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
    return _mapped(values, f"Glue connection {name}")


def from_ecs_secrets() -> dict[str, str]:
    # ECS injected the secret's JSON before the process started; dbt scrubs DBT_ENV_SECRET_*.
    what = "the secret ECS injected as DBT_ENV_SECRET_CREDENTIALS"
    text = os.environ.pop("DBT_ENV_SECRET_CREDENTIALS", "")
    if not text:
        raise CredentialsError(f"{what} is empty; the task definition's secrets must name the credentials secret")
    return _mapped(_json_object(text, what), what)


def from_iam() -> dict[str, str]:
    # No password anywhere: dbt-redshift gets a temporary one per connection.
    os.environ.pop(PASSWORD, None)
    return {METHOD: "iam"}


def from_environment() -> dict[str, str]:
    # A person's own credentials, set before the runner started; validated as any other source's.
    method = os.environ.get(METHOD, "").strip() or "database"
    if method not in REQUIRED:
        raise CredentialsError(f"{METHOD} must be database or iam (got {method!r})")
    if method == "iam":
        os.environ.pop(PASSWORD, None)
    return {METHOD: method}


SOURCES: dict[str, Callable[[], dict[str, str]]] = {
    "iam": from_iam,
    "secrets_manager": from_secrets_manager,
    "ssm_parameter_store": from_ssm_parameter_store,
    "glue_connection": from_glue_connection,
    "ecs_secrets": from_ecs_secrets,
    "environment": from_environment,
}


def _mapped(document: Mapping[str, object], what: str) -> dict[str, str]:
    values = {}
    for key, value in document.items():
        variable = KEYS.get(ALIASES.get(key, key))
        if variable and value not in (None, ""):
            values[variable] = str(value)
    log.redact(values.get(PASSWORD, ""))
    if PASSWORD not in values:
        # The username may come from the configuration (DBT_REDSHIFT_USER); the password never does.
        raise CredentialsError(f"{what} has no password")
    return {METHOD: "database", **values}


def _resolve_host() -> None:
    """Look up an empty host from the cluster identifier: AWS picks part of a cluster's endpoint."""
    if os.environ.get(HOST) or not os.environ.get(CLUSTER_ID):
        return
    cluster = os.environ[CLUSTER_ID]
    try:
        (found,) = _client("redshift").describe_clusters(ClusterIdentifier=cluster)["Clusters"]
    except Exception as error:  # noqa: BLE001
        raise _aws_error(f"the endpoint of Redshift cluster {cluster}", error) from None
    endpoint = found.get("Endpoint") or {}
    if not endpoint.get("Address"):
        raise CredentialsError(f"Redshift cluster {cluster} has no endpoint yet (status {found.get('ClusterStatus')})")
    os.environ[HOST] = endpoint["Address"]
    os.environ[PORT] = str(endpoint.get("Port", os.environ.get(PORT, "5439")))


def check_iam_access() -> None:
    """Ask for temporary database credentials once, as dbt-redshift will on each connection."""
    user, database = os.environ[USER], os.environ[DATABASE]
    serverless = SERVERLESS_HOST.match(os.environ[HOST])
    try:
        if serverless:
            workgroup = serverless["workgroup"]
            what = f"database credentials from Redshift Serverless workgroup {workgroup}"
            answer = _client("redshift-serverless").get_credentials(
                workgroupName=workgroup, dbName=database, durationSeconds=CHECK_DURATION_SECONDS
            )
            log.redact(answer.get("dbPassword", ""))
            granted = answer.get("dbUser", "")
        else:
            cluster = os.environ.get(CLUSTER_ID, "")
            if not cluster:
                raise CredentialsError(f"{CLUSTER_ID} is not set; iam needs environments.json warehouse.id")
            what = f"database credentials for user {user} on Redshift cluster {cluster}"
            answer = _client("redshift").get_cluster_credentials(
                DbUser=user,
                DbName=database,
                ClusterIdentifier=cluster,
                DurationSeconds=CHECK_DURATION_SECONDS,
                AutoCreate=False,
            )
            log.redact(answer.get("DbPassword", ""))
            granted = answer.get("DbUser", "")
    except CredentialsError:
        raise
    except Exception as error:  # noqa: BLE001
        raise _aws_error(what, error) from None
    log.info(f"iam: Redshift granted {granted} temporary credentials")


def load(source: str) -> None:
    """Fetch the credentials from `source` into os.environ, or raise CredentialsError."""
    if source not in SOURCES:
        raise CredentialsError(f"unknown credentials source {source!r}; use one of {', '.join(SOURCES)}")
    log.redact(os.environ.get(PASSWORD, ""))
    values = SOURCES[source]()
    os.environ.update(values)
    _resolve_host()
    if not os.environ.get(REGION):
        # dbt-redshift's IAM calls need the region; ECS sets AWS_REGION in every task.
        os.environ[REGION] = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
    method = os.environ[METHOD]
    missing = [name for name in REQUIRED[method] if not os.environ.get(name)]
    if missing:
        fixes = "; ".join(f"{name} from {FIX[name]}" for name in missing)
        if source == "environment":
            fixes = "set them in your .env, as .env.example shows"
        raise CredentialsError(f"{', '.join(missing)} not set after reading credentials from {source} ({fixes})")
    if method == "iam":
        check_iam_access()
    stored = sorted(name for name in values if name != METHOD)
    log.info(f"credentials from {source}: method {method}, set {', '.join(stored) or 'no stored value'}")
