"""History store round trip (Polars and DuckDB) and strict configuration."""

import math
from pathlib import Path

import duckdb
import polars as pl
import pytest

from lpscore.cli_common import OutputFormat, run_ingest
from lpscore.config import Config, ContextConfig, IngestConfig, LpRule, load_config
from lpscore.engine.plan import plan_tasks
from lpscore.errors import ConfigError, InputError
from lpscore.history import (
    add_counts,
    read_compact,
    read_data_quality,
    read_events,
    read_state,
    write_events,
)
from lpscore.ingest import ingest_logs
from lpscore.model.schema import CATEGORICAL_COLUMNS, compact
from realdata import MOEX, MOEX_ORDERS, cut


def test_events_round_trip_through_partitioned_parquet(tmp_path: Path):
    events = ingest_logs(sorted(MOEX.glob("*.log")), Config().ingest).events
    files = write_events(tmp_path, events)
    assert files == len(list((tmp_path / "events").glob("date=*/symbol=*/*.parquet")))
    assert read_events(tmp_path).equals(events)
    pattern = str(tmp_path).replace("[", "[[]")      # DuckDB's glob: '[[]' is a '['
    rows = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{pattern}/events/**/*.parquet', "
        "hive_partitioning=true) WHERE kind = '8'"
    ).fetchall()
    assert rows == [(events.filter(pl.col("kind") == "8").height,)]


@pytest.mark.parametrize("old_first", [True, False], ids=["old_first", "new_first"])
def test_events_stored_before_captured_was_kept_read_with_it_null(tmp_path: Path,
                                                                  old_first: bool):
    """A store some of whose files were written before ``captured`` was kept (an older
    lpscore, then appended to) reads whole, plain and compact, with ``captured`` null in
    those files' rows only, whichever comes first (it was null in all when the first file
    lacked it), and plans for Dask."""
    events = ingest_logs(sorted(MOEX.glob("*.log")), Config().ingest).events
    write_events(tmp_path, events)
    files = sorted((tmp_path / "events").glob("date=*/symbol=*/*.parquet"))
    assert len(files) > 1
    old = files[0] if old_first else files[-1]
    stripped = pl.read_parquet(old, glob=False).drop("captured")
    stripped.write_parquet(old)
    for frame in (read_events(tmp_path), read_events(tmp_path, compact_form=True)):
        assert frame.height == events.height and "captured" in frame.columns
        known = frame["captured"].drop_nulls()
        assert known.len() == frame.height - stripped.height > 0
        assert known.all()
        assert frame.drop("captured").with_columns(pl.col(pl.Categorical).cast(pl.String)
                                                   ).equals(events.drop("captured"))
    assert plan_tasks(tmp_path).n_events == events.height


def test_read_compact_keeps_every_value_in_less_memory(tmp_path: Path):
    events = ingest_logs(sorted(MOEX.glob("*.log")), Config().ingest).events
    events.write_parquet(tmp_path / "events.parquet")
    small = read_compact(tmp_path / "events.parquet")
    assert {c for c, t in small.schema.items() if t == pl.Categorical} == (
        set(CATEGORICAL_COLUMNS) & set(events.columns))
    empty = [c for c in events.columns if events[c].null_count() == events.height]
    assert "exec_ref_id" in empty  # no bust or correction in the MOEX logs
    assert all(small[c].null_count() == small.height for c in empty)
    assert small.with_columns(pl.col(pl.Categorical).cast(pl.String)).equals(events)
    assert small.estimated_size() < 0.75 * events.estimated_size()
    picked = read_compact([tmp_path / "events.parquet"], ["kind", "seq_num"])
    assert picked.columns == ["kind", "seq_num"] and picked.height == events.height
    assert compact(events.clear()).height == 0


