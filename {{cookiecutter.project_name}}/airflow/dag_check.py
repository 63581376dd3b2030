"""Parse the DAG as Airflow's DAG processor does, once per deployment environment.

Run by `make dag-check` with an Airflow virtualenv's Python. Exits 1 on any import error.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

DAGS = Path(__file__).resolve().parent / "dags"


def main() -> int:
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
    except ImportError:
        from airflow.models.dagbag import DagBag
    kwargs = {"include_examples": False} if "include_examples" in DagBag.__init__.__code__.co_varnames else {}
    (environments_file,) = DAGS.glob("*_environments.json")
    section = environments_file.name.removesuffix("_environments.json")
    failed = False
    for environment in json.loads(environments_file.read_text())["environments"]:
        os.environ[f"AIRFLOW__{section.upper()}__ENVIRONMENT"] = environment
        start = time.perf_counter()
        bag = DagBag(dag_folder=str(DAGS), **kwargs)
        seconds = time.perf_counter() - start
        for path, error in bag.import_errors.items():
            failed = True
            print(f"dag-check: {environment}: {path}:\n{error}", file=sys.stderr)
        print(f"dag-check: {environment}: {', '.join(sorted(bag.dag_ids)) or 'no DAG'} in {seconds:.2f}s")
        failed = failed or not bag.dag_ids
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
