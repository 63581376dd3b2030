"""The README's two ways of answering (command line, config file) bake the same project."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
COOKIECUTTER = str(Path(sys.executable).parent / "cookiecutter")


def code_block(after: str, language: str) -> str:
    section = README[README.index(after) :]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


def test_command_line_and_config_file_examples_agree(tmp_path: Path) -> None:
    command = code_block("### Answers on the command line", "bash").replace("\\\n", " ")
    cli_args = shlex.split(command)[1:]
    cli_args[cli_args.index("gh:<org>/cookiecutter-dbt-aws")] = str(REPO_ROOT)
    by_cli = run([COOKIECUTTER, *cli_args, "--output-dir", str(tmp_path / "cli")], tmp_path)
    assert by_cli.returncode == 0, by_cli.stderr

    (tmp_path / "sales-dbt.yaml").write_text(code_block("### Answers in a config file", "yaml"))
    by_file = run(
        [COOKIECUTTER, "--no-input", "--config-file", "sales-dbt.yaml", str(REPO_ROOT), "--output-dir", "file"],
        tmp_path,
    )
    assert by_file.returncode == 0, by_file.stderr

    cli_doc = json.loads((tmp_path / "cli/sales-dbt/environments.json").read_text())
    file_doc = json.loads((tmp_path / "file/sales-dbt/environments.json").read_text())
    assert cli_doc == file_doc
    assert list(cli_doc["environments"]) == ["dev", "staging", "live"]
    assert cli_doc["environments"]["live"]["subnet_ids"] == ["subnet-2a1b2c3d", "subnet-2a1b2c3e"]


def test_readme_documents_every_question() -> None:
    answers = [key for key in json.loads((REPO_ROOT / "cookiecutter.json").read_text()) if not key.startswith("_")]
    table = README[README.index("### The questions") : README.index("### Answers on the command line")]
    missing = [key for key in answers if f"| `{key}` |" not in table]
    assert missing == []


def test_readme_shows_the_hook_error_format(tmp_path: Path) -> None:
    example = code_block("Wrong answers are all reported at once", "text")
    result = run(
        [
            COOKIECUTTER,
            "--no-input",
            str(REPO_ROOT),
            "aws_account_ids=dev=123 live=222222222222",
            "fargate_memory=512",
            "--output-dir",
            str(tmp_path),
        ],
        tmp_path,
    )
    ours = [line for line in result.stderr.splitlines() if line.startswith(("cookiecutter-dbt-aws:", "  - "))]
    assert result.returncode == 1
    assert ours == example.strip().splitlines()
    assert list(tmp_path.iterdir()) == [], "a rejected bake must leave no directory behind"
