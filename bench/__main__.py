"""Benchmarks of the template: `python -m bench` (or `make bench`, `make bench QUICK=1`).

Every case times whole processes, several runs, the sides alternating within one run, and
reports median, min and max. The table comes first; the last lines are `name: value`,
one per result, for machines to read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from bench import generate
from bench.timing import CaseUnavailable, RunFailed, Sample, Series, run_timed

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
TEMPLATE_DIR = REPO_ROOT / "{{cookiecutter.project_name}}"
DEV_BIN = Path(sys.executable).parent
AIRFLOW_PYTHON = REPO_ROOT / ".venvs" / "airflow3" / "bin" / "python"


@dataclass(frozen=True)
class Profile:
    """How big and how often: the full run, QUICK, and the tiny one the test suite runs."""

    pipeline_sizes: tuple[int, ...]
    runs: int
    big_runs: int  # runs at N = 1000, where one seed pipeline takes minutes
    slim_size: int
    bake_runs: int
    dag_runs: int


PROFILES = {
    "full": Profile(pipeline_sizes=(50, 300, 1000), runs=3, big_runs=1, slim_size=300, bake_runs=3, dag_runs=5),
    "quick": Profile(pipeline_sizes=(30,), runs=1, big_runs=1, slim_size=30, bake_runs=2, dag_runs=2),
    "tiny": Profile(pipeline_sizes=(12,), runs=1, big_runs=1, slim_size=12, bake_runs=1, dag_runs=1),
}
CASES = ("pipeline", "slim_vs_full", "dag_import", "bake", "suite")


def bench_env() -> dict[str, str]:
    """The environment every timed process gets: the dev venv first, no AWS credentials, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DBT_"))}
    env["PATH"] = f"{DEV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["DO_NOT_TRACK"] = "1"
    # No credentials anywhere: the seed DAG's STS call must find none, as on a fresh worker.
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_CONFIG_FILE"] = os.devnull
    return env


# ---- workspaces: the baked template with a synthetic dbt project in it ----------------------


@dataclass
class Workspace:
    root: Path  # the baked repository
    project_dir: Path  # its dbt project
    profiles_dir: Path
    shape: dict[str, object]
    env: dict[str, str]
    log: Path
    built: bool = False  # whether a full build ran last, leaving its manifest in target/

    def clean(self) -> None:
        """A cold start for each timed run, as in a fresh container: no target/, no partial parse."""
        for path in (self.project_dir / "target", self.project_dir / "logs", self.root / "artifacts"):
            shutil.rmtree(path, ignore_errors=True)

    def dbt(self, *args: str) -> list[str]:
        return [
            str(DEV_BIN / "dbt"),
            *args,
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.profiles_dir),
        ]

    def timed(self, cmd: list[str], cwd: Path | None = None) -> Sample:
        self.clean()
        return run_timed(cmd, cwd=cwd or self.root, env=self.env, log=self.log)


def bake(output_dir: Path, env: dict[str, str]) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    sample_log = output_dir / "bake.log"
    run_timed(
        [str(DEV_BIN / "cookiecutter"), "--no-input", "--output-dir", str(output_dir), str(REPO_ROOT)],
        cwd=output_dir,
        env=env,
        log=sample_log,
    )
    (project,) = [p for p in output_dir.iterdir() if p.is_dir()]
    return project


def make_workspace(workdir: Path, n_models: int, env: dict[str, str]) -> Workspace:
    """Bake the template and swap its example models for a synthetic project of n_models models."""
    base = workdir / f"n{n_models}"
    shutil.rmtree(base, ignore_errors=True)
    root = bake(base, env)
    project_dir = root / "dbt"
    if (project_dir / "dbt_project.yml").exists():
        for example in ("models", "tests", "seeds", "snapshots"):
            shutil.rmtree(project_dir / example, ignore_errors=True)
        shape = generate.write_models(project_dir / "models", n_models)
    else:
        # A template without its dbt project yet: a standalone one on DuckDB in its place.
        shape = generate.write_standalone(project_dir, n_models)
    ws = Workspace(
        root=root,
        project_dir=project_dir,
        profiles_dir=project_dir,
        shape=shape,
        # One absolute DuckDB file for every side: the profile's default path is relative to the
        # working directory, which differs between the dbt CLI (repository root) and the runner.
        env=dict(env, DBT_DUCKDB_PATH=str(base / "bench.duckdb")),
        log=base / "bench.log",
    )
    generate.create_raw_tables(Path(ws.env["DBT_DUCKDB_PATH"]), shape)
    return ws


