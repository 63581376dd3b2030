"""Time one DAG file's import the way Airflow's DAG processor does: a DagBag over that file.

Runs inside the Airflow virtualenv. Prints the seconds DagBag took to fill and the number of
import errors, as `seconds errors dags`. Importing Airflow itself is not counted: a scheduler
has it loaded already; what it pays per parse is the DAG file.

usage: python dag_import.py DAG_FILE
"""

import sys
import time


def main() -> int:
    dag_file = sys.argv[1]
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2 and early 3.x
        from airflow.models.dagbag import DagBag

    start = time.perf_counter()
    # safe_mode off: import the file even though it may not look like a DAG file to the heuristic.
    bag = DagBag(dag_folder=dag_file, safe_mode=False)
    seconds = time.perf_counter() - start
    for path, error in bag.import_errors.items():
        print(f"import error in {path}: {error.strip().splitlines()[-1]}", file=sys.stderr)
    print(f"{seconds:.4f} {len(bag.import_errors)} {len(bag.dags)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
