"""Parent orders worked over FIX: child NewOrderSingles out, execution reports in, re-routes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lpscore.config import IngestConfig, RoutingConfig
from lpscore.fix.codec import decode, encode
from lpscore.ingest import ingest_logs
from lpscore.model.enums import Side
from lpscore.publish import MemoryStore
from lpscore.quarantine import Quarantine
from lpscore.routing import (
    FixOrderWriter,
    Outcome,
    ParentOrder,
    Primary,
    Router,
    ScoreCache,
    Spray,
)
from routing_builders import item, report, snap

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def router(config: RoutingConfig | None = None) -> Router:
    cache = ScoreCache(MemoryStore(), ["block"])
    cache.install(snap({"symbol": "ACME"}, item("LP_C", 1, 88.0), item("LP_D", 2, 70.0),
                       item("LP_A", 3, 40.0)))
    return Router(cache, "block", config or RoutingConfig())


def fields(raw: bytes) -> dict[int, str]:
    return {t: v.decode() for t, v in decode(raw).fields}


class Recorder(Primary):
    """Primary, remembering what it observed (the learning hook)."""

    def __init__(self) -> None:
        self.seen: list[Outcome] = []

    def observe(self, outcome: Outcome) -> None:
        self.seen.append(outcome)


def parent(r: Router, qty: float = 10_000, **kw: object) -> ParentOrder:
    return ParentOrder(r, kw.pop("policy", Primary()), FixOrderWriter("DESK1"),  # type: ignore[arg-type]
                       parent_id="P1", symbol="ACME", side=Side.SELL, qty=qty, **kw)  # type: ignore[arg-type]


def test_child_orders_are_real_fix_new_order_singles() -> None:
    p = parent(router(), price=20.5)
    (raw,) = p.start(T0)
    msg = fields(raw)
    assert decode(raw).msg_type == "D"                     # BodyLength and CheckSum valid
    assert {k: msg[k] for k in (49, 56, 34, 11, 526, 100, 55, 54, 38, 40, 44, 59)} == {
        49: "DESK1", 56: "LP_C", 34: "1", 11: "P1-1", 526: "P1", 100: "LP_C", 55: "ACME",
        54: "2", 38: "10000", 40: "2", 44: "20.5", 59: "3"}
    assert msg[52] == msg[60] == "20231114-22:13:20.000000"
    assert p.status == "working"
    assert p.children["P1-1"].reason == "LP_C: rank 1 under block, score 88.0 +/- 3.0"


def test_emitted_orders_read_back_through_lpscore_ingest(tmp_path: Path) -> None:
    p = parent(router(), policy=Spray(3))
    log = tmp_path / "router.log"
    log.write_bytes(b"".join(p.start(T0)))
    result = ingest_logs([log], IngestConfig(own_comp_ids=("DESK1",)), Quarantine())
    orders = result.events.filter(result.events["kind"] == "D")
    got = sorted(zip(orders["lp"], orders["order_qty"], orders["parent_id"], strict=True))
    assert got == sorted((c.lp, c.qty, "P1") for c in p.children.values())


def test_reject_reroutes_to_the_next_best_and_cools_the_lp_down() -> None:
    r = router()
    policy = Recorder()
    p = parent(r, policy=policy)
    p.start(T0)
    out = p.on_message(report("LP_C", "P1-1", "8", "8", text="no liquidity"), T0 + 5 * MS)
    (raw,) = out
    assert (fields(raw)[56], fields(raw)[38], fields(raw)[11]) == ("LP_D", "10000", "P1-2")
    assert p.children["P1-2"].reason.endswith("re-route after LP_C rejected (no liquidity)")
    assert policy.seen == [Outcome("LP_C", "ACME", 10_000, 0.0, True, 5 * MS)]
    # another parent in the same symbol skips LP_C during its cool-down
    other = ParentOrder(r, Primary(), FixOrderWriter("DESK1"), parent_id="P2",
                        symbol="ACME", side=Side.BUY, qty=100)
    (first,) = other.start(T0 + 10 * MS)
    assert fields(first)[56] == "LP_D"


def test_partial_ioc_fill_reroutes_the_remainder_skipping_that_lp() -> None:
    p = parent(router())
    p.start(T0)
    assert p.on_message(report("LP_C", "P1-1", "F", "1", last_qty=4_000, last_px=20.0,
                               leaves=6_000, cum=4_000), T0 + MS) == []   # IOC: wait
    (raw,) = p.on_message(report("LP_C", "P1-1", "4", "4", leaves=0, cum=4_000), T0 + 2 * MS)
    assert (fields(raw)[56], fields(raw)[38]) == ("LP_D", "6000")
    assert p.children["P1-2"].reason.endswith("re-route after LP_C filled 4,000 of 10,000")
    p.on_message(report("LP_D", "P1-2", "F", "2", last_qty=6_000, last_px=19.9, cum=6_000),
                 T0 + 3 * MS)
    assert p.status == "filled"
    assert p.filled_qty == 10_000
    assert p.avg_px == (4_000 * 20.0 + 6_000 * 19.9) / 10_000


def test_partial_fill_of_a_day_order_is_canceled_before_the_rest_moves() -> None:
    p = parent(router(), time_in_force="day")
    p.start(T0)
    (cancel,) = p.on_message(report("LP_C", "P1-1", "F", "1", last_qty=2_500, last_px=20.0,
                                    leaves=7_500, cum=2_500), T0 + MS)
    msg = fields(cancel)
    assert (decode(cancel).msg_type, msg[41], msg[56]) == ("F", "P1-1", "LP_C")
    (moved,) = p.on_message(report("LP_C", msg[11], "4", "4", orig="P1-1", cum=2_500),
                            T0 + 2 * MS)
    assert (fields(moved)[56], fields(moved)[38]) == ("LP_D", "7500")


def test_possdup_resend_of_a_fill_counts_once() -> None:
    p = parent(router())
    p.start(T0)
    fill = {"last_qty": 3_000, "last_px": 20.0, "leaves": 7_000, "cum": 3_000,
            "exec_id": "X1"}
    p.on_message(report("LP_C", "P1-1", "F", "1", **fill), T0 + MS)  # type: ignore[arg-type]
    p.on_message(report("LP_C", "P1-1", "F", "1", poss_dup=True, **fill),  # type: ignore[arg-type]
                 T0 + 2 * MS)
    assert p.filled_qty == 3_000


def test_out_of_lps_when_every_lp_fell_short() -> None:
    p = parent(router())
    p.start(T0)
    p.on_message(report("LP_C", "P1-1", "8", "8"), T0 + MS)
    p.on_message(report("LP_D", "P1-2", "8", "8"), T0 + 2 * MS)
    assert p.on_message(report("LP_A", "P1-3", "8", "8"), T0 + 3 * MS) == []
    assert p.status == "out_of_lps"
    assert p.decisions[-1][1].children == ()
    assert {s.lp for s in p.decisions[-1][1].skipped} == {"LP_C", "LP_D", "LP_A"}


def test_deadline_cancels_what_is_live_and_routes_nothing_more() -> None:
    p = parent(router(), time_in_force="day", deadline_ns=T0 + 1000 * MS)
    p.start(T0)
    assert p.on_timer(T0 + 999 * MS) == []
    (cancel,) = p.on_timer(T0 + 1000 * MS)
    assert decode(cancel).msg_type == "F"
    assert p.on_timer(T0 + 1001 * MS) == []                 # one cancel per child
    p.on_message(report("LP_C", fields(cancel)[11], "4", "4", orig="P1-1"), T0 + 1002 * MS)
    assert p.status == "out_of_time"


def test_spray_sends_children_at_once_and_reroutes_one_that_rejects() -> None:
    p = parent(router(RoutingConfig(lot_size=100)), qty=90_000, policy=Spray(2))
    out = p.start(T0)
    assert [fields(m)[56] for m in out] == ["LP_C", "LP_D"]
    d_qty = p.children["P1-2"].qty
    (raw,) = p.on_message(report("LP_D", "P1-2", "8", "8"), T0 + MS)
    # LP_C is still working its slice, LP_D fell short: the slice goes to LP_A
    assert (fields(raw)[56], float(fields(raw)[38])) == ("LP_A", d_qty)


def test_a_repeated_terminal_report_does_not_route_twice() -> None:
    policy = Recorder()
    p = parent(router(), policy=policy)
    p.start(T0)
    assert len(p.on_message(report("LP_C", "P1-1", "8", "8"), T0 + MS)) == 1
    assert p.on_message(report("LP_C", "P1-1", "8", "8"), T0 + 2 * MS) == []
    assert len(policy.seen) == 1 and len(p.children) == 2


def test_fills_without_exec_ids_all_count() -> None:
    p = parent(router())
    p.start(T0)
    for n in range(2):
        p.on_message(report("LP_C", "P1-1", "F", "1", last_qty=1_000, last_px=20.0,
                            leaves=8_000 - n * 1_000, cum=1_000 * (n + 1), exec_id=""),
                     T0 + (n + 1) * MS)
    assert p.filled_qty == 2_000


def test_a_session_reject_of_a_child_reroutes_it() -> None:
    """A Reject (35=3) names our message by its MsgSeqNum (45) on the LP's session."""
    p = parent(router())
    p.start(T0)                # the child is message 1 of the LP_C session
    reject = encode("3", [(49, "LP_C"), (56, "DESK1"), (34, 1), (52, "20240102-10:00:00.000"),
                          (45, 1), (372, "D"), (58, "bad tag")])
    (raw,) = p.on_message(reject, T0 + MS)
    assert fields(raw)[56] == "LP_D"
    assert p.children["P1-1"].rejected
    assert p.children["P1-2"].reason.endswith("re-route after LP_C rejected (bad tag)")


