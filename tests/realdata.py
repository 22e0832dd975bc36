"""Paths of the real data bundled under tests/data (see the PROVENANCE.md files there), and
``cut``, a log cut into parts by lines (to ingest or append one after another)."""

import itertools
from pathlib import Path

DATA = Path(__file__).parent / "data"
FIX = DATA / "fix"
MOEX = FIX / "fix-moex-uat-pashenkogleb"
MOEX_ORDERS = MOEX / "FIX.4.4-MU9051500001-IFIX-EQ-UAT.messages.current.log"
FIXSIM = FIX / "fix-fixsim-quantifeed-joannazhx" / "FIX.09-Jan-2018.log"
FIXATIONS = FIX / "fix-fixations-samples"
DEMO_LOG = FIX / "generated" / "demo-amzn-lps.log"
AMZN_MESSAGES = DATA / "quotes" / "AMZN_2012-06-21_34200000_57600000_message_1.csv"


def cut(log: Path, at: list[int], folder: Path) -> list[Path]:
    """``log``'s lines cut before each line index of ``at``, one file per piece."""
    lines = log.read_bytes().splitlines(keepends=True)
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [0, *at, len(lines)]
    paths = []
    for k, (start, end) in enumerate(itertools.pairwise(bounds)):
        path = folder / f"part{k}-{log.name}"
        path.write_bytes(b"".join(lines[start:end]))
        paths.append(path)
    return paths
