"""Warehouse credentials as production meets them, for every credentials source.

Each source gets its own bake, applied with Terraform to a moto server. The runner then
runs as a process with exactly the environment of the task definition Terraform wrote
(read back with DescribeTaskDefinition; for `ecs_secrets`, the secret ECS injects),
against a real PostgreSQL server standing in for Redshift (dbt-postgres swapped into the
test's copy of profiles.yml only). Credentials are stored in the formats AWS itself writes:
a Redshift cluster's secret and the managed master-user secret (no schema, no database),
a SecureString parameter under the environment's key, a Glue JDBC connection. Nothing is
set by hand but what a team edits after the bake (environments.json's `warehouse`) and
what AWS holds. The `iam` source runs up to the credentials call (moto answers
GetClusterCredentials), and dbt-redshift accepts its profile for a cluster and Serverless.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import POSTGRES_PASSWORD, bake, load_raw_tables, require_tool, rewrite_profile_for_postgres
from tests.moto_server import MotoServer
from tests.test_terraform import ACCOUNT, IMAGE_TAG, REGION, Result

SECRET = POSTGRES_PASSWORD
ENVIRONMENT = "dev"
RUN_ID = "20260101T000000Z-cred0001"
CLUSTER = "analytics-dev"
# source -> the bake's project name (AWS names must not collide in the one moto account)
SOURCES = {
    "iam": "cred-iam",
    "secrets_manager": "cred-sm",
    "ssm_parameter_store": "cred-ssm",
    "glue_connection": "cred-glue",
    "ecs_secrets": "cred-ecs",
}
PASSWORD_SOURCES = [source for source in SOURCES if source != "iam"]


def apply(terraform: str, project: Path, moto: MotoServer, tf_env: dict[str, str]) -> Result:
    """Apply what a run needs (the task definition and everything it names) with a local state."""
    result = Result()
    root = project / "terraform"
    env = {**tf_env, **moto.aws_env(), "TF_VAR_aws_endpoint_url": moto.endpoint_url}
    env.pop("AWS_ENDPOINT_URL")
    (root / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n', encoding="utf-8")
    args = [f"-var=environment={ENVIRONMENT}", f"-var=image_tag={IMAGE_TAG}", "-input=false", "-no-color"]
    result.run([terraform, "init", "-input=false", "-no-color"], root, env)
    result.run([terraform, "apply", "-auto-approve", "-target=module.dbt_task", *args], root, env)
    result.data["outputs"] = {
        name: value["value"]
        for name, value in json.loads(result.output([terraform, "output", "-json"], root, env)).items()
    }
    return result


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    log = tmp_path_factory.mktemp("moto-cred") / "moto.log"
    with MotoServer(account_id=ACCOUNT, region=REGION, log_path=log, tls=True) as server:
        yield server


def configure_warehouse(project: Path, postgres: dict[str, str], source: str) -> None:
    """What a team edits after the bake: environments.json's warehouse connection.

    The Glue connection's URL carries host, port and database, and `iam` looks the host up
    from the cluster, so those bakes keep the baked (empty) host.
    """
    path = project / "environments.json"
    document = json.loads(path.read_text())
    warehouse = document["environments"][ENVIRONMENT]["warehouse"]
    assert warehouse["host"] == "" and warehouse["id"] == CLUSTER, warehouse
    if source not in ("glue_connection", "iam"):
        warehouse.update(host="127.0.0.1", port=int(postgres["DBT_REDSHIFT_PORT"]), database="postgres")
    if source != "iam":
        # The deployment user of the test warehouse; the stores name it too.
        warehouse["user"] = postgres["DBT_REDSHIFT_USER"]
    path.write_text(json.dumps(document, indent=2) + "\n")


@pytest.fixture(scope="module")
def deployments(
    tmp_path_factory: pytest.TempPathFactory, moto: MotoServer, tf_env: dict[str, str], postgres: dict[str, str]
) -> dict[str, Future]:
    terraform = require_tool(
        "terraform", "install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install)"
    )
    projects = {}
    for source, name in SOURCES.items():
        project = bake(
            tmp_path_factory.mktemp(name),
            project_name=name,
            credentials_source=source,
            warehouse_ids=f"{ENVIRONMENT}={CLUSTER}",
        )
        configure_warehouse(project, postgres, source)
        rewrite_profile_for_postgres(project / "dbt" / "profiles.yml")
        projects[source] = project
    load_raw_tables(postgres, projects["secrets_manager"])
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {source: pool.submit(apply, terraform, project, moto, tf_env) for source, project in projects.items()}
    for source, future in futures.items():
        future.result().data["project"] = projects[source]
    return futures


def deployment(moto: MotoServer, deployments: dict[str, Future], source: str) -> tuple[Path, dict, dict]:
    """(project, Terraform outputs, the container definition as ECS describes it)."""
    result = deployments[source].result()
    outputs = result.data["outputs"]
    ecs = boto3.client("ecs", **moto.boto3_kwargs())
    task = ecs.describe_task_definition(taskDefinition=outputs["task_definition_family"])["taskDefinition"]
    (container,) = task["containerDefinitions"]
    # moto ignores the aws:SecureTransport condition of the TLS-only bucket policy and so denies
    # every object request, even over HTTPS; AWS does not. Lift it for the docs bucket.
    boto3.client("s3", **moto.boto3_kwargs()).delete_bucket_policy(Bucket=outputs["docs_bucket"])
    return result.data["project"], outputs, container


def task_environment(moto: MotoServer, container: dict[str, Any], project: Path) -> dict[str, str]:
    """The container's environment on Fargate: the task definition's, plus what ECS and the image add."""
    env = {item["name"]: item["value"] for item in container.get("environment", [])}
    secrets = boto3.client("secretsmanager", **moto.boto3_kwargs())
    for item in container.get("secrets", []):
        # ECS resolves valueFrom (a secret ARN, or ARN:json-key:version-stage:version-id) before start.
        arn, _, rest = item["valueFrom"].partition(":secretsmanager:")
        secret_arn = arn + ":secretsmanager:" + ":".join(rest.split(":")[:4])
        json_key = rest.split(":")[4] if len(rest.split(":")) > 4 else ""
        value = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
        env[item["name"]] = json.loads(value)[json_key] if json_key else value
    return {
        **env,
        # The image's ENV (Dockerfile) and the platform's: where the code is, the region.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(project),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "HOME": str(project),
        "RUN_ID": RUN_ID,
        # The task role's credentials and AWS's endpoints: here, moto's.
        **moto.aws_env(),
    }


def run_task(moto: MotoServer, container: dict[str, Any], project: Path) -> tuple[int, str]:
    scratch = Path(dict((i["name"], i["value"]) for i in container["environment"])["DBT_TARGET_PATH"]).parent
    shutil.rmtree(scratch, ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-m", "runner"],
        cwd=project,
        env=task_environment(moto, container, project),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1] if output.strip() else "(no output)"


def store_credentials(moto: MotoServer, project: Path, outputs: dict, postgres: dict[str, str], source: str) -> None:
    """Put the warehouse's credentials where the team would, in the format AWS writes there."""
    names = json.loads((project / "environments.json").read_text())["environments"][ENVIRONMENT]["names"]
    port, user = int(postgres["DBT_REDSHIFT_PORT"]), postgres["DBT_REDSHIFT_USER"]
    if source == "secrets_manager":
        # What Secrets Manager writes for a Redshift cluster: no database, no schema.
        value = {"username": user, "password": SECRET, "engine": "redshift", "host": "127.0.0.1", "port": port,
                 "dbClusterIdentifier": CLUSTER}  # fmt: skip
        put_secret(moto, outputs["credentials_secret_arn"], json.dumps(value))
    elif source == "ecs_secrets":
        # Redshift's managed master-user secret: username and password only.
        put_secret(moto, outputs["credentials_secret_arn"], json.dumps({"username": user, "password": SECRET}))
    elif source == "ssm_parameter_store":
        # Under the environment's own key, as README.md says: the task role may decrypt with it through SSM.
        boto3.client("ssm", **moto.boto3_kwargs()).put_parameter(
            Name=f"{names['credentials_parameter_path']}/password", Value=SECRET, Type="SecureString",
            KeyId=f"alias/{names['kms_alias']}",
        )  # fmt: skip
    elif source == "glue_connection":
        boto3.client("glue", **moto.boto3_kwargs()).create_connection(
            ConnectionInput={
                "Name": names["glue_connection"],
                "ConnectionType": "JDBC",
                "ConnectionProperties": {
                    "JDBC_CONNECTION_URL": f"jdbc:redshift://127.0.0.1:{port}/postgres",
                    "USERNAME": user,
                    "PASSWORD": SECRET,
                },
            }
        )


