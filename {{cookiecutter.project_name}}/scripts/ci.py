"""CI steps that need more than one shell line. The Makefile calls them; so can you.

    python scripts/ci.py environments             GitHub step outputs: every environment, the first, the rest
    python scripts/ci.py outputs ENV              key=value lines of one environment (role ARNs, registry, buckets)
    python scripts/ci.py fetch-manifest ENV DIR   the production manifest of ENV into DIR, if there is one
    python scripts/ci.py ecr-password ENV          the password for a registry login to ENV's ECR
    python scripts/ci.py image-exists ENV TAG     exit 0 when ENV's repository has the image tag
    python scripts/ci.py deploy-dag BUCKET        the Airflow DAGs and requirements.txt to s3://BUCKET/
    python scripts/ci.py oidc-subject-check [-]   exit 0 when the GitHub repository's OIDC subject claim is
                                                  customised as the CI roles' trust expects; reads
                                                  `gh api repos/<repo>/actions/oidc/customization/sub`
                                                  from stdin with "-", else asks the API with GITHUB_TOKEN
    python scripts/ci.py ci-remote ENV PR [--commit SHA]
                                                  the pull request's build inside AWS: uploads dbt/ to the docs
                                                  bucket, runs ENV's CI task, streams its log, exits with its
                                                  exit code and writes a Markdown summary
    python scripts/ci.py ci-cleanup ENV PR        a CI task that drops every schema of pull request PR
    python scripts/ci.py ci-sweep ENV             a CI task that drops pull-request schemas older than
                                                  CI_SCHEMA_MAX_AGE_DAYS (default 7)

Every per-environment value comes from environments.json at the repository root.
AWS calls go through boto3, which honours AWS_ENDPOINT_URL (an emulator in tests).
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import threading
import time
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
    """Download the latest production manifest; exit 0 without one, so a sandbox build can fall back."""
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


# The CI roles' trust (terraform/modules/github_oidc) expects subjects of these claims, in this order.
OIDC_CLAIM_KEYS = ("repo", "context", "ref")


def oidc_subject_fix(repository: str) -> str:
    keys = " ".join(f"-f 'include_claim_keys[]={key}'" for key in OIDC_CLAIM_KEYS)
    return f"gh api -X PUT repos/{repository}/actions/oidc/customization/sub -f use_default=false {keys}"


def oidc_subject_check(document: dict, text: str | None) -> int:
    """Compare the repository's subject claim customisation with the one the roles trust."""
    repository = document.get("github_repository")
    if not repository:
        raise SystemExit("ci: environments.json has no github_repository; the subject check is for GitHub Actions")
    if text is None:
        import os
        import urllib.error
        import urllib.request

        token = os.environ.get("GITHUB_TOKEN", "")
        if not token:
            raise SystemExit("ci: set GITHUB_TOKEN, or pipe `gh api repos/"
                             f"{repository}/actions/oidc/customization/sub` into this command with -")  # fmt: skip
        request = urllib.request.Request(
            f"https://api.github.com/repos/{repository}/actions/oidc/customization/sub",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            raise SystemExit(f"ci: GitHub answered {error.code} for {request.full_url}; the token needs read access "
                             "to the repository's Actions settings") from None  # fmt: skip
    if not text.strip():
        raise SystemExit("ci: no answer to read; run `gh auth login` (or set GITHUB_TOKEN) and try again")
    customisation = json.loads(text)
    keys = tuple(customisation.get("include_claim_keys") or ())
    if customisation.get("use_default", True) or keys != OIDC_CLAIM_KEYS:
        found = "GitHub's default" if customisation.get("use_default", True) else "/".join(keys) or "empty"
        print(f"ci: {repository}'s OIDC subject claim is {found}, not {'/'.join(OIDC_CLAIM_KEYS)}, so CI cannot assume"
              f" its AWS roles; run: {oidc_subject_fix(repository)}", file=sys.stderr)  # fmt: skip
        return 1
    print(f"ci: {repository}'s OIDC subject claim is {'/'.join(keys)}, as the CI roles trust")
    return 0


# ---- pull-request builds inside AWS (ci-remote, ci-cleanup, ci-sweep) ------------------------------
# The warehouse is in private subnets, so the warehouse part of a pull request runs there: a
# one-off task of the environment's CI task definition (terraform: names.ci_task_family), whose
# runner works in RUNNER_MODE ci, cleanup or sweep (runner/settings.py).

# awslogs-stream-prefix of the task definitions (terraform/modules/dbt_task): ECS names each
# stream <prefix>/<container>/<task id>.
TASK_LOG_STREAM_PREFIX = "ecs"
# The deployment's capacity (use_fargate_spot), which CI tasks share.
CAPACITY_PROVIDER = "{{ 'FARGATE_SPOT' if cookiecutter.use_fargate_spot == 'yes' else 'FARGATE' }}"
# What never goes into the pull request's project tarball: build output and installed packages.
PROJECT_EXCLUDES = ("target", "logs", "dbt_packages")
CI_PREFIX = "{project}/{environment}/ci/pr-{pr}/"
# The runner's first line names where the run's artifacts go.
ARTIFACTS_LINE = re.compile(r"artifacts to (s3://\S+/)")
FAILED_STATUSES = {"error", "fail", "runtime error"}


def fail(message: str) -> SystemExit:
    """One line on stderr and a non-zero exit: what is missing and how to fix it."""
    return SystemExit(f"ci: {message}")


def pr_number(value: str) -> str:
    if not value.isascii() or not value.isdigit():
        raise fail(f"the pull request number must be digits only, e.g. PR=7 (got {value!r})")
    return str(int(value))


def aws_error(error: Exception) -> tuple[str, str]:
    """(code, message) of a boto3 error; the code is what to act on (AccessDenied, NoSuchBucket)."""
    details = getattr(error, "response", {}).get("Error", {})
    return str(details.get("Code") or type(error).__name__), " ".join(str(details.get("Message", error)).split())


def denied(code: str) -> bool:
    return "AccessDenied" in code or code in ("UnauthorizedOperation", "UnrecognizedClientException")


def ci_names(document: dict, name: str) -> dict[str, str]:
    names = environment(document, name)["names"]
    wanted = ("ecs_cluster", "ci_task_family", "ci_log_group", "container", "docs_bucket", "security_group")
    missing = [key for key in wanted if not names.get(key)]
    if missing:
        raise fail(f"environments.json has no names.{', names.'.join(missing)} for {name}; update the repository "
                   "from the template (cruft update), which adds the CI task's names")  # fmt: skip
    return names


def package_project(directory: Path) -> bytes:
    """The dbt project as a tar.gz, its files at the root; build output and packages left out."""

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts  # "./target/x" is ("target", "x")
        return None if parts and parts[0] in PROJECT_EXCLUDES else info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(directory, arcname=".", filter=keep)
    return buffer.getvalue()


def commit_id(given: str) -> str:
    if given:
        return given
    try:
        found = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        return found.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("GITHUB_SHA") or os.environ.get("CI_COMMIT_SHA") or "local"


def upload_project(s3, bucket: str, key: str) -> str:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=package_project(ROOT / "dbt"), ContentType="application/gzip")
    except Exception as error:  # noqa: BLE001 - every failure becomes one line
        code, _ = aws_error(error)
        if code == "NoSuchBucket":
            raise fail(f"the docs bucket {bucket} does not exist; apply the environment first "
                       "(make deploy-infra), or fix names.docs_bucket in environments.json") from None  # fmt: skip
        fix = "; the pull-request role needs s3:PutObject on its ci/ prefix" if denied(code) else ""
        raise fail(f"cannot upload the project to s3://{bucket}/{key}: {code}{fix}") from None
    url = f"s3://{bucket}/{key}"
    print(f"ci: dbt/ -> {url}", flush=True)
    return url


