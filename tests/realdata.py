"""Paths of the real data bundled under tests/data (see the PROVENANCE.md files there);
``cut``, a log cut into parts by lines; and ``in_parts``, those parts ingested one after
another, each carrying on from the last."""

import itertools
from collections.abc import Sequence
from pathlib import Path

from lpscore.config import IngestConfig
from lpscore.ingest.pipeline import Carried, IngestResult, ingest_logs

DATA = Path(__file__).parent / "data"
FIX = DATA / "fix"
MOEX = FIX / "fix-moex-uat-pashenkogleb"
MOEX_ORDERS = MOEX / "FIX.4.4-MU9051500001-IFIX-EQ-UAT.messages.current.log"
FIXSIM = FIX / "fix-fixsim-quantifeed-joannazhx" / "FIX.09-Jan-2018.log"
FIXATIONS = FIX / "fix-fixations-samples"
DEMO_LOG = FIX / "generated" / "demo-amzn-lps.log"
AMZN_MESSAGES = DATA / "quotes" / "AMZN_2012-06-21_34200000_57600000_message_1.csv"

RECEIPT = ["ts_recv", "session", "outbound", "seq_num", "source", "offset"]
"""Columns that order events as received, whichever file or part they came from."""


def cut(log: Path | Sequence[bytes], at: Sequence[int], folder: Path) -> list[Path]:
    """``log``'s lines cut before each line index of ``at`` (ascending), one file per piece:
    ``part{k}-{log.name}``. ``log`` may also be the lines themselves, line ends included;
    the pieces are then ``part{k}.log``."""
    lines = log.read_bytes().splitlines(keepends=True) if isinstance(log, Path) else log
    name = f"-{log.name}" if isinstance(log, Path) else ".log"
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [0, *at, len(lines)]
    paths = []
    for k, (start, end) in enumerate(itertools.pairwise(bounds)):
        path = folder / f"part{k}{name}"
        path.write_bytes(b"".join(lines[start:end]))
        paths.append(path)
    return paths


def in_parts(paths: list[Path], config: IngestConfig) -> list[IngestResult]:
    """Each of ``paths`` ingested alone, in order, carrying on from the one before."""
    results, carried = [], Carried()
    for path in paths:
        result = ingest_logs([path], config, carried=carried)
        assert result.carried is not None
        carried = result.carried
        results.append(result)
    return results