def test_the_state_sums_the_data_quality_of_appends(tmp_path: Path):
    """The MOEX session cut in two: its first half reuses ExecIDs, its second holds the
    duplicate and reuses one more across the cut. Appended, the store's state holds the
    counts of one ingest of both; an ingest that is not an append starts them anew."""
    lines = len(MOEX_ORDERS.read_bytes().splitlines())
    first, second = cut(MOEX_ORDERS, [lines // 2], tmp_path / "parts")
    whole = ingest_logs([first, second], Config().ingest).data_quality
    assert whole["duplicates"] > 0 and whole["exec_id_reused"] > 0
    root = tmp_path / "store" / "history"
    seen = []
    for k, part in enumerate((first, second)):
        run_ingest([part], [], Config(), tmp_path / "store", OutputFormat.JSON, append=k > 0)
        state = read_state(root)
        assert state is not None
        seen.append(state.data_quality)
    assert seen[1] == whole == read_data_quality(root)
    assert 0 < seen[0]["exec_id_reused"] < whole["exec_id_reused"]
    with pytest.raises(InputError, match="more than the 1 given"):   # would drop the first
        run_ingest([second], [], Config(), tmp_path / "store", OutputFormat.JSON)
    assert read_data_quality(root) == whole
    run_ingest([second], [], Config(), tmp_path / "store", OutputFormat.JSON, replace=True)
    assert read_data_quality(root) == ingest_logs([second], Config().ingest).data_quality
    assert add_counts({"duplicates": 1, "lenient_bad_checksum": 2}, {"duplicates": 3}) == {
        "duplicates": 4, "lenient_bad_checksum": 2}


def test_config_defaults_and_unknown_key(tmp_path: Path):
    assert load_config(None) == Config()
    path = tmp_path / "lpscore.toml"
    path.write_text('[ingest]\nown_comp_id = ["DESK"]\n')
    with pytest.raises(ConfigError, match=r"unknown key.*own_comp_id.*own_comp_ids"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[ingest]\nlenient = 'yes'\n", "must be bool"),
        ("[ingest]\nparent_tag = 0\n", "parent_tag"),
        ("[ingest]\ncapture_tz = 'Mars/Base'\n", "not a time zone"),
        ("[ingest\n", "not valid TOML"),
        # each of these stopped only later, with a traceback
        ("[context]\nadv_pct_edges = []\nnotional_edges = []\n", "one or more positive"),
        ("[context]\nvol_window_s = inf\n", "vol_window_s = inf: give a finite number"),
        ("[context]\nadv = { ACME = inf }\n", "adv = inf: give a finite number"),
        ("[routing]\nlot_size = inf\n", "lot_size = inf: give a finite number"),
        ("[kpi]\nhorizons_ms = [100, 9223372036854775807]\n", "at most a day"),
        ("[kpi]\nmax_quote_age_ms = 9223372036854775807\n", "at most a day"),
        ("[context]\nextra_keys = ['symbol']\n", "symbol is a key already"),
        ("[context]\nextra_keys = ['ord_type', 'ord_type']\n", "listed twice"),
        ("\xff\xfe[kpi]\n", "not UTF-8 text"),
    ],
)
def test_config_errors_say_what_to_fix(tmp_path: Path, text, message):
    path = tmp_path / "lpscore.toml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(folder)


def test_config_values_are_used(tmp_path: Path):
    path = tmp_path / "lpscore.toml"
    path.write_text('[ingest]\nown_comp_ids = ["A"]\nlp_map = { X = "LP_X" }\nlenient = true\n')
    config = load_config(path)
    assert config.ingest.own_comp_ids == ("A",)
    assert config.ingest.lp_map == {"X": "LP_X"}
    assert config.ingest.lenient is True


@pytest.mark.parametrize(
    "text",
    [
        "[context]\nvol_window_s = nan\n",
        "[context]\nadv_pct_edges = [0.1, nan, 2.0]\n",
        "[context]\nadv = { ACME = nan }\n",
        "[routing]\nlot_size = nan\n",
        "[routing]\nmax_publish_age_s = nan\n",
        "[routing.lps.LP_A]\nmin_qty = nan\n",
        "[routing.lps.LP_A]\nmax_qty = nan\n",
        "[routing.lps.LP_A]\nmax_notional = -nan\n",
    ],
)
def test_nan_in_the_config_file_is_refused_with_its_key(tmp_path: Path, text: str):
    path = tmp_path / "lpscore.toml"
    path.write_text(text)
    key = text.split("\n")[1].split(" =", maxsplit=1)[0]
    with pytest.raises(ConfigError, match=rf"{key}.* = nan: give a finite number"):
        load_config(path)


@pytest.mark.parametrize(
    "rule",
    [{"min_qty": math.nan}, {"max_qty": math.nan}, {"max_notional": math.nan},
     {"min_qty": 10.0, "max_qty": 5.0}, {"max_notional": 0.0}],
)
def test_lp_rules_built_in_code_refuse_nan_and_bad_ranges(rule: dict[str, float]):
    with pytest.raises(ConfigError, match=r"routing\.lps"):
        LpRule(**rule)  # type: ignore[arg-type]


@pytest.mark.parametrize("edges", [(0.1, math.nan, 2.0), (math.nan,), (0.5, 0.5)])
def test_context_edges_refuse_nan_and_repeats(edges: tuple[float, ...]):
    with pytest.raises(ConfigError, match="adv_pct_edges"):
        ContextConfig(adv_pct_edges=edges)


def test_own_comp_ids_that_no_message_names_stop_the_ingest():
    """A misspelt CompID made every message the LPs': our desk was ranked as the one LP."""
    with pytest.raises(ConfigError, match=r"own_comp_ids = \['NOTREAL'\]: none of them.*"
                       r"CompIDs are .*MU9051500001"):
        ingest_logs([MOEX_ORDERS], IngestConfig(own_comp_ids=("NOTREAL",)))
    both = ingest_logs([MOEX_ORDERS], IngestConfig(own_comp_ids=("NOTREAL", "MU9051500001")))
    assert both.own_comp_ids == ["NOTREAL", "MU9051500001"]   # one of them is enough
