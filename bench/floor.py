"""The floor the runner is measured against: `dbt build` then `docs generate` in one process.

Nothing else: no debug, no freshness, no artifact handling. What the runner takes above
this is its overhead.

usage: python floor.py PROJECT_DIR PROFILES_DIR
"""

import sys

from dbt.cli.main import dbtRunner


def main() -> int:
    project_dir, profiles_dir = sys.argv[1:3]
    dirs = ["--project-dir", project_dir, "--profiles-dir", profiles_dir]
    runner = dbtRunner()
    for command in (["build"], ["docs", "generate"]):
        if not runner.invoke([*command, *dirs]).success:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