@pytest.mark.parametrize(("qty", "price"), [(math.inf, None), (math.nan, None), (0.0, None),
                                            (-100.0, None), (100.0, math.inf),
                                            (100.0, math.nan), (100.0, 0.0)])
def test_a_parent_order_needs_a_positive_finite_quantity_and_price(qty: float,
                                                                   price: float | None) -> None:
    with pytest.raises(ValueError, match="must be positive and"):
        parent(router(), qty, price=price)


def test_a_side_that_is_not_a_side_is_refused_not_sent_as_a_sell() -> None:
    """side="buy" (the string form decision records use) went out as 54=2."""
    with pytest.raises(TypeError, match=r"give Side\.BUY or Side\.SELL"):
        ParentOrder(router(), Primary(), FixOrderWriter("DESK1"), parent_id="P1",
                    symbol="ACME", side="buy", qty=100)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"give Side\.BUY or Side\.SELL"):
        FixOrderWriter("DESK1").new_order(cl_ord_id="C1", parent_id="P1", lp="LP_A",
                                          symbol="ACME", side="buy",  # type: ignore[arg-type]
                                          qty=100, price=None, now_ns=T0)


def test_a_rest_under_a_lot_is_said_not_called_filled() -> None:
    """A parent under one lot ended 'filled' with nothing traded and no decision, and a
    parent of 1,050 in lots of 100 ended 'filled' at 1,000: the rest under a lot is now the
    plan's unrouted and the parent ends 'under_a_lot'."""
    lots_of_100 = RoutingConfig(lot_size=100)
    small = parent(router(lots_of_100), qty=50)
    assert small.start(T0) == []
    (decided,) = small.decisions
    assert decided[1].children == () and decided[1].unrouted == 50
    assert (small.status, small.filled_qty, small.finished) == ("under_a_lot", 0, True)
    odd = parent(router(lots_of_100), qty=1_050)
    (raw,) = odd.start(T0)
    assert fields(raw)[38] == "1000" and odd.decisions[0][1].unrouted == 50
    assert odd.on_message(report("LP_C", "P1-1", "F", "2", last_qty=1_000, last_px=20.0,
                                 cum=1_000), T0 + MS) == []
    assert (odd.status, odd.filled_qty, odd.finished) == ("under_a_lot", 1_000, True)
    assert odd.decisions[-1][1].unrouted == 50
