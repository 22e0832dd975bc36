"""``lpscore stream`` and ``lpscore replay``: the live pipeline (docs/stream.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from lpscore.cli_common import ConfigOption, QuoteFiles, exit_on_error, out_dir, sigterm_raises
from lpscore.cli_output import err
from lpscore.cli_publish import StoreOption
from lpscore.config import load_config
from lpscore.errors import InputError
from lpscore.heap import settle_heap
from lpscore.marketdata import load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.publish import open_store
from lpscore.quarantine import Quarantine
from lpscore.scoring import config_catalog, load_profile
from lpscore.stream.files import FollowFile
from lpscore.stream.quotes import QuoteFeed
from lpscore.stream.runner import Settings, Source, Status, Stream

__all__ = ["replay", "stream"]


def stream(
    source: Annotated[str, typer.Option(
        "--source", help="file://PATH (follow a log as it grows) or "
        "kafka://HOST:PORT/TOPIC (a topic of raw FIX messages).")],
    quotes: QuoteFiles = None,
    quote_source: Annotated[str | None, typer.Option(
        "--quote-source", help="file://PATH: a quote CSV (ts,symbol,bid,ask[,bid_size,"
        "ask_size]) followed as it grows, or kafka://HOST:PORT/TOPIC: one quote row per "
        "record; markouts complete as their horizons' quotes arrive.")] = None,
    store_uri: StoreOption = "memory://",
    profile_spec: Annotated[str, typer.Option(
        "--profile", help="hft, block, best_price, or a .toml/.yaml profile file.")] = "block",
    group: Annotated[str, typer.Option(
        "--group", help="Kafka consumer group: workers of one group split the partitions."
    )] = "lpscore",
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="Directory of the state and source positions, saved together; "
        "a restart resumes from it (shared by every worker of a group).",
        callback=out_dir)] = None,
    until_idle: Annotated[float | None, typer.Option(
        "--until-idle", min=0.0, help="Exit once no record came for this many seconds.")] = None,
    final_after: Annotated[float, typer.Option(
        "--final-after", min=0.0, help="Seconds (receipt time) after which a finished order is "
        "closed and its events dropped from memory.")] = 300.0,
    late_after: Annotated[float, typer.Option(
        "--late-after", min=0.0, help="Seconds (receipt time) for which a closed order's "
        "ClOrdIDs are remembered, so that a message naming one is quarantined as late "
        "(about 100 bytes an order).")] = 86_400.0,
    idle_after: Annotated[float, typer.Option(
        "--idle-after", min=0.0, help="Seconds (receipt time, at least --final-after) after "
        "which an order still working with no new message is closed as it stands (its end "
        "never came: a day order that expired unreported); a later message for it is "
        "quarantined as late.")] = 86_400.0,
    dead_letter: Annotated[str | None, typer.Option(
        "--dead-letter", help="Kafka topic for quarantined records (Kafka sources).")] = None,
    publish_every: Annotated[float, typer.Option(
        "--publish-every", min=0.0, help="Publish at most once per this many milliseconds; "
        "each publish covers every record received before it (0: after every poll).")] = 0.0,
    config_path: ConfigOption = None,
) -> None:
    """Score a live FIX stream incrementally and publish every change to the store.

    The same KPI and scoring functions as `lpscore score`: a log replayed through the stream
    gives the same scores (docs/stream.md). Quotes are read once at start from --quotes,
    and, with --quote-source, as they are written."""
    with exit_on_error():
        config = load_config(config_path)
        q = Quarantine()
        table = (load_quotes(quotes, config.marketdata, q).quotes if quotes
                 else pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA)))
        specs = config_catalog(config.kpi)
        profile = load_profile(profile_spec, specs)
        settings = Settings(config, profile, specs, table, checkpoint_root=checkpoint,
                            final_after_s=final_after, late_after_s=late_after,
                            idle_after_s=idle_after,
                            publish_every_s=publish_every / 1e3)
        feed = open_source(source, group, dead_letter)
        live = QuoteFeed.open(quote_source, config.marketdata) if quote_source else None
        with open_store(store_uri) as store:
            runner = Stream(feed, settings, store, quote_feed=live)
            settle_heap()
            try:
                with sigterm_raises(KeyboardInterrupt):     # a stop: the same unwinding
                    status = runner.run(until_idle_s=until_idle, on_status=_show)
            except KeyboardInterrupt:
                status = runner.status
            finally:
                runner.close()
                if live is not None:
                    live.close()
        err.print(f"\n{_line(status)}")
        if live is not None and len(live.quarantine):
            err.print(f"live quotes quarantined: {live.quarantine.by_reason()}")





def open_source(uri: str, group: str, dead_letter: str | None) -> Source:
    """The source named by ``--source``."""
    if uri.startswith("file://"):
        if dead_letter is not None:     # it was taken and never written to
            raise InputError(f"--dead-letter {dead_letter}: a Kafka topic, for Kafka sources; "
                             "a followed file's quarantined records are in --checkpoint DIR")
        path = Path(uri.removeprefix("file://"))
        if not path.exists():
            err.print(f"note: {path} does not exist yet: waiting for it to appear")
        return FollowFile(path)
    if uri.startswith("kafka://"):
        from lpscore.stream.kafka import KafkaSource  # noqa: PLC0415 - only Kafka needs it
        return KafkaSource.from_uri(uri, group, dead_letter)
    raise InputError(f"--source {uri}: use file://PATH or kafka://HOST:PORT/TOPIC")


def replay(
    fix_files: Annotated[list[Path], typer.Argument(help="FIX logs to replay.")],
    to: Annotated[str, typer.Option(
        "--to", help="kafka://HOST:PORT/TOPIC or file://PATH (appended).")],
    speed: Annotated[float, typer.Option(
        "--speed", help="1 = as captured, 10 = ten times faster, 0 = as fast as possible."
    )] = 0.0,
) -> None:
    """Push FIX logs onto a Kafka topic (keyed by symbol) or append them to a file, at the
    speed they were captured or faster."""
    with exit_on_error():
        from lpscore.stream.replay import replay_logs  # noqa: PLC0415
        n = replay_logs(fix_files, to, speed)
        err.print(f"replayed {n:,} messages to {to}")


def _show(status: Status) -> None:
    """The live status line, rewritten in place: cut to the terminal's width (a line that
    wrapped was rewritten from its last row only, and the rows above piled up) and padded
    over a longer line before it."""
    if sys.stderr.isatty():
        width = max(err.width - 1, 1)
        line = _line(status)
        if len(line) > width:
            line = line[:width - 1] + "…"
        err.print(line.ljust(width), end="\r", soft_wrap=True)


def _line(status: Status) -> str:
    publish = "-" if status.publish_ms is None else f"{status.publish_ms:.1f} ms"
    return (f"records {status.records:,} ({status.rate:,.0f}/s) | events {status.events:,} | "
            f"quotes {status.quotes:,} | lag {status.lag:,} | lanes {status.lanes} | "
            f"live orders {status.live_units:,} | "
            + (f"closed while working {status.closed_working:,} | "
               if status.closed_working else "") +
            f"quarantined {status.quarantined:,} | published {status.published:,} | "
            f"last publish {publish}")
