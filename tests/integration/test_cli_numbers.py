"""Numbers given on the command line: NaN, infinities and out-of-range values end the
command with exit status 2 and a message naming the option, never a traceback or a hang."""

from __future__ import annotations

import pytest

from clirun import lpscore
from realdata import DEMO_LOG

CASES = [
    (("scores", "--store", "memory://x", "--profile", "block", "--max-age", "nan"),
     "positive, finite"),
    (("scores", "--store", "memory://x", "--profile", "block", "--max-age", "inf"),
     "positive, finite"),
    (("stream", "--source", f"file://{DEMO_LOG}", "--until-idle", "nan"), "--until-idle"),
    (("stream", "--source", f"file://{DEMO_LOG}", "--until-idle", "-1"), "--until-idle"),
    (("stream", "--source", f"file://{DEMO_LOG}", "--final-after", "nan"), "--final-after"),
    (("stream", "--source", f"file://{DEMO_LOG}", "--late-after", "nan"), "--late-after"),
    (("stream", "--source", f"file://{DEMO_LOG}", "--late-after", "-1"), "--late-after"),
    (("stream", "--source", f"file://{DEMO_LOG}", "--idle-after", "nan"), "--idle-after"),
    (("stream", "--source", f"file://{DEMO_LOG}", "--idle-after", "-1"), "--idle-after"),
    (("replay", str(DEMO_LOG), "--to", "file:///nonexistent/x.log", "--speed", "nan"),
     "--speed"),
    (("route", "--symbol", "ACME", "--side", "buy", "--qty", "inf"), "positive, finite"),
    (("route", "--symbol", "ACME", "--side", "buy", "--qty", "nan"), "--qty"),
    (("route", "--symbol", "ACME", "--side", "buy", "--qty", "100", "--price", "inf"),
     "positive, finite price"),
    (("bench-allocation", "--sizes", "1000,inf"), "--sizes"),
    (("simulate", "--seed", "-1"), "--seed"),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a[:1] + a[-2:])
                                                          for a, _ in CASES])
def test_a_bad_number_is_a_usage_error(args: tuple[str, ...], message: str) -> None:
    done = lpscore(*args, timeout=60)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
