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


@pytest.mark.parametrize("speed", [math.nan, -1.0, -math.inf])
def test_replay_refuses_a_speed_that_is_not_a_number_of_times(tmp_path: Path,
                                                               speed: float) -> None:
    out = tmp_path / "out.log"
    with pytest.raises(InputError, match="--speed must be >= 0"):
        replay_logs([DEMO_LOG], f"file://{out}", speed)
    assert not out.exists()                     # refused before anything was written


@pytest.mark.parametrize("age", [math.nan, math.inf, 0.0, -5.0])
def test_a_cache_refuses_a_max_publish_age_it_cannot_use(age: float) -> None:
    with pytest.raises(ConfigError, match="positive, finite"):
        ScoreCache(MemoryStore(), ["block"], max_publish_age_s=age)
    ScoreCache(MemoryStore(), ["block"], max_publish_age_s=0.5)     # a usable age is taken


@pytest.mark.parametrize("after", [math.nan, -1.0])
def test_a_stream_processor_refuses_a_bad_final_after(after: float) -> None:
    config = Config()
    specs = catalog([horizon_label(h) for h in config.kpi.horizons_ms])
    quotes = pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA))
    with pytest.raises(ConfigError, match="final_after_s must be >= 0"):
        Processor(config, load_profile("block", specs), quotes, final_after_s=after)
