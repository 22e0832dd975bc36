"""Busts, corrections, reused ClOrdIDs and replaces, on hand-written sessions."""

from pathlib import Path

import polars as pl

from lpscore.config import IngestConfig
from lpscore.fix.codec import encode
from lpscore.ingest import ingest_logs
from lpscore.ingest.orders import effective_fills, link_child_orders

DESK, LP = "DESK", "LP_A"


class Session:
    """Writes a QuickFIX-style log with one capture timestamp per second."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.seq = {DESK: 0, LP: 0}

    def send(self, sender: str, msg_type: str, *fields: tuple[int, object]) -> None:
        target = LP if sender == DESK else DESK
        self.seq[sender] += 1
        second = len(self.lines)
        stamp = f"20240102-10:00:{second:02d}"
        body = [(49, sender), (56, target), (34, self.seq[sender]), (52, stamp + ".000"),
                *fields]
        message = encode(msg_type, body)  # type: ignore[arg-type]
        self.lines.append(f"{stamp}.000000000 : ".encode() + message)

    def order(self, cl: str, qty: int = 100) -> None:
        self.send(DESK, "D", (11, cl), (55, "XYZ"), (54, 1), (38, qty), (40, 2), (44, 10.0))

    def report(self, cl: str, exec_id: str, exec_type: str, qty: float = 0, px: float = 0,
               ref: str | None = None) -> None:
        fields: list[tuple[int, object]] = [(37, "O1"), (11, cl), (17, exec_id),
                                            (150, exec_type), (39, "1"), (55, "XYZ"), (54, 1)]
        if qty:
            fields += [(32, qty), (31, px)]
        if ref:
            fields.append((19, ref))
        self.send(LP, "8", *fields)

    def ingest(self, tmp_path: Path) -> pl.DataFrame:
        path = tmp_path / "session.log"
        path.write_bytes(b"\n".join(self.lines) + b"\n")
        result = ingest_logs([path], IngestConfig())
        assert result.files[0].balanced
        assert len(result.quarantine) == 0
        return result.events


def test_bust_removes_its_fill_and_correction_replaces_it(tmp_path):
    s = Session()
    s.order("C1")
    s.report("C1", "E0", "0")
    s.report("C1", "E1", "F", 40, 10.01)
    s.report("C1", "E2", "F", 60, 10.02)
    s.report("C1", "E3", "H", ref="E1")
    s.report("C1", "E4", "G", 60, 10.00, ref="E2")
    fills = effective_fills(s.ingest(tmp_path))
    assert fills.height == 1
    row = fills.row(0, named=True)
    assert (row["last_qty"], row["last_px"], row["exec_id"], row["corrected"]) == (
        60.0, 10.00, "E4", True)


def test_reused_clordid_starts_a_new_child_order(tmp_path):
    s = Session()
    s.order("0")
    s.report("0", "X1", "F", 100, 10.0)
    s.order("0")
    s.report("0", "X2", "8")
    linked = link_child_orders(s.ingest(tmp_path))
    children = linked.filter(pl.col("kind") == "D")["child_id"].to_list()
    assert len(set(children)) == 2
    fill, reject = (linked.filter(pl.col("exec_id") == x)["child_id"].item()
                    for x in ("X1", "X2"))
    assert fill == children[0]
    assert reject == children[1]


def test_fill_before_ack_and_replace_chain_link_to_one_child(tmp_path):
    s = Session()
    s.order("A")
    s.report("A", "F1", "F", 10, 10.0)
    s.report("A", "N1", "0")
    s.send(DESK, "G", (11, "B"), (41, "A"), (55, "XYZ"), (54, 1), (38, 50), (40, 2), (44, 9.9))
    s.report("B", "R1", "5")
    s.send(DESK, "F", (11, "C"), (41, "B"), (55, "XYZ"), (54, 1))
    s.report("C", "K1", "4")
    linked = link_child_orders(s.ingest(tmp_path))
    assert linked["child_id"].null_count() == 0
    assert linked["child_id"].n_unique() == 1


def test_unknown_clordid_is_an_orphan(tmp_path):
    s = Session()
    s.order("A")
    s.report("Z", "E1", "F", 10, 10.0)
    linked = link_child_orders(s.ingest(tmp_path))
    assert linked.filter(pl.col("exec_id") == "E1")["child_id"].item() is None
