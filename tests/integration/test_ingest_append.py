"""Ingesting logs in parts that carry on from each other (``Carried``; ``lpscore ingest
--append``) gives the events of ingesting them all at once: duplicates across a part's
edge found, ExecIDs reused across it flagged, files numbered on, and the history store
holding what one ingest of everything writes."""

import json
from pathlib import Path

import polars as pl
import pytest

from clirun import lpscore
from lpscore.config import IngestConfig, MarketDataConfig
from lpscore.errors import InputError
from lpscore.fix.codec import encode
from lpscore.history import begin_append, read_events, read_quotes, read_state, unfinished
from lpscore.history import store as history_store
from lpscore.ingest.pipeline import Carried, IngestResult, ingest_logs
from lpscore.marketdata import load_quotes
from lpscore.quarantine import Quarantine
from realdata import AMZN_MESSAGES, DEMO_LOG, FIXSIM, MOEX_ORDERS, RECEIPT, cut, in_parts


def assert_same_as_whole(paths: list[Path], config: IngestConfig) -> list[IngestResult]:
    parts = in_parts(paths, config)
    whole = ingest_logs(paths, config)
    got = pl.concat([r.events for r in parts]).sort(RECEIPT)
    assert got.equals(whole.events.sort(RECEIPT))
    for name, n in whole.data_quality.items():
        assert sum(r.data_quality.get(name, 0) for r in parts) == n, name
    assert [f for r in parts for f in r.files] == whole.files
    return parts


def test_a_possdup_resend_in_the_next_part_is_still_a_duplicate(tmp_path: Path):
    lines = MOEX_ORDERS.read_bytes().splitlines()
    original = next(i for i, line in enumerate(lines)
                    if b"\x0135=8\x01" in line and b"\x0134=65\x01" in line)
    resend = next(i for i, line in enumerate(lines)
                  if b"\x0134=65\x0143=Y\x01" in line)
    assert original < resend
    parts = assert_same_as_whole(cut(MOEX_ORDERS, [resend], tmp_path), IngestConfig())
    assert parts[1].data_quality["duplicates"] == 1
    assert parts[1].files[0].skipped_by_reason["duplicate"] == 1
    fill = pl.concat([r.events for r in parts]).filter(
        pl.col("exec_id") == "113723689|B|111638")
    assert fill["seq_num"].to_list() == [65]


