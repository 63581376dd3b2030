"""The benchmark harness (`make bench`) works: a tiny run produces every result line.

Timings are not asserted (the machine is shared); what is asserted is that each case ran its
real processes to success and reported a well-formed `name: value` line, and that a case that
cannot run says so and fails instead of printing a number.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench import generate

REPO_ROOT = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"^\d+(\.\d+)?$")


def start_bench(workdir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", "--profile", "tiny", "--workdir", str(workdir), *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish_bench(proc: subprocess.Popen[str]) -> tuple[int, dict[str, str], str]:
    output, _ = proc.communicate(timeout=300)
    values = dict(line.split(": ", 1) for line in output.splitlines() if re.match(r"^[a-z0-9_]+: ", line))
    return proc.returncode, values, output


def run_bench(workdir: Path, *args: str) -> tuple[int, dict[str, str], str]:
    return finish_bench(start_bench(workdir, *args))


def test_generator_layers_the_project(tmp_path: Path) -> None:
    shape = generate.write_models(tmp_path / "models", 50)
    sources, staging, intermediate, marts = generate.layer_sizes(50)
    assert (sources, staging, intermediate, marts) == (15, 15, 20, 15)
    assert len(list((tmp_path / "models" / "staging").glob("stg_*.sql"))) == staging
    assert len(list((tmp_path / "models" / "intermediate").glob("int_*.sql"))) == intermediate
    assert len(list((tmp_path / "models" / "marts").glob("mart_*.sql"))) == marts
    assert shape["tests"] == 2 * 50 + 15
    # Fan-in: every mart joins at least two intermediate models.
    for mart in (tmp_path / "models" / "marts").glob("mart_*.sql"):
        assert len(re.findall(r"ref\('int_\d+'\)", mart.read_text())) >= 2
    # Same N, same project: the benchmark is repeatable.
    again = generate.write_models(tmp_path / "again", 50)
    assert again["leaf"] == shape["leaf"]
    assert (tmp_path / "again" / "marts" / "mart_0003.sql").read_text() == (
        tmp_path / "models" / "marts" / "mart_0003.sql"
    ).read_text()


def test_tiny_run_reports_every_dbt_case(tmp_path: Path) -> None:
    # Two harness processes side by side (the test proves the output, not the speed): the three
    # pipeline sides in one, slim CI, DAG import, bake and suite in the other.
    pipeline = start_bench(tmp_path / "pipeline", "--cases", "pipeline")
    others = start_bench(tmp_path / "others", "--cases", "slim_vs_full,dag_import,bake,suite", "--suite-seconds", "321")
    code, values, output = finish_bench(pipeline)
    assert code == 0, output
    others_code, others_values, others_output = finish_bench(others)
    assert others_code == 0, others_output
    values.update(others_values)
    output += others_output
    for ratio in ("runner_vs_seed", "runner_overhead", "slim_vs_full"):
        assert NUMBER.match(values[ratio]), (ratio, values.get(ratio), output)
        assert float(values[ratio]) > 0
    assert values["ratio_models"] == "12"
    assert NUMBER.match(values["runner_peak_rss_mb_n12"]) and float(values["runner_peak_rss_mb_n12"]) > 0
    assert NUMBER.match(values["bake_s"])
    # The generated DAG imports cleanly; the seed DAG's STS call fails without credentials.
    assert NUMBER.match(values["dag_import_s"]) and float(values["dag_import_s"]) > 0
    assert values["dag_import_errors"] == "0"
    assert values["seed_dag_import_errors"] == "1"
    assert NUMBER.match(values["dag_reparse_s"])
    assert values["suite_s"] == "321"
    # The table has a row per side, before the result lines.
    for side in ("seed", "floor", "runner", "slim", "full", "generated", "cookiecutter"):
        assert re.search(rf"^\S+\s+\S+\s+{side}\s+1\s", output, re.MULTILINE), side
    # The machine-readable lines come last.
    last = [line for line in output.splitlines() if line.strip()][-1]
    assert re.match(r"^[a-z0-9_]+: ", last), last


def test_suite_time_is_read_from_a_junit_report(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="2" time="400.5"/>'
        '<testsuite name="more" tests="1" time="99.5"/></testsuites>'
    )
    code, values, output = run_bench(tmp_path, "--cases", "suite", "--junit", str(junit))
    assert code == 0, output
    assert values["suite_s"] == "500"


def test_an_unrecorded_suite_time_is_said_not_guessed(tmp_path: Path) -> None:
    code, values, output = run_bench(tmp_path, "--cases", "suite", "--junit", str(tmp_path / "absent.xml"))
    assert code == 0, output
    assert values["suite_s"] == "unrecorded"
    assert "# suite_s: no recorded suite run" in output
