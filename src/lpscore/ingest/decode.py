"""From raw message rows (string columns per tag) to typed canonical events.

Both the vectorised and the precise framing paths produce the same raw rows, so typing,
validation, direction and LP attribution happen once, here, as Polars expressions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from lpscore.config import IngestConfig
from lpscore.fix.tags import ADMIN_MSG_TYPES, MSG_TYPES
from lpscore.ingest.records import exact_timestamps, tag_column, time_column
from lpscore.model.enums import FILL_EXEC_TYPES, EventKind, ExecType

__all__ = ["EVENT_KINDS", "classify", "fix_timestamps", "typed_rows", "wanted_tags"]

EVENT_KINDS = frozenset(k.value for k in EventKind)
_HEADER = (35, 49, 56, 34, 43, 97, 52, 141)
"""Header tags something reads (OrigSendingTime 122 and ApplVerID 1128 are not read: each
wanted tag costs a column of the scan, ~16 MB a million messages)."""
_APP = (11, 41, 37, 17, 19, 20, 150, 39, 55, 54, 38, 44, 40, 59, 100,
        32, 31, 14, 151, 6, 60, 103, 58, 434, 102, 45, 371, 372, 373)
_EXEC_TYPES = [e.value for e in ExecType]
_SIDES = {"1": 1, "2": -1, "5": -1, "6": -1}
_FIX_TIME = "%Y%m%d-%H:%M:%S%.f"
_REQUIRED: dict[str, tuple[int, ...]] = {
    "D": (11, 55, 54, 38),
    "F": (11, 41),
    "G": (11, 41, 55, 54, 38),
    "8": (150, 17),
    "9": (11,),
    "3": (45,),
}
_FLOATS = (38, 44, 32, 31, 14, 151, 6)
_INTS: dict[int, type[pl.DataType]] = {103: pl.Int32, 102: pl.Int32, 45: pl.Int64,
                                        371: pl.Int32, 373: pl.Int32}
"""Integer tags and the width of their event column: a value that does not fit is a
bad_value, not an error when the events are built."""


_CATEGORIES = (dict.fromkeys(MSG_TYPES, "not_used") | dict.fromkeys(ADMIN_MSG_TYPES, "admin")
               | dict.fromkeys(EVENT_KINDS, "event"))
"""MsgType -> category (see ``classify``): one lookup a row instead of three ``is_in``."""


def wanted_tags(config: IngestConfig) -> list[int]:
    """Every tag whose first value the decoder reads."""
    return sorted({*_HEADER, *_APP, config.parent_tag})


def _t(tag: int) -> pl.Expr:
    return pl.col(tag_column(tag))


def classify(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``category``: event, admin, not_used (a known message lpscore does not score) or
    unknown_msg_type."""
    return frame.with_columns(_t(35).replace_strict(
        _CATEGORIES, default="unknown_msg_type", return_dtype=pl.String).alias("category"))


def fix_timestamps(values: pl.Series, tz: str = "UTC",
                   exact: pl.Series | None = None) -> pl.Series:
    """FIX UTCTimestamps (``YYYYMMDD-HH:MM:SS[.fff...]``) read in time zone ``tz``, as
    Datetime(ns, UTC); null where ``values`` is null or not such a time, or not one
    instant in ``tz`` (a daylight-saving change skipped it or repeats it).

    Polars' parser takes ~0.3 us a value, most of the typing of a large log. Strings of
    exactly that layout with a valid date and time (nearly all) are parsed by a compiled
    loop: ``exact``, their epoch ns as lpscore.ingest.records.exact_timestamps gives them
    (the scanner parses them while it reads the message; computed here when not given);
    every other string by Polars with the format, so the result is Polars' for every value.
    """
    valid = values.is_not_null().to_numpy()
    if exact is None:
        exact = exact_timestamps(values)
    known = exact.is_not_null().to_numpy()
    ns = exact.fill_null(0).to_numpy(writable=True)
    rest = np.flatnonzero(valid & ~known)
    if len(rest):
        other = values.gather(rest).str.to_datetime(_FIX_TIME, time_unit="ns", strict=False)
        ns[rest] = other.dt.epoch("ns").fill_null(0).to_numpy()
        known[rest] = other.is_not_null().to_numpy()
    naive = pl.Series(values.name, pa.array(ns, mask=~known)).cast(pl.Datetime("ns"))
    # a local time the clocks skipped, or showed twice, names no single instant: null, and
    # counted (capture_prefix_unparsed) like any other capture time that cannot be read
    return naive.dt.replace_time_zone(tz, ambiguous="null", non_existent="null") \
        .dt.convert_time_zone("UTC")


