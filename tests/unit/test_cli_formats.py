"""Every ``--format`` offers what its command prints: CSV only where the result is a table."""

from __future__ import annotations

from enum import Enum

from lpscore.cli import COMMANDS, load_command

TABULAR = {"kpis"}
"""Commands whose result is one table per file, and so has a CSV form."""


def test_csv_is_offered_only_by_the_commands_that_print_it() -> None:
    offered = {}
    for name in COMMANDS:
        options = [p for p in load_command(name).params if "--format" in p.opts]
        if options:
            (option,) = options
            choices = option.type_descriptor.annotation     # the option's enum
            assert issubclass(choices, Enum), name
            offered[name] = {member.value for member in choices}
    assert {"ingest", "kpis", "score", "publish", "scores", "route"} <= set(offered)
    for name, choices in offered.items():
        # asked for CSV, the others printed their table (publish, scores, route, ingest)
        assert choices == ({"table", "json", "csv"} if name in TABULAR else {"table", "json"}), name