def put_secret(moto: MotoServer, arn: str, value: str) -> None:
    boto3.client("secretsmanager", **moto.boto3_kwargs()).put_secret_value(SecretId=arn, SecretString=value)


def warehouse_tables(postgres: dict[str, str]) -> set[tuple[str, str]]:
    import psycopg2

    connection = psycopg2.connect(
        host="127.0.0.1", port=int(postgres["DBT_REDSHIFT_PORT"]), user=postgres["DBT_REDSHIFT_USER"],
        password=SECRET, dbname="postgres",
    )  # fmt: skip
    try:
        with connection.cursor() as cursor:
            cursor.execute("select table_schema, table_name from information_schema.tables")
            return set(cursor.fetchall())
    finally:
        connection.close()


def assert_secret_nowhere(output: str, *roots: Path) -> None:
    assert SECRET not in output, "the password was printed"
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), f"the password was written to {path}"


@pytest.mark.parametrize("source", PASSWORD_SOURCES)
def test_task_definition_environment_and_aws_formats_run_on_the_warehouse(
    moto: MotoServer, deployments: dict[str, Future], postgres: dict[str, str], source: str
) -> None:
    project, outputs, container = deployment(moto, deployments, source)
    environment = {item["name"]: item["value"] for item in container["environment"]}
    # The connection is configuration from environments.json; only the secret part is stored.
    assert environment["DBT_REDSHIFT_SCHEMA"] == "analytics" and environment["DBT_REDSHIFT_REGION"] == REGION
    assert environment["DBT_REDSHIFT_CLUSTER_ID"] == CLUSTER
    assert "DBT_ENV_SECRET_REDSHIFT_PASSWORD" not in environment
    store_credentials(moto, project, outputs, postgres, source)

    code, output = run_task(moto, container, project)

    assert code == 0, output[-3000:]
    assert f"credentials from {source}: method database" in output
    placed = warehouse_tables(postgres)
    # The deployment schemas (other tests share this server and build their own sandboxes).
    assert {("analytics_marts", "dim_customers"), ("analytics", "stg_jaffle_shop__orders")} <= placed
    s3 = boto3.client("s3", **moto.boto3_kwargs())
    prefix = f"{SOURCES[source]}/{ENVIRONMENT}/runs/{RUN_ID}/"
    listed = s3.list_objects_v2(Bucket=outputs["docs_bucket"], Prefix=prefix).get("Contents", [])
    assert {"manifest.json", "run_results.json", "catalog.json"} <= {item["Key"][len(prefix) :] for item in listed}
    uploaded = b"".join(s3.get_object(Bucket=outputs["docs_bucket"], Key=item["Key"])["Body"].read() for item in listed)
    assert SECRET.encode() not in uploaded, "the password was uploaded"
    head = s3.head_object(Bucket=outputs["docs_bucket"], Key=f"{prefix}static_index.html")
    assert head["ContentType"] == "text/html"
    latest = f"{SOURCES[source]}/{ENVIRONMENT}/latest/manifest.json"
    assert s3.list_objects_v2(Bucket=outputs["docs_bucket"], Prefix=latest)["KeyCount"] == 1
    scratch = Path(environment["DBT_TARGET_PATH"]).parent
    assert_secret_nowhere(output, project, scratch)