def network(ec2, name: str, settings: dict, names: dict) -> dict:
    """awsvpc settings of the deployment: its private subnets and security groups, no public IP."""
    subnets, groups = settings.get("subnet_ids") or [], settings.get("security_group_ids") or []
    if not subnets:
        raise fail(f"environments.json has no subnet_ids for {name}; list the private subnets the task runs in")
    if not groups:
        # create_security_group=yes: Terraform made it, so it is found by its name.
        try:
            found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [names["security_group"]]}])
        except Exception as error:  # noqa: BLE001
            code, _ = aws_error(error)
            raise fail(f"cannot look up security group {names['security_group']}: {code}; the pull-request role "
                       "needs ec2:DescribeSecurityGroups, or list security_group_ids in environments.json") from None  # fmt: skip
        groups = [group["GroupId"] for group in found["SecurityGroups"]]
        if not groups:
            raise fail(f"no security group named {names['security_group']} in {name}; apply the environment "
                       "first (make deploy-infra), or list security_group_ids in environments.json")  # fmt: skip
    return {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": groups, "assignPublicIp": "DISABLED"}}


def start_task(ecs, names: dict, networking: dict, variables: dict[str, str], label: str) -> str:
    """RunTask of the CI family's latest revision; the task's ARN."""
    cluster, family = names["ecs_cluster"], names["ci_task_family"]
    placement = (
        {"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}
        if CAPACITY_PROVIDER == "FARGATE_SPOT"
        else {"launchType": "FARGATE"}
    )
    overrides = [{"name": key, "value": value} for key, value in variables.items()]
    try:
        answer = ecs.run_task(
            cluster=cluster,
            taskDefinition=family,
            count=1,
            startedBy=label[:36],
            networkConfiguration=networking,
            overrides={"containerOverrides": [{"name": names["container"], "environment": overrides}]},
            **placement,
        )
    except Exception as error:  # noqa: BLE001
        code, message = aws_error(error)
        if "ClusterNotFound" in code or "cluster not found" in message.lower():
            raise fail(
                f"ECS cluster {cluster} does not exist; apply the environment first (make deploy-infra)"
            ) from None
        if "task definition" in message.lower() or "taskdefinition" in message.lower():
            raise fail(f"no task definition {family} in cluster {cluster}'s account; apply the environment "
                       "(make deploy-infra), which creates the CI task") from None  # fmt: skip
        fix = (
            f"; the pull-request role needs ecs:RunTask on {family} and iam:PassRole on its roles"
            if denied(code)
            else ""
        )
        raise fail(f"cannot start a task of {family} on {cluster}: {code}: {message}{fix}") from None
    if answer.get("failures") or not answer.get("tasks"):
        reasons = "; ".join(f"{item.get('arn', '')} {item.get('reason', '')}".strip() for item in answer["failures"])
        raise fail(f"ECS did not start a task of {family} on {cluster}: {reasons or 'no task and no reason'}")
    return answer["tasks"][0]["taskArn"]


class LogStream:
    """The container's CloudWatch stream, read forward from where the last read stopped."""

    def __init__(self, logs, group: str, stream: str, out) -> None:
        self.logs, self.group, self.stream, self.out = logs, group, stream, out
        self.token: str | None = None
        self.artifacts_url = ""
        self.readable = True

    def drain(self) -> int:
        """Print every new line; the number printed."""
        printed = 0
        while self.readable:
            kwargs = {"nextToken": self.token} if self.token else {"startFromHead": True}
            try:
                page = self.logs.get_log_events(logGroupName=self.group, logStreamName=self.stream, **kwargs)
            except Exception as error:  # noqa: BLE001
                code, _ = aws_error(error)
                if code == "ResourceNotFoundException":
                    return printed  # not written yet: the container has not started
                self.readable = False
                print(f"ci: cannot read the task's log {self.group}:{self.stream}: {code}; the role needs "
                      "logs:GetLogEvents on it; waiting for the task without its log", file=self.out, flush=True)  # fmt: skip
                return printed
            for event in page.get("events", []):
                message = event["message"].rstrip("\n")
                found = ARTIFACTS_LINE.search(message)
                if found and not self.artifacts_url:
                    self.artifacts_url = found.group(1)
                print(message, file=self.out, flush=True)
                printed += 1
            if page.get("nextForwardToken") in (None, self.token):
                return printed
            self.token = page["nextForwardToken"]
            if not page.get("events"):
                return printed


def wait_for(ecs, cluster: str, task_arn: str, log: LogStream, poll: float) -> dict:
    """Describe the task until it is STOPPED, printing its log meanwhile; the stopped task."""
    while True:
        try:
            (task,) = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
        except Exception as error:  # noqa: BLE001
            code, _ = aws_error(error)
            raise fail(
                f"cannot describe task {task_arn}: {code}; the pull-request role needs ecs:DescribeTasks"
            ) from None
        log.drain()
        if task.get("lastStatus") == "STOPPED":
            # CloudWatch takes a moment to deliver the last lines.
            for _ in range(3):
                if not log.drain():
                    time.sleep(min(poll, 2))
            return task
        time.sleep(poll)


def exit_code_of(task: dict, container: str) -> int:
    found = [item for item in task.get("containers", []) if item.get("name") == container] or task.get("containers", [])
    code = found[0].get("exitCode") if found else None
    if code is None:
        reason = task.get("stoppedReason") or task.get("stopCode") or "no reason given"
        print(f"ci: the task stopped before its container ran: {reason}", file=sys.stderr, flush=True)
        return 1
    return int(code)


def read_run_results(s3, bucket: str, prefix: str, artifacts_url: str) -> tuple[dict | None, str]:
    """The run's run_results.json: at the URL its first line named, else the newest under prefix."""
    keys = []
    if artifacts_url.startswith(f"s3://{bucket}/"):
        keys.append(artifacts_url[len(f"s3://{bucket}/") :] + "run_results.json")
    else:
        try:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            found = [item for page in pages for item in page.get("Contents", [])]
        except Exception:  # noqa: BLE001 - no listing, no summary table
            found = []
        found = [item for item in found if item["Key"].endswith("/run_results.json")]
        keys.extend(item["Key"] for item in sorted(found, key=lambda item: item["LastModified"], reverse=True)[:1])
    for key in keys:
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()), f"s3://{bucket}/{key}"
        except Exception as error:  # noqa: BLE001 - no results, no table; the reason is one line
            print(f"ci: cannot read s3://{bucket}/{key}: {aws_error(error)[0]}", file=sys.stderr, flush=True)
    return None, f"s3://{bucket}/{prefix}"


def summary(results: dict | None, where: str, env_name: str, pr: str, exit_code: int) -> str:
    """The Markdown summary of a pull request's build: nodes built, passed, failed and why."""
    verdict = "passed" if exit_code == 0 else f"failed (exit code {exit_code})"
    lines = [f"### dbt CI: pull request {pr} on {env_name} {verdict}", ""]
    if results is None:
        lines.append(f"No run_results.json under {where}: the run stopped before dbt built anything; its log is above.")
        return "\n".join(lines) + "\n"
    nodes = results.get("results", [])
    failed = [node for node in nodes if node.get("status") in FAILED_STATUSES]
    passed = [node for node in nodes if node.get("status") in ("success", "pass")]
    others = len(nodes) - len(failed) - len(passed)
    lines += [
        "| built | passed | failed | warned or skipped |",
        "| ---: | ---: | ---: | ---: |",
        f"| {len(nodes)} | {len(passed)} | {len(failed)} | {others} |",
        "",
    ]
    if failed:
        lines.append("**Failed**")
        lines.append("")
        for node in failed:
            message = " ".join(str(node.get("message") or "").split())[:300]
            lines.append(f"- `{node.get('unique_id')}` {node.get('status')}: {message}")
        lines.append("")
    lines.append(f"Artifacts: `{where.rsplit('/', 1)[0]}/`")
    return "\n".join(lines) + "\n"


def write_summary(text: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY", "")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
        print(f"ci: summary written to the job summary ({path})", flush=True)
    else:
        print(text, flush=True)


def ci_task(document: dict, name: str, mode: str, pr: str = "", commit: str = "", out=None) -> int:
    """Run one CI task (mode ci, cleanup or sweep) of environment `name` and follow it to its end."""
    import boto3

    out = out or sys.stdout
    settings, names, region = environment(document, name), ci_names(document, name), document["aws_region"]
    project = document["project_name"]
    variables = {"RUNNER_MODE": mode}
    if pr:
        variables["DBT_PR_NUMBER"] = pr
    if mode == "sweep" and os.environ.get("CI_SCHEMA_MAX_AGE_DAYS"):
        variables["CI_SCHEMA_MAX_AGE_DAYS"] = os.environ["CI_SCHEMA_MAX_AGE_DAYS"]
    s3 = boto3.client("s3", region_name=region)
    if mode == "ci":
        key = CI_PREFIX.format(project=project, environment=name, pr=pr) + f"{commit_id(commit)}/project.tar.gz"
        variables["CI_PROJECT_URL"] = upload_project(s3, names["docs_bucket"], key)
    ecs, logs = boto3.client("ecs", region_name=region), boto3.client("logs", region_name=region)
    networking = network(boto3.client("ec2", region_name=region), name, settings, names)
    label = f"ci-{mode}" + (f"-pr-{pr}" if pr else "")
    task_arn = start_task(ecs, names, networking, variables, label)
    task_id = task_arn.rsplit("/", 1)[-1]
    stream = f"{TASK_LOG_STREAM_PREFIX}/{names['container']}/{task_id}"
    print(f"ci: started {mode} task {task_id} of {names['ci_task_family']} on {names['ecs_cluster']}; "
          f"its log ({names['ci_log_group']}:{stream}) follows", file=out, flush=True)  # fmt: skip
    log = LogStream(logs, names["ci_log_group"], stream, out)
    poll = float(os.environ.get("CI_POLL_SECONDS", "5"))
    previous = None
    if threading.current_thread() is threading.main_thread():
        # A cancelled job (a newer push, the pull request closed) stops its task too.
        def cancel(signum, frame):
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, cancel)
    try:
        task = wait_for(ecs, names["ecs_cluster"], task_arn, log, poll)
    except KeyboardInterrupt:
        ecs.stop_task(cluster=names["ecs_cluster"], task=task_arn, reason=f"{label}: the CI job was cancelled")
        print(f"ci: cancelled; stopped task {task_id}", file=sys.stderr, flush=True)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    code = exit_code_of(task, names["container"])
    print(f"ci: task {task_id} stopped with exit code {code}" + ("" if code else ": passed"), file=out, flush=True)
    if mode == "ci":
        prefix = CI_PREFIX.format(project=project, environment=name, pr=pr)
        results, where = read_run_results(s3, names["docs_bucket"], prefix, log.artifacts_url)
        write_summary(summary(results, where, name, pr, code))
    return code


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
    if command == "oidc-subject-check" and args in ([], ["-"]):
        return oidc_subject_check(load(), sys.stdin.read() if args else None)
    if command == "deploy-dag" and len(args) == 1 and args[0]:
        return deploy_dag(args[0])
    if command in ("ci-remote", "ci-cleanup") and len(args) >= 2:
        name, pr, rest = args[0], args[1], args[2:]
        commit = rest[1] if command == "ci-remote" and len(rest) == 2 and rest[0] == "--commit" else ""
        if not rest or commit:
            return ci_task(load(), name, "ci" if command == "ci-remote" else "cleanup", pr_number(pr), commit)
    if command in ("ci-remote", "ci-cleanup") and len(args) == 1:
        raise fail(f"the pull request number is missing: {command} {args[0]} PR, e.g. make {command} PR=7")
    if command == "ci-sweep" and len(args) == 1:
        return ci_task(load(), args[0], "sweep")
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