def test_the_moex_session_day_by_day_and_cut_anywhere(tmp_path: Path):
    lines = MOEX_ORDERS.read_bytes().splitlines()
    days = [i for i in range(1, len(lines)) if lines[i][:8] != lines[i - 1][:8]]
    assert days, "the session spans several days"
    paths = cut(MOEX_ORDERS, days, tmp_path / "days")
    parts = assert_same_as_whole(paths, IngestConfig())
    # ExecIDs reused from an earlier day ('0|8|NONE' on rejects) are flagged as such
    alone = sum(ingest_logs([p], IngestConfig()).data_quality["exec_id_reused"] for p in paths)
    assert sum(r.data_quality["exec_id_reused"] for r in parts) > alone
    for k in range(1, 10):
        folder = tmp_path / f"cut{k}"
        assert_same_as_whole(cut(MOEX_ORDERS, [len(lines) * k // 10], folder),
                             IngestConfig())


@pytest.mark.parametrize(("log", "config"), [
    (DEMO_LOG, IngestConfig()),
    (FIXSIM, IngestConfig(lenient=True)),
])
def test_other_real_logs_in_three_parts(tmp_path: Path, log: Path, config: IngestConfig):
    n = len(log.read_bytes().splitlines())
    parts = assert_same_as_whole(cut(log, [n // 3, 2 * n // 3], tmp_path), config)
    assert sum(r.events.height for r in parts) > 0
    assert [f.path for r in parts for f in r.files] == [str(tmp_path / f"part{k}-{log.name}")
                                                        for k in range(3)]


def test_a_part_from_before_the_carried_ones_is_refused(tmp_path: Path):
    first, second = cut(DEMO_LOG, [2_000], tmp_path)
    [later] = in_parts([second], IngestConfig())
    with pytest.raises(InputError, match=r"before the latest of that session already "
                                         r"ingested .*without --append$"):
        ingest_logs([first], IngestConfig(), carried=later.carried)


def test_a_compid_the_earlier_parts_did_not_take_as_ours_is_refused(tmp_path: Path):
    """A desk CompID first seen only in admin messages (a Logon) that later orders make
    ours: the earlier events of its sessions would have been attributed otherwise."""
    logon = (b"8=FIX.4.4\x019=0\x0135=A\x0149=DESK\x0156=LP_A\x0134=1\x01"
             b"52=20120621-13:00:00.000\x0198=0\x01108=30\x0110=000\x01")
    first = tmp_path / "logon.log"
    first.write_bytes(logon + b"\n")
    for own in [("OTHER",), ()]:
        earlier = ingest_logs([first], IngestConfig(lenient=True), carried=Carried(
            own_comp_ids=own))
        with pytest.raises(InputError, match=r"did not take it as ours \(they took: "
                                             rf"{own[0] if own else 'none'}\).*"
                                             r"ingest\.own_comp_ids"):
            ingest_logs([DEMO_LOG], IngestConfig(), carried=earlier.carried)
    # configured, they are ours from the start
    configured = IngestConfig(own_comp_ids=("DESK",))
    earlier = ingest_logs([first], configured, carried=Carried())
    assert ingest_logs([DEMO_LOG], configured, carried=earlier.carried).events.height


def test_ingest_append_builds_the_store_one_ingest_of_everything_writes(tmp_path: Path):
    first, second, third = cut(DEMO_LOG, [1_500, 4_000], tmp_path)
    store, whole = tmp_path / "store", tmp_path / "whole"
    done = lpscore("ingest", str(first), "--quotes", str(AMZN_MESSAGES), "--out", str(store),
                   "--append", "--format", "json")   # no store yet: one is made
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["store"]["appended"] is True
    for part in (second, third):
        done = lpscore("ingest", str(part), "--out", str(store), "--append", "--format", "json")
        assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    done = lpscore("ingest", str(first), str(second), str(third), "--quotes", str(AMZN_MESSAGES),
                   "--out", str(whole), "--format", "json")
    assert done.returncode == 0, done.stderr
    everything = json.loads(done.stdout)
    assert summary["store"] == {**everything["store"], "appended": True}
    events = read_events(store / "history")
    assert events.height == everything["store"]["events"] == summary["store"]["events"]
    assert events.sort(RECEIPT).equals(read_events(whole / "history").sort(RECEIPT))
    assert read_quotes(store / "history").equals(read_quotes(whole / "history"))
    assert sum(1 for _ in (store / "history" / "events").rglob("*.parquet")) > sum(
        1 for _ in (whole / "history" / "events").rglob("*.parquet"))
    # and the scores of the store are those of the logs (docs/dask.md: scoring a store)
    scores = lpscore("score", "--history", str(store), "--format", "json")
    assert scores.returncode == 0, scores.stderr
    logs = lpscore("score", str(first), str(second), str(third), "--quotes", str(AMZN_MESSAGES),
                   "--format", "json")
    assert json.loads(scores.stdout) == json.loads(logs.stdout)


def test_quotes_appended_again_are_stored_once(tmp_path: Path):
    """The same day's quotes appended twice, or two exports of it that overlap, were stored
    twice over: each quote is now stored once, copies within one file stay, and the store
    holds what one ingest of the day's quotes writes."""
    quotes = load_quotes([AMZN_MESSAGES], MarketDataConfig(), Quarantine()).quotes
    doubled = pl.concat([quotes[:5], quotes[:5]])     # copies within a file are the data's
    early, late = tmp_path / "early.csv", tmp_path / "late.csv"
    pl.concat([doubled, quotes[5:1_500]]).write_csv(early)
    quotes[1_000:].write_csv(late)                    # 500 rows of early.csv again
    empty = tmp_path / "none.log"
    empty.write_bytes(b"")
    first, second = cut(DEMO_LOG, [2_500], tmp_path)
    store, whole = tmp_path / "store", tmp_path / "whole"
    held = []
    for log, quote_file in ((first, early), (second, late), (empty, late), (empty, early)):
        done = lpscore("ingest", str(log), "--quotes", str(quote_file), "--out", str(store),
                       "--append", "--format", "json")
        assert done.returncode == 0, done.stderr
        held.append(json.loads(done.stdout)["store"]["quotes_held_already"])
    assert held == [0, 500, 1_000, 1_505]
    day = tmp_path / "day.csv"
    pl.concat([doubled, quotes[5:]]).write_csv(day)
    done = lpscore("ingest", str(first), str(second), "--quotes", str(day), "--out", str(whole))
    assert done.returncode == 0, done.stderr
    assert read_quotes(store / "history").equals(read_quotes(whole / "history"))
    assert read_state(store / "history").quotes == quotes.height + 5  # type: ignore[union-attr]
    # and so does one ingest of the overlapping files together (it kept both copies)
    together = tmp_path / "together"
    done = lpscore("ingest", str(first), str(second), "--quotes", str(early), "--quotes",
                   str(late), "--quotes", str(early), "--out", str(together), "--format", "json")
    assert done.returncode == 0, done.stderr
    loads = json.loads(done.stdout)["quote_files"]
    assert [f["repeated"] for f in loads] == [0, 500, 1_505]  # early.csv again: all of it
    assert json.loads(done.stdout)["quotes"] == quotes.height + 5
    assert read_quotes(together / "history").sort("symbol", "ts", maintain_order=True).equals(
        read_quotes(whole / "history").sort("symbol", "ts", maintain_order=True))
    scores = [lpscore("score", "--history", str(s), "--format", "json")
              for s in (store, whole, together)]
    assert json.loads(scores[0].stdout) == json.loads(scores[1].stdout) == json.loads(
        scores[2].stdout)


@pytest.mark.parametrize("state_from", ["this lpscore", "an lpscore before appends were marked"])
def test_an_append_cut_short_is_refused_by_readers_and_undone_by_the_next(tmp_path: Path,
                                                                         state_from: str):
    first, second = cut(DEMO_LOG, [2_500], tmp_path)
    store = tmp_path / "store"
    assert lpscore("ingest", str(first), "--out", str(store)).returncode == 0
    state = read_state(store / "history")
    assert state is not None and state.marks_appends
    # what an append killed before it recorded its state leaves behind: its mark (naming
    # the folders it writes into) and a file; an older lpscore left the file alone
    folder = "events/date=2012-06-22/symbol=AMZN"
    stray = store / "history" / folder / f"part-{state.events:012d}.parquet"
    stray.parent.mkdir(parents=True)
    first_part = next((store / "history" / "events").rglob("*.parquet"))
    pl.read_parquet(first_part, glob=False).head(10).write_parquet(stray)
    if state_from == "this lpscore":
        begin_append(store / "history", ["events/date=2012-06-21/symbol=AMZN", folder])
    else:
        saved = store / "history" / "ingest-state" / "state.json"
        old = json.loads(saved.read_text())
        del old["marks_appends"]
        saved.write_text(json.dumps(old))
    for command in ("score", "kpis"):   # would count it without the state saying so
        done = lpscore(command, "--history", str(store), "--out", str(tmp_path / command))
        assert done.returncode == 2
        said = "".join(done.stderr.split())
        assert "1file(s)ofanappendthatdidnotfinish" in said
        assert "runthatappendagain" in said
    done = lpscore("ingest", str(second), "--out", str(store), "--append")
    assert done.returncode == 0, done.stderr
    assert not stray.exists()
    assert read_events(store / "history").height == ingest_logs(
        [first, second], IngestConfig()).events.height
    assert not (store / "history" / "ingest-state" / "appending.json").exists()
    assert read_state(store / "history").marks_appends   # type: ignore[union-attr]


def test_a_finished_append_is_not_looked_for_in_every_folder(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    """Every append and every --history read listed every file of the store to find an
    append cut short: a year of small days, 55,000 files, 1-4 s an append, growing with
    the store. A finished append leaves no mark, and none is looked for."""
    first, second = cut(DEMO_LOG, [2_500], tmp_path)
    store = tmp_path / "store"
    for part, more in ((first, ()), (second, ("--append",))):
        assert lpscore("ingest", str(part), "--out", str(store), *more).returncode == 0
    state = read_state(store / "history")
    assert state is not None
    monkeypatch.setattr(history_store, "store_files", lambda *a, **k: pytest.fail("listed"))
    assert unfinished(store / "history", state) == []


def test_append_errors_say_what_to_do(tmp_path: Path):
    first, second = cut(DEMO_LOG, [2_500], tmp_path)
    store = tmp_path / "store"
    assert lpscore("ingest", str(second), "--out", str(store)).returncode == 0
    done = lpscore("ingest", str(first), "--out", str(store), "--append")
    assert done.returncode == 2
    assert "without --append" in " ".join(done.stderr.split())
    (store / "history" / "ingest-state" / "state.json").unlink()
    done = lpscore("ingest", str(first), "--out", str(store), "--append")
    assert done.returncode == 2
    assert "without ingest-state/state.json" in " ".join(done.stderr.split())
    (store / "history" / "ingest-state").mkdir(exist_ok=True)
    (store / "history" / "ingest-state" / "state.json").write_text("{not json")
    done = lpscore("ingest", str(first), "--out", str(store), "--append")
    assert done.returncode == 2
    assert "not a state lpscore can read" in " ".join(done.stderr.split())


def test_a_duplicate_in_an_earlier_part_still_counts_as_delivered(tmp_path: Path):
    """The rules read earlier duplicates too: a resend dropped for its ExecID still
    delivered its MsgSeqNum, so a later resend of that MsgSeqNum is a duplicate, whichever
    part it is in."""
    def report(seq: int, exec_id: str, *, resend: bool, at: str) -> bytes:
        poss = [(43, "Y"), (122, "20240301-10:00:00.000")] if resend else []
        message = encode("8", [(49, "LP"), (56, "DESK"), (34, seq), *poss,
                               (52, f"20240301-{at}"), (37, f"O{seq}"), (11, "C1"),
                               (17, exec_id), (150, "F"), (39, "2"), (55, "EURUSD"), (54, "1"),
                               (32, "100"), (31, "1.1"), (60, f"20240301-{at}")])
        return f"20240301-{at} : ".encode() + message + b"\n"
    first = tmp_path / "a.log"
    first.write_bytes(report(7, "E1", resend=False, at="10:00:00.000")
                      + report(9, "E1", resend=True, at="10:00:01.000"))
    second = tmp_path / "b.log"
    second.write_bytes(report(9, "E2", resend=True, at="10:00:03.000"))
    parts = assert_same_as_whole([first, second], IngestConfig())
    assert [r.events.height for r in parts] == [1, 0]
    assert [r.data_quality["duplicates"] for r in parts] == [1, 1]


def test_a_store_written_anew_forgets_its_state_first(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    """A re-ingest killed while it writes leaves no state: an append is then refused,
    not made after a state that no longer describes the store."""
    from lpscore import cli_common  # noqa: PLC0415
    from lpscore.cli_common import OutputFormat, run_ingest  # noqa: PLC0415
    from lpscore.config import Config  # noqa: PLC0415

    first, _ = cut(DEMO_LOG, [2_500], tmp_path)
    store = tmp_path / "store"
    run_ingest([first], [], Config(), store, OutputFormat.JSON)
    assert read_state(store / "history") is not None

    def killed(root: Path, events: pl.DataFrame) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_common, "write_events", killed)
    with pytest.raises(KeyboardInterrupt):
        run_ingest([first], [], Config(), store, OutputFormat.JSON)
    assert not (store / "history" / "ingest-state").exists()
    with pytest.raises(InputError, match=r"without ingest-state/state\.json"):
        read_state(store / "history")


def test_history_out_beside_the_ingest_is_refused(tmp_path: Path):
    store = tmp_path / "store"
    assert lpscore("ingest", str(DEMO_LOG), "--out", str(store)).returncode == 0
    for command in ("score", "kpis"):
        done = lpscore(command, "--history", str(store), "--out", str(store))
        assert done.returncode == 2
        assert "givean" in "".join(done.stderr.split())
        assert "quarantine of the ingest" in " ".join(done.stderr.split())


def test_strict_appends_nothing_and_the_quarantine_grows(tmp_path: Path):
    first, second = cut(DEMO_LOG, [2_500], tmp_path)
    lines = second.read_bytes().splitlines(keepends=True)
    second.write_bytes(b"".join([lines[0], lines[1].replace(b"\x0110=", b"\x0110=9"),
                                 *lines[2:]]))   # one bad CheckSum
    store = tmp_path / "store"
    assert lpscore("ingest", str(first), "--out", str(store)).returncode == 0
    held = read_state(store / "history")
    assert held is not None
    before = len((store / "quarantine.jsonl").read_text().splitlines())
    done = lpscore("ingest", str(second), "--out", str(store), "--append", "--strict",
                   "--format", "json")
    assert done.returncode == 2
    assert "nothing was written to the history store" in " ".join(done.stderr.split())
    assert json.loads(done.stdout)["store"] == {"appended": False, "written": False,
                                                "events": held.events, "quotes": 0,
                                                "quotes_held_already": 0}
    after = read_state(store / "history")
    assert after is not None and after.events == held.events
    part = json.loads(done.stdout)["files"][0]["quarantined"]
    assert part >= 1
    assert len((store / "quarantine.jsonl").read_text().splitlines()) == before + part
    # without --strict it is appended, and the quarantine keeps the earlier ingests' records
    done = lpscore("ingest", str(second), "--out", str(store), "--append", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["store"]["events"] > held.events
    assert len((store / "quarantine.jsonl").read_text().splitlines()) == before + 2 * part


def test_an_append_with_other_ingest_settings_is_refused(tmp_path: Path):
    first, second = cut(DEMO_LOG, [2_500], tmp_path)
    store = tmp_path / "store"
    config = tmp_path / "lpscore.toml"
    config.write_text('[ingest]\nown_comp_ids = ["DESK"]\n')
    assert lpscore("ingest", first, "--out", store, "--config", config).returncode == 0
    done = lpscore("ingest", str(second), "--out", str(store), "--append")
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert "an append must use the store's" in said
    done = lpscore("ingest", str(second), "--out", str(store), "--append", "--config", str(config))
    assert done.returncode == 0, done.stderr


def test_a_forgotten_append_is_refused_not_a_year_dropped(tmp_path: Path):
    """``lpscore ingest day.log --out STORE`` without --append replaced a store built a day
    at a time with that day (4,354,306 events with 35,986, status 0, nothing said)."""
    first, second = cut(DEMO_LOG, [2_500], tmp_path)
    store = tmp_path / "store"
    for part, more in ((first, ()), (second, ("--append",))):
        assert lpscore("ingest", str(part), "--out", str(store), *more).returncode == 0
    held = read_events(store / "history")
    done = lpscore("ingest", str(second), "--out", str(store))
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert f"of {held.height:,} events from 2 log files, more than the 1 given" in said
    assert "Add --append" in said and "--replace" in said
    assert read_events(store / "history").equals(held)        # nothing dropped
    again = lpscore("ingest", str(first), str(second), "--out", str(store))  # a rebuild
    assert again.returncode == 0, again.stderr
    assert read_events(store / "history").height == held.height
    replaced = lpscore("ingest", str(second), "--out", str(store), "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert read_events(store / "history").height == ingest_logs([second],
                                                                IngestConfig()).events.height
