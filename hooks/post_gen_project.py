"""Remove what the answers switched off, then print the next steps.

Cookiecutter renders this file with the answers and runs it in the new project.
Like the pre-generation hook it is deterministic, offline and never runs
``git init``, so cruft can re-run it on every update.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

# Paths that only exist for one answer: {field: {answer: [paths kept only then]}}.
ONLY_FOR = {
    "ci_provider": {
        "github": [".github"],
        "gitlab": [".gitlab-ci.yml"],
    },
}


def paths_to_remove(answers: dict[str, Any]) -> list[str]:
    """Every path that belongs to an answer other than the one given."""
    remove: list[str] = []
    for field, by_answer in ONLY_FOR.items():
        for answer, paths in by_answer.items():
            if answers.get(field) != answer:
                remove.extend(paths)
    return sorted(remove)


def remove_paths(project_dir: Path, paths: list[str]) -> None:
    for relative in paths:
        path = project_dir / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def missing_warehouses(project_dir: Path) -> list[str]:
    """Environments whose warehouse (cluster identifier or workgroup) is still to be filled in."""
    document = json.loads((project_dir / "environments.json").read_text(encoding="utf-8"))
    return [env for env, settings in document["environments"].items() if not settings["warehouse"]["id"]]


def next_steps(answers: dict[str, Any], missing: list[str]) -> str:
    name = answers["project_name"]
    environments = answers["environments"].split()
    todo = (
        [
            f"TODO: environments.json has no warehouse for {', '.join(missing)}: set each one's "
            "warehouse.id (Redshift cluster identifier or Serverless workgroup) before the first plan."
        ]
        if missing
        else []
    )
    return "\n".join(
        [
            f"Created {name}. Next steps:",
            f"  cd {name}",
            "  make setup      # virtualenv with dbt and the dev tools",
            "  make run        # the whole pipeline on a local DuckDB, artifacts in artifacts/",
            "  git init && git add -A && git commit -m 'Initial commit'",
            f"Deployment environments: {', '.join(environments)} (see environments.json and README.md).",
            *todo,
        ]
    )


def main(answers: dict[str, Any], project_dir: Path) -> int:
    remove_paths(project_dir, paths_to_remove(answers))
    print(next_steps(answers, missing_warehouses(project_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}"""), Path.cwd()))