# ---- the sides -------------------------------------------------------------------------------


def runner_command(ws: Workspace) -> list[str]:
    """The generated runner, invoked as the generated `make run` invokes it."""
    if not (TEMPLATE_DIR / "runner").is_dir() or not any((ws.root / "runner").glob("*.py")):
        raise CaseUnavailable("the generated runner ({{cookiecutter.project_name}}/runner/) does not exist yet")
    # `make run` runs `python -m runner` from the repository root with ENV unset: a local run.
    return [str(DEV_BIN / "python"), "-m", "runner"]


def seed_command(ws: Workspace) -> list[str]:
    return ["bash", str(BENCH_DIR / "seed_pipeline.sh"), str(ws.project_dir), str(ws.profiles_dir)]


def floor_command(ws: Workspace) -> list[str]:
    return [str(DEV_BIN / "python"), str(BENCH_DIR / "floor.py"), str(ws.project_dir), str(ws.profiles_dir)]


def alternate(sides: dict[str, Callable[[], Sample]], runs: int, series: dict[str, Series]) -> None:
    """Run each side `runs` times, rotating the order every round so no side always goes first."""
    names = list(sides)
    for round_ in range(runs):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            sample = sides[name]()
            series[name].samples.append(sample)
            # Progress on stderr, so an interrupted run still leaves its measurements behind.
            s = series[name]
            print(
                f"bench: {s.case} N={s.models or '-'} {s.side} run {round_ + 1}/{runs}: "
                f"{sample.seconds:.2f} s, {sample.max_rss_mb:.0f} MB",
                file=sys.stderr,
                flush=True,
            )


# ---- the cases -------------------------------------------------------------------------------