def _exact(frame: pl.DataFrame, column: str) -> pl.Series | None:
    """The scanner's epoch ns of a time column (lpscore.ingest.records.time_column), if the
    rows have them."""
    name = time_column(column)
    return frame.get_column(name) if name in frame.columns else None


def typed_rows(frame: pl.DataFrame, config: IngestConfig) -> pl.DataFrame:
    """Typed header columns for every row (admin rows too: sequence epochs need Logons),
    event columns, and ``reason``: null, or why the row cannot be an event."""
    exec_type_raw = (
        pl.when((_t(35) == "8") & (_t(20) == "1")).then(pl.lit("H"))
        .when((_t(35) == "8") & (_t(20) == "2")).then(pl.lit("G"))
        .otherwise(_t(150))
    )
    typed = frame.with_columns(
        fix_timestamps(frame[tag_column(52)], exact=_exact(frame, tag_column(52)))
        .alias("sending_time"),
        fix_timestamps(frame["capture"], config.capture_tz, _exact(frame, "capture"))
        .alias("capture_time"),
        fix_timestamps(frame[tag_column(60)], exact=_exact(frame, tag_column(60)))
        .alias("transact_time"),
    ).with_columns(
        pl.col("category"),
        _t(35).alias("kind"),
        _t(49).alias("sender"),
        _t(56).alias("target"),
        _t(34).cast(pl.Int64, strict=False).alias("seq_num"),
        (_t(43).eq("Y") | _t(97).eq("Y")).fill_null(False).alias("poss_dup"),
        (_t(60).str.len_bytes() > 17).fill_null(False).alias("transact_time_subsecond"),
        _t(11).alias("cl_ord_id"),
        _t(41).alias("orig_cl_ord_id"),
        pl.coalesce(_t(config.parent_tag), _t(11)).alias("parent_id"),
        _t(37).alias("order_id"),
        _t(17).alias("exec_id"),
        _t(19).alias("exec_ref_id"),
        exec_type_raw.alias("exec_type"),
        _t(39).alias("ord_status"),
        _t(55).alias("symbol"),
        _t(54).replace_strict(_SIDES, default=None, return_dtype=pl.Int8).alias("side"),
        _t(40).alias("ord_type"),
        _t(59).alias("time_in_force"),
        _t(100).alias("ex_destination"),
        _t(434).alias("cxl_rej_response_to"),
        _t(372).alias("ref_msg_type"),
        _t(58).alias("text"),
        *[_t(tag).cast(pl.Float64, strict=False).alias(f"f{tag}") for tag in _FLOATS],
        *[_t(tag).cast(dtype, strict=False).alias(f"i{tag}") for tag, dtype in _INTS.items()],
    )
    return typed.with_columns(**_SHARED).with_columns(_reason().alias("reason")).drop(*_SHARED)


_SHARED: dict[str, pl.Expr] = {
    "_event": pl.col("category") == "event",
    **{f"_kind{kind}": _t(35) == kind for kind in _REQUIRED},
    "_order": _t(35).is_in(["D", "G"]),
    "_fill": (_t(35) == "8") & pl.col("exec_type").is_in([*FILL_EXEC_TYPES, "G"]),
}
"""Conditions the checks (``_checks``) test again and again, each computed once as a column
of that name: 35 string comparisons over every row took ~0.15 s a million rows, nearly all
of the checks' time."""


