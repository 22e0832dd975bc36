"""Numbers a user gives (options, arguments of the library's entry points): NaN, infinities
and negatives are refused with an error that names them, before any work."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from lpscore.config import Config
from lpscore.errors import ConfigError, InputError
from lpscore.kpi.engine import horizon_label
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.publish import MemoryStore
from lpscore.routing import ScoreCache
from lpscore.scoring import catalog, load_profile
from lpscore.stream.processor import Processor
from lpscore.stream.replay import replay_logs
from realdata import DEMO_LOG


@pytest.mark.parametrize("speed", [math.nan, -1.0, -math.inf, 1e-300])
def test_replay_refuses_a_speed_that_is_not_a_number_of_times(tmp_path: Path,
                                                               speed: float) -> None:
    """1e-300 overflowed the system's sleep, with a traceback."""
    out = tmp_path / "out.log"
    with pytest.raises(InputError, match=r"--speed .*: give 0 .* or a speed of at least"):
        replay_logs([DEMO_LOG], f"file://{out}", speed)
    assert not out.exists()                     # refused before anything was written


def test_replay_to_a_file_it_cannot_write_says_so(tmp_path: Path) -> None:
    for where in (tmp_path, tmp_path / "missing" / "x.log"):   # were raw OSErrors
        with pytest.raises(InputError, match="cannot write it"):
            replay_logs([DEMO_LOG], f"file://{where}")


@pytest.mark.parametrize("age", [math.nan, math.inf, 0.0, -5.0])
def test_a_cache_refuses_a_max_publish_age_it_cannot_use(age: float) -> None:
    with pytest.raises(ConfigError, match="positive, finite"):
        ScoreCache(MemoryStore(), ["block"], max_publish_age_s=age)
    ScoreCache(MemoryStore(), ["block"], max_publish_age_s=0.5)     # a usable age is taken


@pytest.mark.parametrize("name", ["final_after_s", "late_after_s", "idle_after_s"])
@pytest.mark.parametrize("after", [math.nan, -1.0, math.inf, 1e300])
def test_a_stream_processor_refuses_a_bad_closing_time(after: float, name: str) -> None:
    """inf and 1e300 overflowed the nanosecond arithmetic at the first close (traceback)."""
    config = Config()
    specs = catalog([horizon_label(h) for h in config.kpi.horizons_ms])
    quotes = pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA))
    with pytest.raises(ConfigError, match=f"{name} = .*: give a number of seconds"):
        Processor(config, load_profile("block", specs), quotes, **{name: after})
