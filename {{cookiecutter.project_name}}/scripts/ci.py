"""CI steps that need more than one shell line. The Makefile calls them; so can you.

    python scripts/ci.py environments             GitHub step outputs: every environment, the first, the rest
    python scripts/ci.py outputs ENV              key=value lines of one environment (role ARNs, registry, buckets)
    python scripts/ci.py fetch-manifest ENV DIR   the production manifest of ENV into DIR, if there is one
    python scripts/ci.py ecr-password ENV          the password for a registry login to ENV's ECR
    python scripts/ci.py image-exists ENV TAG     exit 0 when ENV's repository has the image tag
    python scripts/ci.py deploy-dag BUCKET        the Airflow DAGs and requirements.txt to s3://BUCKET/

Every per-environment value comes from environments.json at the repository root.
AWS calls go through boto3, which honours AWS_ENDPOINT_URL (an emulator in tests).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS_JSON = ROOT / "environments.json"
AIRFLOW_DIR = ROOT / "airflow"
# Where the runner copies the manifest of the last successful deployment run.
LATEST_MANIFEST_KEY = "{project}/{environment}/latest/manifest.json"


def load() -> dict:
    return json.loads(ENVIRONMENTS_JSON.read_text(encoding="utf-8"))


def environment(document: dict, name: str) -> dict:
    try:
        return document["environments"][name]
    except KeyError:
        known = " ".join(document["environments"])
        raise SystemExit(f"ci: unknown environment {name!r}; environments.json has: {known}") from None


def environments_outputs(document: dict) -> list[str]:
    """The first environment deploys on merge; the others are promoted from it, in order."""
    names = list(document["environments"])
    return [
        f"all={json.dumps(names, separators=(',', ':'))}",
        f"first={names[0]}",
        f"promote={json.dumps(names[1:], separators=(',', ':'))}",
    ]


def environment_outputs(document: dict, name: str) -> list[str]:
    env = environment(document, name)
    account, region, names = env["account_id"], document["aws_region"], env["names"]
    registry = f"{account}.dkr.ecr.{region}.amazonaws.com"
    return [
        f"environment={name}",
        f"account_id={account}",
        f"aws_region={region}",
        f"plan_role_arn=arn:aws:iam::{account}:role/{names['ci_plan_role']}",
        f"deploy_role_arn=arn:aws:iam::{account}:role/{names['ci_deploy_role']}",
        f"registry={registry}",
        f"repository_url={registry}/{names['ecr_repository']}",
        f"docs_bucket={names['docs_bucket']}",
    ]


def fetch_manifest(document: dict, name: str, state_dir: Path) -> int:
    """Download the latest production manifest; exit 0 without one, so slim CI can fall back."""
    import boto3
    from botocore.exceptions import ClientError

    bucket = environment(document, name)["names"]["docs_bucket"]
    key = LATEST_MANIFEST_KEY.format(project=document["project_name"], environment=name)
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_dir / "manifest.json"
    try:
        boto3.client("s3", region_name=document["aws_region"]).download_file(bucket, key, str(target))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code not in ("404", "NoSuchKey", "NoSuchBucket"):
            raise
        target.unlink(missing_ok=True)
        print(f"ci: no production manifest at s3://{bucket}/{key} ({code}); nothing to compare against")
        return 0
    print(f"ci: production manifest s3://{bucket}/{key} -> {target}")
    return 0


def deploy_dag(bucket: str) -> int:
    """Upload the DAG files and the MWAA requirements; MWAA picks them up from dags/ and the root."""
    import boto3

    s3 = boto3.client("s3")
    uploads = [
        (path, f"dags/{path.relative_to(AIRFLOW_DIR / 'dags').as_posix()}")
        for path in sorted(p for p in (AIRFLOW_DIR / "dags").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    ]
    uploads.append((AIRFLOW_DIR / "requirements.txt", "requirements.txt"))
    for path, key in uploads:
        s3.upload_file(str(path), bucket, key)
        print(f"ci: {path.relative_to(ROOT)} -> s3://{bucket}/{key}")
    return 0


def ecr_password(document: dict, name: str) -> int:
    """The registry password for `podman login --username AWS --password-stdin`."""
    import base64

    import boto3

    environment(document, name)
    token = boto3.client("ecr", region_name=document["aws_region"]).get_authorization_token()
    user_password = base64.b64decode(token["authorizationData"][0]["authorizationToken"]).decode()
    print(user_password.partition(":")[2])
    return 0


def image_exists(document: dict, name: str, tag: str) -> int:
    """Exit 0 when the environment's repository has the tag (tags are immutable), 1 otherwise."""
    import boto3
    from botocore.exceptions import ClientError

    repository = environment(document, name)["names"]["ecr_repository"]
    ecr = boto3.client("ecr", region_name=document["aws_region"])
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ImageNotFoundException":
            return 1
        raise
    return 0


def main(argv: list[str]) -> int:
    command, *args = argv or ["help"]
    if command == "environments" and not args:
        print("\n".join(environments_outputs(load())))
        return 0
    if command == "outputs" and len(args) == 1:
        print("\n".join(environment_outputs(load(), args[0])))
        return 0
    if command == "fetch-manifest" and len(args) == 2:
        return fetch_manifest(load(), args[0], Path(args[1]))
    if command == "ecr-password" and len(args) == 1:
        return ecr_password(load(), args[0])
    if command == "image-exists" and len(args) == 2:
        return image_exists(load(), *args)
    if command == "deploy-dag" and len(args) == 1 and args[0]:
        return deploy_dag(args[0])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
