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


def test_a_value_that_rounds_to_zero_prints_without_a_sign() -> None:
    """LP_D's E/Q of -0.0004 printed as -0.00 (the table and the report)."""
    from lpscore.cli_kpis import _fmt  # noqa: PLC0415
    from lpscore.report.fmt import fmt  # noqa: PLC0415

    assert [_fmt(v, k) for v, k in [(-0.0004, "ratio"), (-0.0004, "pct"), (-0.0004, "pp"),
                                     (-0.006, "bps"), (0.692, "pp"), (-0.05, "pct")]] == [
        "0.00", "0.0%", "+0.0 pp", "-0.01", "+69.2 pp", "-5.0%"]
    assert [fmt(k, v) for v, k in [(-0.0004, "ratio"), (-0.00001, "pct"), (-0.00001, "pp"),
                                    (-0.4, "int"), (-0.006, "bps"), (-1234.0, "money")]] == [
        "0.00", "0.00%", "+0.00 pp", "0", "-0.01", "-1,234.00"]
