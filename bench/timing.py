"""Timing whole processes: wall seconds and peak resident memory of each run."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


class CaseUnavailable(RuntimeError):
    """A case cannot run here (a missing part of the template, a missing venv): reported, never faked."""


class RunFailed(RuntimeError):
    """A timed process exited non-zero: its time would measure a failure, not the work."""


@dataclass
class Sample:
    seconds: float
    max_rss_mb: float


@dataclass
class Series:
    case: str
    side: str
    models: int | None
    samples: list[Sample] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [s.seconds for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def peak_rss_mb(self) -> float:
        return max(s.max_rss_mb for s in self.samples)


def run_timed(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Sample:
    """Run cmd to completion and measure it, children included (wait4 rusage of the process tree).

    ru_maxrss of a reaped child is the largest resident set of that child and of the descendants
    it waited for: for a pipeline of processes, the largest single process.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        start = time.perf_counter()
        # A session of its own, so an interrupted benchmark stops the whole tree (the seed
        # script's dbt processes included) instead of leaving it running.
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            raise
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RunFailed(f"{' '.join(cmd)} exited {proc.returncode} (log: {log})\n{tail}")
    return Sample(seconds=seconds, max_rss_mb=rusage.ru_maxrss / 1024)