def _checks() -> list[tuple[pl.Expr, str]]:
    """Each problem that stops a row from becoming an event, with its reason, in order (they
    read the ``_SHARED`` columns)."""
    checks: list[tuple[pl.Expr, str]] = [
        (pl.col("category") == "unknown_msg_type", "unknown_msg_type"),
    ]
    for tag in (49, 56, 34, 52):
        checks.append((_t(tag).is_null(), f"missing_tag:{tag}"))
    checks.append((pl.col("seq_num").is_null(), "bad_value:34"))
    checks.append((pl.col("sending_time").is_null(), "bad_value:52"))
    is_event, is_fill, is_order = pl.col("_event"), pl.col("_fill"), pl.col("_order")
    for kind, tags in _REQUIRED.items():
        for tag in tags:
            checks.append((is_event & pl.col(f"_kind{kind}") & _t(tag).is_null(),
                           f"missing_tag:{tag}"))
    for tag in (31, 32):
        checks.append((is_event & is_fill & _t(tag).is_null(), f"missing_tag:{tag}"))
    checks.append((is_event & pl.col("_kind8") & ~pl.col("exec_type").is_in(_EXEC_TYPES),
                   "bad_value:150"))
    checks.append((is_event & is_order & pl.col("side").is_null(), "bad_value:54"))
    for tag in _FLOATS:
        checks.append((is_event & _t(tag).is_not_null() & pl.col(f"f{tag}").is_null(),
                       f"bad_value:{tag}"))
    checks.append((is_event & is_order & (pl.col("f38") <= 0).fill_null(False),
                   "bad_value:38"))
    checks.append((is_event & is_fill & (pl.col("f32") <= 0).fill_null(False), "bad_value:32"))
    checks.append((is_event & is_fill & (pl.col("f31") <= 0).fill_null(False), "bad_value:31"))
    for tag in _INTS:
        checks.append((is_event & _t(tag).is_not_null() & pl.col(f"i{tag}").is_null(),
                       f"bad_value:{tag}"))
    checks.append((is_event & _t(60).is_not_null() & pl.col("transact_time").is_null(),
                   "bad_value:60"))
    return checks


def _reason() -> pl.Expr:
    """The first problem that stops a row from becoming an event, in a fixed order."""
    checks = _checks()
    # The number of the first failing check, then its reason: a chain of string columns
    # would build and drop a full-length string column per check.
    first: pl.Expr = pl.lit(None, dtype=pl.UInt16)
    for number in reversed(range(len(checks))):
        first = pl.when(checks[number][0].fill_null(False)).then(
            pl.lit(number, dtype=pl.UInt16)).otherwise(first)
    reasons = {number: reason for number, (_, reason) in enumerate(checks)}
    return first.replace_strict(reasons, default=None, return_dtype=pl.String)


def attribute(frame: pl.DataFrame, own: Sequence[str], lp_map: dict[str, str]) -> pl.DataFrame:
    """Direction, session and LP of each row (KPIS.md, Notation)."""
    # The direction and the counterparty are columns before the session and the LP read
    # them: as expressions, each would be evaluated again wherever it is used (a DataFrame's
    # with_columns does not share subexpressions): 0.08 -> 0.06 s a million rows.
    outbound = pl.col("outbound")
    lp_comp = pl.col("_lp_comp")
    ours = pl.when(outbound).then(pl.col("sender")).otherwise(pl.col("target"))
    # ExDestination where an order we send names one, else the counterparty: one choice, not
    # a coalesce inside a choice (each builds a string column: 0.06 -> 0.04 s a million rows).
    named = pl.col("kind").is_in(["D", "G"]) & outbound & pl.col("ex_destination").is_not_null()
    routed = pl.when(named).then(pl.col("ex_destination")).otherwise(lp_comp)
    return frame.with_columns(pl.col("sender").is_in(list(own)).alias("outbound")).with_columns(
        pl.when(outbound).then(pl.col("target")).otherwise(pl.col("sender")).alias("_lp_comp"),
    ).with_columns(
        pl.concat_str([ours, pl.lit("->"), lp_comp]).alias("session"),
        routed.replace(lp_map).alias("lp"),
    ).drop("_lp_comp")


def infer_own_comp_ids(frame: pl.DataFrame) -> list[str]:
    """Our CompIDs when none are configured: senders of orders, cancels and replaces, and
    targets of execution reports and cancel rejects (KPIS.md's default direction rule)."""
    kind = pl.col("kind")  # filtered as expressions: no frame of the rows is copied
    found = frame.select(
        pl.col("sender").filter(kind.is_in(["D", "F", "G"])).drop_nulls().unique().implode(),
        pl.col("target").filter(kind.is_in(["8", "9"])).drop_nulls().unique().implode())
    return sorted(set(found["sender"][0].to_list()) | set(found["target"][0].to_list()))
