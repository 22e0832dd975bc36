"""Every command prints names as they are. LP names, symbols, FIX reject texts and scenario
names come from the data, paths from the user, and '[...]' in them is neither console
markup nor a glob pattern: a '[/b]' stopped route, scores, users, simulate and bench-routing
with a MarkupError after all their work, a '[red]' vanished from what they printed, and a
folder named with brackets made Polars read no file at all (report, simulate, the history
store)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

import clirun
import lpscore.sim
from lpscore.config import MarketDataConfig
from lpscore.fix.codec import encode
from lpscore.marketdata import load_quotes
from lpscore.quarantine import Quarantine
from realdata import AMZN_MESSAGES, DEMO_LOG

SYMBOL = "[/]AM[bold]ZN"
LP = "[/b]LP_A[red]"
REASON = "[/i]"          # put before every Text(58) of the log (the reports carry them)
SOH = b"\x01"


@dataclass(frozen=True)
class Named:
    root: Path
    log: Path
    quotes: Path


def _renamed(message: bytes) -> bytes:
    """``message`` with the symbol, LP_A's CompID and every Text renamed, its BodyLength and
    CheckSum made right again."""
    fields = [f for f in message.rstrip(SOH).split(SOH)
              if not f.startswith((b"9=", b"10="))]
    names = {b"55=AMZN": b"55=" + SYMBOL.encode(), b"49=LP_A": b"49=" + LP.encode(),
             b"56=LP_A": b"56=" + LP.encode(), b"100=LP_A": b"100=" + LP.encode()}
    texts = {f: b"58=" + REASON.encode() + f[3:] for f in fields if f.startswith(b"58=")}
    (_, begin), (_, msg_type), *body = (names.get(f, texts.get(f, f)).split(b"=", 1)
                                        for f in fields)
    return encode(msg_type.decode(), [(int(tag), value) for tag, value in body],
                  begin_string=begin.decode())


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Named:
    root = tmp_path_factory.mktemp("names") / "a[" / "b]"     # the path holds '[/b]'
    root.mkdir(parents=True)
    lines = []
    for line in DEMO_LOG.read_bytes().splitlines():
        at = line.find(b"8=FIX")
        lines.append(line if at < 0 else line[:at] + _renamed(line[at:]))
    log = root / "p[red].log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    quotes = load_quotes([AMZN_MESSAGES], MarketDataConfig(), Quarantine()).quotes
    csv = root / "q[red].csv"
    quotes.with_columns(symbol=pl.lit(SYMBOL)).write_csv(csv)
    return Named(root, log, csv)


def run(*args: str | Path, stdin: str | None = None) -> str:
    """The command's stdout and stderr; it must exit 0."""
    done = clirun.lpscore(*args, input=stdin, env={"COLUMNS": "400"})
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
    return done.stdout + done.stderr


def _shown(name: str, output: str) -> bool:
    """``name`` printed as it is, wherever its line breaks (commands run with COLUMNS=400,
    so no table cell wraps; a long message may)."""
    return "".join(name.split()) in "".join(re.sub("[│┃]", " ", output).split())


def test_ingest_kpis_report_and_score_print_names_as_they_are(named: Named) -> None:
    ingested = named.root / "in[x]"
    out = run("ingest", named.log, "--quotes", named.quotes, "--out", ingested)
    assert _shown(named.log.name, out) and _shown(named.quotes.name, out)
    # the demo log's one bad CheckSum is made right by the renaming: nothing quarantined
    [report] = json.loads((ingested / "reconciliation.json").read_text())["files"]
    assert report["quarantined"] == 0 and report["events"] > 5_000
    kpis = named.root / "k[red]"
    out = run("kpis", "--history", ingested, "--out", kpis, "--html")
    assert _shown(LP, out) and _shown(f"rejects {LP}: 3 order exceeds limit x3", out)
    run("report", kpis, "--out", named.root / "r[x].html")
    assert (named.root / "r[x].html").is_file()
    for args in (["--history", ingested], [named.log, "--quotes", named.quotes]):
        out = run("score", *args, "--profile", "block")
        assert _shown(LP, out), args


def test_publish_scores_route_and_stream_print_names_as_they_are(named: Named,
                                                                 redis_url: str) -> None:
    store = f"{redis_url}?prefix=names{uuid.uuid4().hex[:6]}"
    out = run("publish", named.log, "--quotes", named.quotes, "--store", store,
              "--profile", "block")
    assert _shown(f"symbol={SYMBOL}", out)
    out = run("scores", "--store", store, "--profile", "block", "--context",
              f"symbol={SYMBOL}")
    assert _shown(SYMBOL, out) and _shown(LP, out)
    out = run("route", named.log, "--quotes", named.quotes, "--symbol", SYMBOL, "--side",
              "buy", "--qty", "20000", "--profile", "block", "--policy", "spray")
    assert _shown(SYMBOL, out) and _shown(LP, out)
    run("stream", "--source", f"file://{named.log}", "--quotes", named.quotes, "--store",
        "memory://", "--profile", "block", "--until-idle", "0.5")


def test_users_print_paths_as_they_are(named: Named) -> None:
    """User names are letters, digits and _ . @ - only; the folder is the user's."""
    data = named.root / "console[red]"
    data.mkdir()
    out = run("users", "add", "ann", "--role", "admin", "--data", data, "--password-stdin",
              stdin="a long enough password\n")
    assert _shown(str(data), out)
    assert _shown(str(data), run("users", "list", "--data", data))


def test_simulate_and_bench_routing_print_names_as_they_are(named: Named) -> None:
    """A short ACME scenario whose names are markup: four minutes, the order in the middle."""
    text = (Path(lpscore.sim.__file__).parent / "scenarios" / "acme.toml").read_text(
        encoding="utf-8")
    for old, new in (('"LP_', '"[/b]LP_'), ('name = "acme"', 'name = "[/b]acme[red]"'),
                     ("duration_s = 3600", "duration_s = 240"),
                     ("start_s = 1800", "start_s = 60"), ("window_s = 1800", "window_s = 120"),
                     ("at_s = 2100", "at_s = 120")):
        assert old in text, old
        text = text.replace(old, new)
    scenario = named.root / "s[red].toml"
    scenario.write_text(text, encoding="utf-8")
    out = run("simulate", "--scenario", scenario, "--out", named.root / "sim[x]")
    assert _shown("[/b]acme[red]", out) and _shown("[/b]LP_A", out)
    out = run("bench-routing", "--scenario", scenario, "--seeds", "2", "--jobs", "1",
              "--policies", "static,spray")
    assert _shown("[/b]acme[red]", out)
