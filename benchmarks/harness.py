"""What the benchmarks share: CPU and memory readings, running a contender in its own
process, the machine's description, and updating one section of RESULTS.md (a results table
or a profile)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import resource
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

THREAD_VARS = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "MKL_NUM_THREADS")


def cpu_times() -> tuple[float, float]:
    """(user, system) CPU seconds of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def count_lines(path: Path) -> int:
    """Line ends in the file at ``path``, read 16 MB at a time."""
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            n += chunk.count(b"\n")
    return n


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def pin_one_cpu() -> int | None:
    """Pin this process to one CPU (the last one allowed); returns it."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def run_contender(name: str, script: Path, args: Sequence[str], *,
                  all_threads: bool) -> dict[str, Any]:
    """Run ``script --contender name args...`` in a fresh interpreter and return the JSON it
    prints on its ``RESULT `` line; with ``all_threads`` the thread caps are lifted."""
    cmd = [sys.executable, str(script), "--contender", name, *args]
    env = dict(os.environ)
    if all_threads:
        for var in THREAD_VARS:
            env.pop(var, None)
    print(f"running {name} ...", flush=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stdout}\n{proc.stderr}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT "):])
    return result


def machine(packages: Sequence[str]) -> dict[str, str]:
    """CPU, memory, OS, load and the versions of ``packages`` ("not installed" if absent)."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024**2:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for package in packages:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "mem": mem,
            "python": platform.python_version(),
            "os": f"{platform.system()} {platform.release()}",
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()), **versions}


def replace_section(results: Path, title: str, section: str) -> None:
    """Replace the ``## title`` section of ``results`` (up to the next ``## ``), or append it."""
    old = results.read_text() if results.exists() else "# Benchmark results\n\n"
    pattern = re.compile("^" + re.escape(title) + r"$.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _m: section + "\n", old) if pattern.search(old) else (
        old.rstrip("\n") + "\n\n" + section)
    results.write_text(new.rstrip("\n") + "\n")
    print(f"updated {results} ({title[3:]})")


def write_profile(results: Path, title: str, command: str, setting: str, text: str,
                  extra: Sequence[str] = ()) -> None:
    """Replace the ``title`` section with a profile's ``text`` in a code block, after a line
    saying when and how (``command``, ``setting``) it was measured and any ``extra`` lines."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        title,
        "",
        f"Measured {stamp} with `{command}` ({setting}). Tracing and cProfile add overhead and "
        "the machine is shared, so read the shares, not the absolute seconds.",
        "",
        *extra,
        "```",
        text,
        "```",
        "",
    ]
    replace_section(results, title, "\n".join(body))
