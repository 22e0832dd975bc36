"""``lpscore ARGS`` in a subprocess for tests: ``python -m lpscore.cli`` of the interpreter
running the tests, its output captured as text, its exit code left to the test to check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def command(*args: str | Path) -> list[str]:
    """The argv of ``lpscore ARGS`` (for ``subprocess.Popen``)."""
    return [sys.executable, "-m", "lpscore.cli", *map(str, args)]


def lpscore(*args: str | Path, input: str | None = None,
            env: Mapping[str, str] | None = None, cwd: Path | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``lpscore ARGS`` run to its end, stdout and stderr captured as text, whatever its exit
    code. ``input`` is its stdin; ``env`` holds variables set on top of the current
    environment (``{"COLUMNS": "80"}``: a terminal 80 wide); ``timeout`` in seconds."""
    return subprocess.run(command(*args), input=input, capture_output=True, text=True,
                          check=False, env=None if env is None else {**os.environ, **env},
                          cwd=cwd, timeout=timeout)


def strict_loads(text: str) -> object:
    """``text`` parsed as standard JSON: NaN and the infinities, which ``json.loads`` takes
    and strict parsers refuse, fail the test."""
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON: not standard JSON")

    return json.loads(text, parse_constant=refuse)