BROKEN_SECRETS = {
    "missing": (None, "could not read Secrets Manager secret"),
    "malformed": ("not json", "is not a JSON object with a password"),
    "incomplete": (json.dumps({"username": "dbt", "host": "127.0.0.1"}), "has no password"),
}


@pytest.mark.parametrize("case", list(BROKEN_SECRETS))
def test_a_missing_malformed_or_incomplete_secret_stops_the_run_cleanly(
    moto: MotoServer, deployments: dict[str, Future], tmp_path_factory: pytest.TempPathFactory, case: str
) -> None:
    project, outputs, container = deployment(moto, deployments, "secrets_manager")
    value, expected = BROKEN_SECRETS[case]
    secrets = boto3.client("secretsmanager", **moto.boto3_kwargs())
    # A secret of its own per case, as Terraform creates it (empty until someone puts a value).
    name = f"cred-broken/{case}"
    arn = secrets.create_secret(Name=name, KmsKeyId=secrets.describe_secret(
        SecretId=outputs["credentials_secret_arn"])["KmsKeyId"])["ARN"]  # fmt: skip
    if value is not None:
        put_secret(moto, arn, value)
    broken = {**container, "environment": [
        {**item, "value": arn} if item["name"] == "DBT_CREDENTIALS_SECRET_ID" else item
        for item in container["environment"]
    ]}  # fmt: skip

    code, output = run_task(moto, broken, project)

    assert code == 2, output[-2000:]
    failed = [line for line in output.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "FAILED: step credentials:" in failed[0] and expected in failed[0], output[-2000:]
    assert "Traceback" not in output


def test_iam_gets_temporary_credentials_with_no_stored_password(
    moto: MotoServer, deployments: dict[str, Future]
) -> None:
    project, _, container = deployment(moto, deployments, "iam")
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert "secrets" not in container or not container["secrets"]
    assert environment["DBT_CREDENTIALS_SOURCE"] == "iam" and environment["DBT_REDSHIFT_HOST"] == ""

    # No cluster yet: the host lookup names the cluster and what AWS said.
    code, output = run_task(moto, container, project)
    assert code == 2 and f"FAILED: step credentials: could not read the endpoint of Redshift cluster {CLUSTER}" in (
        last_line(output)
    ), output[-2000:]

    boto3.client("redshift", **moto.boto3_kwargs()).create_cluster(
        ClusterIdentifier=CLUSTER, NodeType="ra3.xlplus", MasterUsername="admin", MasterUserPassword="Adm1nPassw0rd",
        DBName="analytics",
    )  # fmt: skip
    code, output = run_task(moto, container, project)
    # moto answered GetClusterCredentials for the deployment user; the credentials step passed.
    assert "iam: Redshift granted IAM:dbt_deploy temporary credentials" in output, output[-2000:]
    assert "credentials from iam: method iam" in output
    # The warehouse itself is moto's fiction: the run stops at the connection check, not before.
    assert code == 1 and "FAILED: step debug:" in last_line(output), output[-2000:]


# What dbt-redshift hands redshift_connector, captured instead of connecting.
CAPTURE_CONNECT = """
import json, sys
import redshift_connector
from dbt.cli.main import dbtRunner

captured = {}

def connect(**kwargs):
    captured.update(kwargs)
    raise redshift_connector.InterfaceError("captured, not connected")

redshift_connector.connect = connect
project_dir = sys.argv[1]
dbtRunner().invoke(["debug", "--connection", "--project-dir", project_dir, "--profiles-dir", project_dir])
print(json.dumps({key: captured.get(key) for key in sys.argv[2:]}))
"""

IAM_PROFILES = {
    "provisioned": (
        {
            "DBT_REDSHIFT_HOST": "analytics-dev.abc123xyz.eu-west-1.redshift.amazonaws.com",
            "DBT_REDSHIFT_CLUSTER_ID": CLUSTER,
        },
        {"iam": True, "cluster_identifier": CLUSTER, "db_user": "dbt_deploy", "is_serverless": False},
    ),
    "serverless": (
        {
            "DBT_REDSHIFT_HOST": f"wg-dev.{ACCOUNT}.{REGION}.redshift-serverless.amazonaws.com",
            "DBT_REDSHIFT_CLUSTER_ID": "",
        },
        {"iam": True, "cluster_identifier": None, "is_serverless": True},
    ),
}


@pytest.mark.parametrize("kind", list(IAM_PROFILES))
def test_dbt_redshift_takes_the_iam_profile(default_project: Path, kind: str) -> None:
    """The runner's iam environment, rendered by the real profiles.yml, is what dbt-redshift needs."""
    settings, expected = IAM_PROFILES[kind]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DBT_", "AWS_"))}
    env.update(
        ENV=ENVIRONMENT, DBT_TARGET="deploy", DBT_REDSHIFT_METHOD="iam", DBT_REDSHIFT_PORT="5439",
        DBT_REDSHIFT_USER="dbt_deploy",
        DBT_REDSHIFT_DB="analytics", DBT_REDSHIFT_SCHEMA="analytics", DBT_REDSHIFT_REGION=REGION,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false", **settings,
    )  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", CAPTURE_CONNECT, str(default_project / "dbt"), "password", "region", *expected],
        cwd=default_project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    captured = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {key: captured[key] for key in expected} == expected, proc.stdout[-3000:]
    # No stored password anywhere in the connection: Redshift issues one per connection.
    assert captured["password"] == "" and captured["region"] == REGION


@pytest.mark.parametrize("warehouse_type", ["provisioned", "serverless"])
def test_grants_parse_as_redshift_sql_for_the_identity_the_task_signs_in_as(
    tmp_path: Path, warehouse_type: str
) -> None:
    project = bake(tmp_path, warehouse_type=warehouse_type, warehouse_ids="dev=analytics-dev live=analytics-live")
    sqlfluff = require_tool("sqlfluff", "install the template's dev requirements: make venv")
    grants = project / "warehouse" / "grants.sql"
    proc = subprocess.run(
        [sqlfluff, "parse", str(grants), "--dialect", "redshift", "--templater", "raw", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "unparsable" not in proc.stdout
    text = grants.read_text()
    identities = (
        [(f'"IAMR:analytics-dbt-{env}-dbt-task"', f'"IAMR:analytics-dbt-{env}-dbt-ci-task"') for env in ("dev", "live")]
        if warehouse_type == "serverless"
        else [("dbt_deploy", "dbt_ci")]
    )
    for deployer, ci in identities:
        assert f"create user {deployer} password disable;" in text and f"create user {ci} password disable;" in text
        # The deployment owns its schemas; CI and analysts only read them and create their own.
        assert f"create schema if not exists analytics_marts authorization {deployer};" in text
        for reader in (ci, "group analysts"):
            assert f"grant create on database analytics to {reader};" in text
            assert f"alter default privileges for user {deployer} grant select on tables to {reader};" in text
    assert "{{" not in text and "{%" not in text
