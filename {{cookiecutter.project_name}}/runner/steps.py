"""The dbt steps of one run, in one process, parsing the project once.

`parse` builds the manifest (partial parsing reuses what the image build
parsed); every later command gets that manifest instead of parsing again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dbt.cli.main import dbtRunner, dbtRunnerResult

from runner import log

# Node statuses that fail a build.
FAILED = {"error", "fail", "runtime error"}


@dataclass
class Outcome:
    step: str
    ok: bool
    reason: str = ""
    warnings: list[str] = field(default_factory=list)


class Pipeline:
    def __init__(
        self, project_dir: Path, target_dir: Path, log_format: str, build_args: list[str], fail_on_stale: bool
    ):
        self.target_dir = target_dir
        # No colour codes: CloudWatch stores the lines verbatim.
        self.common = ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir), "--no-use-colors"]
        self.log_format = log_format
        self.build_args = build_args
        self.fail_on_stale = fail_on_stale
        self.messages: list[str] = []
        self.runner = dbtRunner(callbacks=[self._record])

    def _record(self, event) -> None:
        # dbt reports some failures (a refused connection) only as log messages.
        self.messages.append(event.info.msg)

    def invoke(self, *args: str) -> dbtRunnerResult:
        command = [*args, *self.common, "--log-format", self.log_format]
        log.info(f"dbt {' '.join(args)}")
        self.messages.clear()
        return self.runner.invoke(command)

    def parse(self) -> Outcome:
        result = self.invoke("parse")
        if not result.success:
            return Outcome("parse", False, _exception(result) or "the project does not parse")
        self.runner = dbtRunner(manifest=result.result, callbacks=[self._record])
        return Outcome("parse", True)

    def debug(self) -> Outcome:
        result = self.invoke("debug", "--connection")
        if not result.success:
            return Outcome("debug", False, _exception(result) or self._connection_error())
        return Outcome("debug", True)

    def build(self) -> Outcome:
        result = self.invoke("build", *self.build_args)
        if result.success:
            return Outcome("build", True)
        failed = _failed_nodes(result)
        if not failed:
            return Outcome("build", False, _exception(result) or "dbt build failed")
        # The first few keep the line readable; run_results.json has every one.
        more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
        return Outcome("build", False, "; ".join(failed[:3]) + more)

    def run_operation(self, macro: str, args: str) -> Outcome:
        result = self.invoke("run-operation", macro, "--args", args)
        if result.success:
            return Outcome("run-operation", True)
        # The macro's own exceptions.raise_compiler_error message is the reason worth keeping.
        return Outcome("run-operation", False, _exception(result) or self._last_error() or f"{macro} failed")

    def source_freshness(self) -> Outcome:
        """Stale sources (past error_after) fail the run only if the answer says so; broken ones always do."""
        result = self.invoke("source", "freshness")
        broken, stale, nearly_stale = [], [], []
        for node in getattr(result.result, "results", None) or []:
            status = str(getattr(node.status, "value", node.status))
            name = node.node.unique_id
            if status == "runtime error":
                broken.append(f"{name}: {_one_line(node.message)}")
            elif status == "error":
                stale.append(f"{name} is stale")
            elif status == "warn":
                nearly_stale.append(f"{name} is past warn_after")
        if broken or result.exception is not None:
            return Outcome("source freshness", False, "; ".join(broken) or _exception(result))
        if stale and self.fail_on_stale:
            return Outcome("source freshness", False, "; ".join(stale), warnings=nearly_stale)
        return Outcome("source freshness", True, warnings=stale + nearly_stale)

    def docs_generate(self) -> Outcome:
        # docs generate compiles the project and writes its own run_results.json over the
        # build's; the build's results are the ones worth keeping.
        run_results = self.target_dir / "run_results.json"
        build_results = run_results.read_bytes() if run_results.is_file() else None
        result = self.invoke("docs", "generate", "--static")
        if build_results is not None:
            run_results.write_bytes(build_results)
        if not result.success:
            return Outcome("docs generate", False, _exception(result) or "dbt docs generate failed")
        return Outcome("docs generate", True)

    def _last_error(self) -> str:
        errors = [message for message in self.messages if "error" in message.lower()]
        return _one_line(errors[-1]) if errors else ""

    def _connection_error(self) -> str:
        marker = "The database returned the following error:"
        for message in self.messages:
            if marker in message:
                error = message.split(marker, 1)[1].split("Check your database credentials", 1)[0]
                return "cannot connect to the warehouse: " + _one_line(error.replace(">", ""))
        return "cannot connect to the warehouse (see dbt's output above)"


def _one_line(message: object, limit: int = 300) -> str:
    """dbt's message on one line: the first line alone often only names the node."""
    text = " ".join(str(message or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _exception(result: dbtRunnerResult) -> str:
    return _one_line(result.exception) if result.exception is not None else ""


def _failed_nodes(result: dbtRunnerResult) -> list[str]:
    failed = []
    for node in getattr(result.result, "results", None) or []:
        status = str(getattr(node.status, "value", node.status))
        if status in FAILED:
            failed.append(f"{node.node.unique_id} {status}: {_one_line(node.message)}")
    return failed
