"""Export dbt's artifacts to a URL: s3://bucket/prefix/ in deployments, file:///dir/ locally."""

from __future__ import annotations

import mimetypes
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from runner import log

TARGET_FILES = ("manifest.json", "run_results.json", "sources.json", "catalog.json", "index.html", "static_index.html")
LOG_FILE = "dbt.log"


class ExportError(Exception):
    """An artifact could not be written to its destination."""


def clear(target_dir: Path, log_dir: Path) -> None:
    """Remove a previous run's artifacts, so a failed step never exports stale ones.

    partial_parse.msgpack stays: it is what lets `parse` skip unchanged files.
    """
    for path in [target_dir / name for name in TARGET_FILES] + [log_dir / LOG_FILE]:
        path.unlink(missing_ok=True)


def collect(target_dir: Path, log_dir: Path) -> list[Path]:
    found = [path for path in [target_dir / name for name in TARGET_FILES] + [log_dir / LOG_FILE] if path.is_file()]
    missing = sorted({*TARGET_FILES, LOG_FILE} - {path.name for path in found})
    if missing:
        log.warn(f"not produced by this run, not exported: {', '.join(missing)}")
    return found


def export(files: list[Path], url: str) -> None:
    """Copy `files` under `url`; raise ExportError with a one-line reason."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        _to_directory(files, Path(unquote(parsed.path)))
    elif parsed.scheme == "s3" and parsed.netloc:
        _to_s3(files, parsed.netloc, parsed.path.lstrip("/"))
    else:
        raise ExportError(f"unsupported artifacts URL {url!r}; use s3://bucket/prefix/ or file:///directory/")
    log.info(f"exported {len(files)} artifact(s) to {url}")


def _to_directory(files: list[Path], directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copyfile(path, directory / path.name)
    except OSError as error:
        raise ExportError(f"cannot write to {directory}: {error.strerror or error}") from None


def _to_s3(files: list[Path], bucket: str, prefix: str) -> None:
    import boto3  # imported late: local runs never need AWS

    if prefix and not prefix.endswith("/"):
        prefix += "/"
    client = boto3.client("s3")
    for path in files:
        key = prefix + path.name
        content_type = mimetypes.guess_type(path.name)[0] or "text/plain"
        try:
            client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type})
        except Exception as error:  # noqa: BLE001 - every failure becomes one line
            # boto3 wraps the service error; its code (AccessDenied, NoSuchBucket) is the reason.
            found = re.search(r"\((\w+)\)", str(error))
            code = found.group(1) if found else type(error).__name__
            raise ExportError(f"upload of s3://{bucket}/{key} failed: {code}") from None
