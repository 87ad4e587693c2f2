"""Helpers shared by the benchmarks: medians, child processes with their peak memory, the
machine's description, where things are kept."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
CACHE = BENCH_DIR / ".cache"
RESULTS = BENCH_DIR / "results"


def median(values: Sequence[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return value / reference


@dataclass(frozen=True)
class ChildResult:
    """What a benchmark child process printed (its last line, as JSON) and its peak RSS."""

    output: dict
    max_rss_mb: float
    returncode: int
    stderr: str


def run_child(args: Sequence[str], timeout: float = 900) -> ChildResult:
    """Run ``python ...args``; the child prints its result as JSON on its last line of
    stdout, with its peak RSS (see ``peak_rss_mb``). ``wait4`` gives this child's own
    ``ru_maxrss`` (RUSAGE_CHILDREN would give the largest of all children so far), used when
    the child could not report (it crashed)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])]
    )
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=err, env=env, cwd=ROOT)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = out.read().decode("utf-8", "replace").strip().splitlines()
        stderr = err.read().decode("utf-8", "replace")
    try:
        output = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        output = {}
    if proc.returncode != 0 and "error" not in output:
        tail = stderr.strip().splitlines()
        output["error"] = tail[-1] if tail else f"exit code {proc.returncode}"
    # the child's own VmHWM when it could report it; wait4's figure otherwise (an upper bound)
    peak = float(output.get("max_rss_mb") or usage.ru_maxrss / 1024)
    return ChildResult(output, peak, proc.returncode, stderr)


def peak_rss_mb() -> float:
    """This process's peak resident set size since it started its program, in MB.

    ``VmHWM`` from /proc, not ``ru_maxrss``: after fork + exec, Linux carries the parent's
    high-water mark into the child's ``ru_maxrss``, which would count the benchmark runner's
    own memory against a parser."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_report(**values: object) -> None:
    """Print the child's result as the last line of stdout, with its peak RSS."""
    values.setdefault("max_rss_mb", round(peak_rss_mb(), 1))
    print(json.dumps(values), flush=True)


def machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    from lxml import etree

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "lxml": ".".join(map(str, etree.LXML_VERSION)),
        "libxml2": ".".join(map(str, etree.LIBXML_VERSION)),
    }


class Stopwatch:
    """Wall and CPU seconds of a ``with`` block."""

    def __enter__(self) -> Stopwatch:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0
