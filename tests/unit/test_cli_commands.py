"""The root command lists every command without importing it, and runs each as before."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from lpscore import __version__
from lpscore.cli import COMMANDS, app, load_command

runner = CliRunner()

HEAVY = ("polars", "numpy", "pyarrow", "numba", "fastapi", "uvicorn", "confluent_kafka",
         "dask", "distributed", "redis")


def test_the_root_command_imports_no_command_module() -> None:
    # `lpscore version` and `lpscore --help` took 0.9-1.0 s importing every command's
    # dependencies; a command's module is imported when it runs
    code = ("import sys, lpscore.cli; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules)); "
            "print(sorted(m for m in sys.modules if m.startswith('lpscore.cli_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["[]", "[]"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_help_is_its_command_s_own(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    first = re.split(r"\n\s*\n", command.help or "")[0]
    assert " ".join(first.split()) == COMMANDS[name][2]


def test_help_lists_every_command_and_version_runs() -> None:
    listed = runner.invoke(app, ["--help"])
    assert listed.exit_code == 0
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", listed.output).split())   # the panel unwrapped
    for name, (_, _, short) in COMMANDS.items():
        assert f" {name} {short}" in text, name
    assert " version Print the lpscore version." in text
    version = runner.invoke(app, ["version"])
    assert (version.exit_code, version.output.strip()) == (0, __version__)


def test_a_command_runs_with_its_own_options_and_subcommands() -> None:
    users = runner.invoke(app, ["users", "--help"])
    assert users.exit_code == 0
    assert "add" in users.output and "--install-completion" not in users.output
    wrong = runner.invoke(app, ["ingest", "--no-such-option"])
    assert wrong.exit_code == 2 and "No such option" in wrong.output


def test_a_misspelt_command_is_named_with_the_close_ones() -> None:
    result = runner.invoke(app, ["scor"])
    assert result.exit_code == 2
    assert "Did you mean 'score', 'scores'?" in result.output