class Bench:
    def __init__(self, profile: Profile, workdir: Path, suite_seconds: float | None, junit: Path | None) -> None:
        self.profile = profile
        self.workdir = workdir
        self.env = bench_env()
        self.suite_seconds = suite_seconds
        self.junit = junit
        self.series: list[Series] = []
        self.results: dict[str, str] = {}
        self.unavailable: dict[str, str] = {}
        self.notes: list[str] = []
        self.workspaces: dict[int, Workspace] = {}

    def workspace(self, n_models: int) -> Workspace:
        if n_models not in self.workspaces:
            self.workspaces[n_models] = make_workspace(self.workdir, n_models, self.env)
        return self.workspaces[n_models]

    def add(self, case: str, side: str, models: int | None) -> Series:
        series = Series(case=case, side=side, models=models)
        self.series.append(series)
        return series

    def case_pipeline(self) -> None:
        """runner vs the six-process seed script, and runner vs the one-process floor."""
        ratio_size = 300 if 300 in self.profile.pipeline_sizes else self.profile.pipeline_sizes[-1]
        for n in self.profile.pipeline_sizes:
            ws = self.workspace(n)
            runs = self.profile.runs if n <= 300 else self.profile.big_runs
            sides: dict[str, Callable[[], Sample]] = {
                "seed": lambda ws=ws: ws.timed(seed_command(ws)),
                "floor": lambda ws=ws: ws.timed(floor_command(ws)),
            }
            series = {name: self.add("pipeline", name, n) for name in sides}
            try:
                runner = runner_command(ws)
            except CaseUnavailable as why:
                self.unavailable["runner_vs_seed"] = str(why)
                self.unavailable["runner_overhead"] = str(why)
            else:
                sides["runner"] = lambda ws=ws, cmd=runner: ws.timed(cmd)
                series["runner"] = self.add("pipeline", "runner", n)
            alternate(sides, runs, series)
            ws.built = True
            self.results[f"seed_s_n{n}"] = f"{series['seed'].median:.2f}"
            self.results[f"floor_s_n{n}"] = f"{series['floor'].median:.2f}"
            if "runner" in series:
                self.results[f"runner_s_n{n}"] = f"{series['runner'].median:.2f}"
                self.results[f"runner_peak_rss_mb_n{n}"] = f"{series['runner'].peak_rss_mb:.0f}"
                if n == ratio_size:
                    self.results["runner_vs_seed"] = f"{series['runner'].median / series['seed'].median:.3f}"
                    self.results["runner_overhead"] = f"{series['runner'].median / series['floor'].median:.3f}"
                    self.results["ratio_models"] = str(n)
            self.results[f"floor_peak_rss_mb_n{n}"] = f"{series['floor'].peak_rss_mb:.0f}"

    def case_slim_vs_full(self) -> None:
        """One leaf-side model changed: slim CI (state:modified+ --defer) against a full build."""
        n = self.profile.slim_size
        ws = self.workspace(n)
        state = ws.root.parent / "prod-state"
        # Production as CI sees it: a full build whose manifest is the state to compare with.
        # The pipeline case's last run (every side builds everything) is one; otherwise build now.
        if not ws.built:
            ws.timed(ws.dbt("build"))
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir()
        shutil.copy2(ws.project_dir / "target" / "manifest.json", state / "manifest.json")
        changed = generate.leaf_change(ws.project_dir, ws.shape)
        original = changed.read_text()
        sides = {
            "slim": lambda: ws.timed(ws.dbt("build", "--select", "state:modified+", "--defer", "--state", str(state))),
            "full": lambda: ws.timed(ws.dbt("build")),
        }
        series = {name: self.add("slim_vs_full", name, n) for name in sides}
        try:
            alternate(sides, self.profile.runs, series)
        finally:
            changed.write_text(original)
        self.results["slim_vs_full"] = f"{series['slim'].median / series['full'].median:.3f}"
        self.results["slim_models"] = str(n)

    def case_dag_import(self) -> None:
        """Import time of the generated DAG against the seed DAG that calls STS at import."""
        if not AIRFLOW_PYTHON.exists():
            raise CaseUnavailable(f"{AIRFLOW_PYTHON} is missing; create it with `make venv-airflow3`")
        dag_dir = TEMPLATE_DIR / "airflow" / "dags"
        if not dag_dir.is_dir() or not any(dag_dir.glob("*.py")):
            raise CaseUnavailable("the generated DAG ({{cookiecutter.project_name}}/airflow/dags/) does not exist yet")
        ws = self.workspace(self.profile.pipeline_sizes[0])
        (generated,) = sorted((ws.root / "airflow" / "dags").glob("*.py"))
        home = Path(tempfile.mkdtemp(prefix="airflow-home-", dir=self.workdir))
        # The generated DAG learns its environment from the Airflow configuration, as on MWAA.
        environment = next(iter(json.loads((ws.root / "environments.json").read_text())["environments"]))
        section = ws.root.name.replace("-", "_").upper()
        env = dict(
            ws.env,
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            **{f"AIRFLOW__{section}__ENVIRONMENT": environment},
        )
        errors: dict[str, int] = {}
        dags: dict[str, int] = {}

        def side(name: str, dag_file: Path) -> Callable[[], Sample]:
            def measure() -> Sample:
                out = ws.root.parent / f"dag-{name}.out"
                run_timed(
                    [str(AIRFLOW_PYTHON), str(BENCH_DIR / "dag_import.py"), str(dag_file)],
                    cwd=ws.root,
                    env=env,
                    log=out,
                )
                seconds, n_errors, n_dags, warm = out.read_text().strip().splitlines()[-1].split()
                errors[name], dags[name] = int(n_errors), int(n_dags)
                warm_series[name].samples.append(Sample(seconds=float(warm), max_rss_mb=0.0))
                out.unlink()
                return Sample(seconds=float(seconds), max_rss_mb=0.0)

            return measure

        sides = {"generated": side("generated", generated), "seed": side("seed", BENCH_DIR / "seed_dag.py")}
        series = {name: self.add("dag_import", name, None) for name in sides}
        warm_series = {name: self.add("dag_reparse", name, None) for name in sides}
        alternate(sides, self.profile.dag_runs, series)
        if errors["generated"] or not dags["generated"]:
            # A failed import is fast and proves nothing: no number for it.
            series["generated"].samples.clear()
            raise RunFailed(
                f"the generated DAG did not import: {errors['generated']} error(s), {dags['generated']} DAG(s)"
            )
        self.results["dag_import_s"] = f"{series['generated'].median:.3f}"
        self.results["seed_dag_import_s"] = f"{series['seed'].median:.3f}"
        self.results["dag_reparse_s"] = f"{warm_series['generated'].median:.3f}"
        self.results["seed_dag_reparse_s"] = f"{warm_series['seed'].median:.3f}"
        self.results["dag_import_errors"] = str(errors["generated"])
        self.results["seed_dag_import_errors"] = str(errors["seed"])

    def case_bake(self) -> None:
        series = self.add("bake", "cookiecutter", None)
        for i in range(self.profile.bake_runs):
            out = self.workdir / "bake" / str(i)
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            series.samples.append(
                run_timed(
                    [str(DEV_BIN / "cookiecutter"), "--no-input", "--output-dir", str(out), str(REPO_ROOT)],
                    cwd=out,
                    env=self.env,
                    log=self.workdir / "bake.log",
                )
            )
        self.results["bake_s"] = f"{series.median:.2f}"

    def case_suite(self) -> None:
        """The whole template test suite: read from a recorded run, never run here (it takes minutes)."""
        if self.suite_seconds is not None:
            self.results["suite_s"] = f"{self.suite_seconds:.0f}"
            self.results["suite_source"] = "SUITE_SECONDS"
        elif self.junit is not None and self.junit.exists():
            root = ET.parse(self.junit).getroot()
            suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
            self.results["suite_s"] = f"{sum(float(s.get('time', 0)) for s in suites):.0f}"
            self.results["suite_source"] = str(self.junit)
        else:
            # Not a failure of the benchmark: the suite simply has not been timed yet. Said, not guessed.
            self.results["suite_s"] = "unrecorded"
            self.notes.append(
                "# suite_s: no recorded suite run: pass SUITE_SECONDS=<s> or record one with "
                "`make test PYTEST_ARGS=--junitxml=build/junit.xml`"
            )

    def run(self, cases: list[str]) -> None:
        for case in cases:
            print(f"bench: {case} ...", file=sys.stderr, flush=True)
            try:
                getattr(self, f"case_{case}")()
            except CaseUnavailable as why:
                self.unavailable[case] = str(why)
            except RunFailed as failure:
                self.unavailable[case] = f"failed: {failure}"

    def report(self) -> str:
        header = (
            f"{'case':<14} {'N':>5} {'side':<12} {'runs':>4} {'median_s':>9} {'min_s':>8} {'max_s':>8} {'rss_mb':>7}"
        )
        lines = [header, "-" * len(header)]
        for s in self.series:
            if not s.samples:
                continue
            rss = f"{s.peak_rss_mb:7.0f}" if s.peak_rss_mb else f"{'-':>7}"
            lines.append(
                f"{s.case:<14} {s.models if s.models else '-':>5} {s.side:<12} {len(s.samples):>4} "
                f"{s.median:9.2f} {min(s.times):8.2f} {max(s.times):8.2f} {rss}"
            )
        lines.append("")
        lines.extend(self.notes)
        for name, why in self.unavailable.items():
            lines.append(f"# {name} did not run: {why.splitlines()[0]}")
        for name, value in self.results.items():
            lines.append(f"{name}: {value}")
        for name in self.unavailable:
            lines.append(f"{name}: unavailable")
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "build" / "bench")
    parser.add_argument("--sizes", help="comma-separated model counts of the pipeline case (overrides the profile)")
    parser.add_argument("--runs", type=int, help="repetitions per side (overrides the profile)")
    parser.add_argument("--suite-seconds", type=float, default=None, help="whole test suite time of a recorded run")
    parser.add_argument("--junit", type=Path, default=REPO_ROOT / "build" / "junit.xml")
    args = parser.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")

    args.workdir.mkdir(parents=True, exist_ok=True)
    # `kill <pid>` stops the run as Ctrl-C does: through the handler that stops the timed process tree.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    profile = PROFILES[args.profile]
    if args.sizes:
        profile = replace(profile, pipeline_sizes=tuple(int(n) for n in args.sizes.split(",")))
    if args.runs:
        profile = replace(profile, runs=args.runs)
    bench = Bench(profile, args.workdir.resolve(), args.suite_seconds, args.junit)
    bench.run(cases)
    print(bench.report())
    return 1 if bench.unavailable else 0


if __name__ == "__main__":
    sys.exit(main())
