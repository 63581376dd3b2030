"""Time one DAG file's import the way Airflow's DAG processor does: a DagBag over that file.

Runs inside the Airflow virtualenv. Prints the seconds DagBag took to fill, the number of
import errors and of DAGs, and the seconds of a second fill, as `seconds errors dags warm`.
Importing Airflow itself is not counted: a scheduler has it loaded already; what it pays per
parse is the DAG file.

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

    # safe_mode off: import the file even though it may not look like a DAG file to the heuristic.
    start = time.perf_counter()
    bag = DagBag(dag_folder=dag_file, safe_mode=False)
    seconds = time.perf_counter() - start
    # Again, with the modules the file imports already loaded: what a DAG processor pays per
    # parse when it pre-imports them ([dag_processor] parsing_pre_import_modules, the default).
    start = time.perf_counter()
    DagBag(dag_folder=dag_file, safe_mode=False)
    warm = time.perf_counter() - start
    for path, error in bag.import_errors.items():
        print(f"import error in {path}: {error.strip().splitlines()[-1]}", file=sys.stderr)
    print(f"{seconds:.4f} {len(bag.import_errors)} {len(bag.dags)} {warm:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
