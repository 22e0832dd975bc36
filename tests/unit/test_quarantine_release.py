"""``Quarantine.release``: records written elsewhere leave memory but keep counting."""

from __future__ import annotations

import pytest

from lpscore.quarantine import Quarantine


def _filled() -> Quarantine:
    q = Quarantine()
    for i, (source, reason) in enumerate([("a", "not_fix"), ("b", "bad_checksum"),
                                          ("a", "bad_checksum"), ("b", "not_fix"),
                                          ("a", "not_fix")]):
        q.add(source, i * 10, i + 1, reason, b"x")
    return q


def test_released_records_still_count_and_positions_keep_their_meaning() -> None:
    q, whole = _filled(), _filled()
    seen = 2
    q.release(3)
    assert len(q) == len(whole) == 5
    assert q.released == 3 and [r.offset for r in q.records] == [30, 40]
    assert q.since(3) == whole.since(3) == whole.records[3:]
    assert q.since(5) == []
    for source in (None, "a", "b"):
        assert q.by_reason(source) == whole.by_reason(source)
    with pytest.raises(ValueError, match="released"):
        q.since(seen)
    q.add("c", 99, 6, "truncated", b"y")
    assert len(q) == 6 and q.since(5)[0].reason == "truncated"
    q.release(2)                       # before what is already released: nothing happens
    assert q.released == 3 and len(q.records) == 3
    q.release(6)
    assert not q.records and len(q) == 6
    assert q.by_reason() == {"bad_checksum": 2, "not_fix": 3, "truncated": 1}
