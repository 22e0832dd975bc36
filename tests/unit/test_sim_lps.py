"""Simulated LPs over FIX: the messages, determinism, the behaviour model against its truth
helpers, cancels, bad input, and a round trip through lpscore's own ingest."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lpscore.config import IngestConfig
from lpscore.errors import ConfigError
from lpscore.fix.codec import decode, encode
from lpscore.ingest import ingest_logs
from lpscore.model.enums import Side
from lpscore.quarantine import Quarantine
from lpscore.routing import FixOrderWriter
from lpscore.routing.fixout import fix_time
from lpscore.sim.lps import (
    Change,
    LpParams,
    SimulatedLp,
    ack_median_ms,
    available_survival,
    expected_fill_rate,
    expected_pi_bps,
    expected_reject_rate,
    hold_median_ms,
    reject_prob,
    resequence,
)

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000
MS = 1_000_000
EXEC_TAGS = (49, 56, 34, 52, 37, 11, 17, 150, 39, 55, 54, 38, 32, 31, 14, 151, 6, 60, 100)


class Still:
    """A market that never moves: 99.99 / 100.01, one regime."""

    def __init__(self, bid: float = 99.99, ask: float = 100.01, regime: str = "mid") -> None:
        self.bid, self.ask, self.regime = bid, ask, regime

    def quote_at(self, t_ns: int) -> tuple[float, float]:
        return self.bid, self.ask

    def mid_at(self, t_ns: int) -> float:
        return (self.bid + self.ask) / 2

    def regime_at(self, t_ns: int) -> str:
        return self.regime


class Scripted(Still):
    """A market whose mid is ``mid(t_ns)``, one cent either side."""

    def __init__(self, mid: Callable[[int], float]) -> None:
        super().__init__()
        self.mid = mid

    def quote_at(self, t_ns: int) -> tuple[float, float]:
        m = self.mid(t_ns)
        return m - 0.01, m + 0.01

    def mid_at(self, t_ns: int) -> float:
        return self.mid(t_ns)


@dataclass
class Sent:
    """One order we sent at ``t`` and the LP's answers, decoded once."""

    t: int
    raw: bytes
    answers: list[tuple[int, bytes]]

    def __post_init__(self) -> None:
        self.msgs = [(d, fields(m)) for d, m in self.answers]

    def decoded(self) -> list[dict[int, str]]:
        return [f for _, f in self.msgs]

    def of(self, exec_type: str) -> list[tuple[int, dict[int, str]]]:
        return [(d, f) for d, f in self.msgs if f[35] == "8" and f[150] == exec_type]

    def filled(self) -> float:
        return sum(float(f[32]) for _, f in self.of("F"))


def fields(raw: bytes) -> dict[int, str]:
    """Tag -> first value of a message (strictly decoded: BodyLength and CheckSum checked)."""
    out: dict[int, str] = {}
    for tag, value in decode(raw).fields:
        out.setdefault(tag, value.decode())
    return out


def lp_of(market: Still | None = None, seed: int = 1, **params: object) -> SimulatedLp:
    params.setdefault("name", "LP_A")
    return SimulatedLp(LpParams(**params), market or Still(), seed=seed,
                       start_ns=T0)


def trade(lp: SimulatedLp, n: int, *, qty: float = 1_000, every_s: float = 1.0,
          start_s: float = 0.0, tif: str = "ioc", price: float | None = None,
          side: Callable[[int], Side] = lambda i: Side.BUY,
          writer: FixOrderWriter | None = None) -> list[Sent]:
    writer = writer or FixOrderWriter("LPSCORE", targets={lp.params.name: lp.comp_id})
    out = []
    for i in range(n):
        t = T0 + round((start_s + i * every_s) * S)
        raw = writer.new_order(cl_ord_id=f"C{start_s:g}-{i}", parent_id="P1",
                               lp=lp.params.name, symbol="ACME", side=side(i), qty=qty,
                               now_ns=t, price=price, time_in_force=tif)
        out.append(Sent(t, raw, lp.on_message(raw, t)))
    return out


def within(estimate: float, truth: float, se: float, k: float = 3.0) -> bool:
    return abs(estimate - truth) <= k * se + 1e-12


# -- the messages ------------------------------------------------------------------------------

def test_every_answer_is_valid_fix_with_the_documented_tags() -> None:
    lp = lp_of(comp_id="LPA-FIX", fill_prob=0.7, liquidity_zero_prob=0.2,
               liquidity_scale=800.0, liquidity_alpha=1.5, pi_bps_mean=0.3, pi_bps_sd=0.2)
    sent = trade(lp, 60, side=lambda i: Side.BUY if i % 2 else Side.SELL,
                 tif="ioc") + trade(lp, 20, start_s=100.0, tif="day")
    seqs, exec_ids = [], []
    kinds = set()
    for order in sent:
        ours = fields(order.raw)
        assert order.answers, "every order is answered"
        for deliver, raw in order.answers:
            msg = decode(raw)                      # strict: BodyLength and CheckSum are right
            assert msg.begin_string == "FIX.4.4"
            f = fields(raw)
            assert (f[49], f[56], f[52]) == ("LPA-FIX", "LPSCORE", fix_time(deliver))
            assert deliver > order.t and deliver % 1000 == 0
            seqs.append(int(f[34]))
            assert f[35] == "8"
            assert all(tag in f for tag in EXEC_TAGS), sorted(set(EXEC_TAGS) - set(f))
            assert (f[11], f[55], f[54], f[38], f[526], f[100]) == (
                ours[11], "ACME", ours[54], "1000", "P1", "LP_A")
            assert f[60] == f[52]                  # decided and sent at the same instant
            exec_ids.append(f[17])
            kinds.add((f[150], f[39]))
            if f[150] == "8":
                assert f[58] and f[103]
        first = order.decoded()[0]
        assert (first[150], first[39]) in {("0", "0"), ("8", "8")}
        last = order.decoded()[-1]
        if ours[59] == "3":                        # IOC: always ends terminal
            assert last[39] in {"2", "4", "8"} and last[151] == "0"
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(set(exec_ids)) == len(exec_ids)
    assert {("0", "0"), ("F", "1"), ("4", "4"), ("8", "8")} <= kinds


def test_fills_are_consistent_with_their_reports() -> None:
    lp = lp_of(liquidity_scale=600.0, liquidity_alpha=1.2, fill_prob=1.0)
    sent = trade(lp, 40)
    reports = [f for order in sent for _, f in order.of("F")]
    assert [(f.exec_id, f.qty, f.price) for f in lp.fills()] == [
        (r[17], float(r[32]), float(r[31])) for r in reports]
    for r in reports:
        assert float(r[14]) + float(r[151]) == 1000 and float(r[6]) == float(r[31])


def test_same_seed_same_bytes_and_another_seed_differs() -> None:
    def run(seed: int) -> list[bytes]:
        lp = lp_of(seed=seed, fill_prob=0.8, liquidity_zero_prob=0.3, liquidity_scale=900.0,
                   last_look_ms=3.0, pi_bps_sd=0.5)
        return [m for s in trade(lp, 50) for _, m in s.answers]
    assert run(5) == run(5)
    assert run(5) != run(6)


# -- latency, fills, liquidity -----------------------------------------------------------------

def test_ack_and_hold_medians_match_the_params() -> None:
    params = {"ack_ms": 2.0, "ack_sigma": 0.5, "fill_ms": 5.0, "fill_sigma": 0.4,
              "last_look_ms": 3.0, "fill_prob": 1.0}
    lp = lp_of(**params)
    sent = trade(lp, 2_000, every_s=0.1)
    ack = np.array([(s.of("0")[0][0] - s.t) / MS for s in sent])
    hold = np.array([(s.of("F")[0][0] - s.of("0")[0][0]) / MS for s in sent])
    truth = LpParams(name="x", **params)
    # the log of a lognormal is normal: its median's standard error is 1.2533 sigma / sqrt(n)
    se = 1.2533 * 0.5 / math.sqrt(len(ack))
    assert within(math.log(float(np.median(ack))), math.log(ack_median_ms(truth)), se, 4)
    hold_se = 1.2533 * 0.4 * 5.0 / math.sqrt(len(hold))   # delta method, around fill_ms
    assert within(float(np.median(hold)), hold_median_ms(truth), hold_se, 4)
    assert hold.min() >= 3.0                               # the last-look hold is a floor


@pytest.mark.parametrize("regime", ["mid", "high"])
def test_fill_fraction_and_reject_share_match_the_truth_helpers(regime: str) -> None:
    params = {"fill_prob": 0.85, "reject_size_coef": 0.05, "reject_high_vol_mult": 2.0,
              "liquidity_zero_prob": 0.25, "liquidity_alpha": 1.5,
              "liquidity_scale": 1_500.0}
    lp = lp_of(Still(regime=regime), seed=11, **params)
    qty = 2_000.0
    sent = trade(lp, 2_000, qty=qty, every_s=0.05)
    fraction = np.array([s.filled() / qty for s in sent])
    truth = LpParams(name="x", **params)
    expected = expected_fill_rate(truth, qty, regime)
    assert within(float(fraction.mean()), expected, fraction.std() / math.sqrt(len(sent)))
    rejected = np.array([bool(s.of("8")) for s in sent], dtype=float)
    p = expected_reject_rate(truth, qty, regime)
    assert p == pytest.approx(reject_prob(truth, qty, regime))      # no last look here
    assert p == pytest.approx((0.15 + 0.05 * qty / 1_500) * (2.0 if regime == "high" else 1.0))
    assert within(float(rejected.mean()), p, math.sqrt(p * (1 - p) / len(sent)))


def test_available_size_has_the_zero_bin_and_the_power_law_tail() -> None:
    # an order far larger than any available size fills exactly what was available
    z, alpha, scale = 0.3, 1.4, 1_000.0
    params = LpParams(name="LP_A", fill_prob=1.0, liquidity_zero_prob=z, liquidity_alpha=alpha,
                      liquidity_scale=scale)
    lp = SimulatedLp(params, Still(), seed=3, start_ns=T0)
    sizes = np.array([s.filled() for s in trade(lp, 3_000, qty=1e12, every_s=0.01)])
    n = len(sizes)
    zero = float((sizes == 0).mean())        # (sizes under one unit floor to 0: 0.1% of them)
    assert within(zero, 1 - available_survival(params, 0.5), math.sqrt(z * (1 - z) / n))
    positive = sizes[sizes > 0]
    # log(1 + V/scale) is exponential with rate alpha: its MLE and standard error
    alpha_hat = len(positive) / float(np.log1p(positive / scale).sum())
    assert within(alpha_hat, alpha, alpha / math.sqrt(len(positive)))
    for at in (scale, 9 * scale):            # survival at two points, 2**-a and 10**-a
        p = available_survival(params, at) / (1 - z)
        share = float((positive > at).mean())
        assert within(share, p, math.sqrt(p * (1 - p) / len(positive)))


def test_fok_fills_all_or_nothing_and_a_limit_is_respected() -> None:
    params = LpParams(name="LP_A", fill_prob=1.0, liquidity_alpha=1.0, liquidity_scale=1_000.0)
    lp = SimulatedLp(params, Still(), seed=4, start_ns=T0)
    sent = trade(lp, 1_000, qty=1_500, tif="fok", every_s=0.01)
    filled = np.array([s.filled() for s in sent])
    assert set(filled.tolist()) <= {0.0, 1_500.0}
    p = expected_fill_rate(params, 1_500, time_in_force="fok")
    assert p == pytest.approx(available_survival(params, 1_500))
    assert within(float((filled > 0).mean()), p, math.sqrt(p * (1 - p) / len(sent)))
    # a buy limit below what the LP would charge is never filled, and says why
    lp = lp_of(fill_prob=1.0)
    (order,) = trade(lp, 1, price=100.00)
    ((_, cancel),) = order.of("4")
    assert (order.filled(), cancel[58]) == (0.0, "limit price not reached")


# -- last look, prices, dark -------------------------------------------------------------------

def _episode_mid(t_ns: int) -> float:
    """Order k arrives at k seconds at mid 100; 1 ms later the mid jumps by +5, -5 or +1 bps
    (k % 3 = 0, 1, 2) and stays until the next order."""
    k, within_ns = divmod(t_ns - T0, S)
    if within_ns < MS:
        return 100.0
    return 100.0 * (1 + (5e-4, -5e-4, 1e-4)[k % 3])


def test_last_look_rejects_only_moves_against_the_lp_beyond_the_threshold() -> None:
    lp = lp_of(Scripted(_episode_mid), fill_prob=1.0, last_look_ms=10.0,
               last_look_threshold_bps=2.0, last_look_reject_prob=1.0)
    side = lambda i: Side.BUY if (i // 3) % 2 else Side.SELL  # noqa: E731 - one line
    sent = trade(lp, 600, side=side)
    for i, order in enumerate(sent):
        move_bps = (5.0, -5.0, 1.0)[i % 3] * (1 if side(i) is Side.BUY else -1)
        rejected = order.of("8")
        assert bool(rejected) == (move_bps > 2.0), (i, move_bps)   # up hurts an LP that sold
        if rejected:
            assert rejected[0][1][58].startswith("last look")
            assert (rejected[0][0] - order.of("0")[0][0]) >= 10 * MS
        else:
            assert order.filled() == 1_000


def test_last_look_reject_rate_follows_its_probability() -> None:
    params = {"fill_prob": 1.0, "last_look_ms": 10.0, "last_look_threshold_bps": 2.0,
              "last_look_reject_prob": 0.4}
    lp = lp_of(Scripted(_episode_mid), seed=9, **params)
    sent = trade(lp, 1_500)
    adverse = [s for i, s in enumerate(sent) if i % 3 == 0]     # buys: +5 bps hurts the LP
    share = float(np.mean([bool(s.of("8")) for s in adverse]))
    truth = LpParams(name="x", **params)
    assert within(share, expected_reject_rate(truth, 1_000, p_adverse=1.0),
                  math.sqrt(0.24 / len(adverse)))
    assert not any(s.of("8") for i, s in enumerate(sent) if i % 3)
    rate = float(np.mean([s.filled() / 1_000 for s in sent]))
    assert within(rate, expected_fill_rate(truth, 1_000, p_adverse=1 / 3),
                  math.sqrt(0.4 * 0.6 / 3 / len(sent)))


def test_lit_prices_improve_on_the_touch_and_never_cross_the_mid() -> None:
    params = LpParams(name="LP_A", fill_prob=1.0, pi_bps_mean=0.4, pi_bps_sd=0.5)
    lp = SimulatedLp(params, Still(), seed=2, start_ns=T0)
    sent = trade(lp, 1_000, side=lambda i: Side.BUY if i % 2 else Side.SELL)
    pi = []
    for i, order in enumerate(sent):
        ((_, fill),) = order.of("F")
        price = float(fill[31])
        s = 1 if i % 2 else -1
        assert s * (price - 100.0) >= 0          # buys at or above the mid, sells at or below
        assert round(price, 4) == price
        pi.append(s * ((100.01 if s > 0 else 99.99) - price) / 100.0 * 1e4)
    pi_arr = np.array(pi)
    assert within(float(pi_arr.mean()), expected_pi_bps(params, 1.0),
                  float(pi_arr.std()) / math.sqrt(len(pi)) + 0.005)   # + tick rounding
    assert pi_arr.min() < 0 < pi_arr.max()       # a draw below 0 fills through the touch
    greedy = SimulatedLp(LpParams(name="LP_A", fill_prob=1.0, pi_bps_mean=5.0), Still(),
                         seed=2, start_ns=T0)
    trade(greedy, 5)                              # 5 bps > the 1 bp half spread: at the mid
    assert {f.price for f in greedy.fills()} == {100.0}
    assert expected_pi_bps(greedy.params, 1.0) == 1.0


def test_dark_pool_fills_at_the_mid_or_not_at_all() -> None:
    market = Scripted(lambda t: 100.0 + 0.00037 * ((t - T0) // S % 7))
    lp = lp_of(market, kind="dark", fill_prob=1.0, liquidity_zero_prob=0.5,
               liquidity_alpha=0.8, liquidity_scale=500.0)
    sent = trade(lp, 300, side=lambda i: Side.BUY if i % 2 else Side.SELL)
    outcomes = set()
    for order in sent:
        for deliver, fill in order.of("F"):
            assert float(fill[31]) == round(market.mid(deliver), 4)
        if not order.of("F"):
            ((_, cancel),) = order.of("4")
            assert (cancel[58], cancel[14], cancel[151]) == ("no liquidity", "0", "0")
        outcomes.add("fill" if order.filled() == 1_000 else
                     "partial" if order.filled() else "none")
    assert outcomes == {"fill", "partial", "none"}
    assert expected_pi_bps(lp.params, 1.0) == 1.0


# -- schedule ----------------------------------------------------------------------------------

def test_changes_apply_in_time_order_and_take_effect_at_their_time() -> None:
    params = LpParams(name="LP_A", fill_prob=1.0, changes=(
        Change(at_s=60.0, set={"fill_prob": 0.0, "ack_ms": 40.0}),
        Change(at_s=30.0, set={"ack_ms": 10.0}),
        Change(at_s=90.0, set={"fill_prob": 1.0, "leak_bps": 2.0})))
    assert params.at(29.9).ack_ms == 2.0
    assert (params.at(30.0).ack_ms, params.at(59.0).fill_prob) == (10.0, 1.0)
    assert (params.at(60.0).ack_ms, params.at(60.0).fill_prob) == (40.0, 0.0)
    assert (params.at(1e9).ack_ms, params.at(1e9).fill_prob, params.at(1e9).changes) == (
        40.0, 1.0, ())
    lp = SimulatedLp(params, Still(), seed=1, start_ns=T0)
    sent = trade(lp, 120)
    for i, order in enumerate(sent):
        assert bool(order.of("8")) == (60 <= i < 90), i
    early = [(s.of("0")[0][0] - s.t) / MS for s in sent[:30]]
    late = [(s.of("0")[0][0] - s.t) / MS for s in sent[60:]]
    assert np.median(early) < 5
    assert np.median(late) > 20
    assert {(f.t_ns < T0 + 90 * S, f.leak_bps) for f in lp.fills()} == {(True, 0.0),
                                                                        (False, 2.0)}


def test_bad_params_are_config_errors() -> None:
    for bad in ({"kind": "grey"}, {"fill_prob": 1.2}, {"liquidity_alpha": 0.0},
                {"ack_ms": math.nan}, {"reject_size_coef": 0.1},
                {"changes": (Change(at_s=5.0, set={"name": 1.0}),)},
                {"changes": (Change(at_s=5.0, set={"fill_prob": 2.0}),)}):
        with pytest.raises(ConfigError):
            LpParams(name="LP_A", **bad)


# -- cancels and bad input ---------------------------------------------------------------------

def _cancel(lp: SimulatedLp, orig: str, t: int, cl: str = "X1") -> list[dict[int, str]]:
    writer = FixOrderWriter("LPSCORE")
    raw = writer.cancel(cl_ord_id=cl, orig_cl_ord_id=orig, lp="LP_A", symbol="ACME",
                        side=Side.BUY, qty=1_000, now_ns=t)
    return [fields(m) for _, m in lp.on_message(raw, t)]


def test_cancel_of_an_open_day_order_then_of_done_orders() -> None:
    lp = lp_of(fill_prob=1.0, liquidity_alpha=50.0, liquidity_scale=20_000.0)   # ~400 shares
    (day,) = trade(lp, 1, tif="day")
    ((_, partial),) = day.of("F")
    assert partial[39] == "1" and float(partial[151]) == 1_000 - float(partial[14])
    assert day.decoded()[-1][150] == "F"                  # the rest stays open: no cancel
    (ok,) = _cancel(lp, day.decoded()[0][11], T0 + S)
    assert (ok[35], ok[150], ok[39], ok[41], ok[11], ok[14], ok[151]) == (
        "8", "4", "4", "C0-0", "X1", partial[14], "0")
    (again,) = _cancel(lp, "C0-0", T0 + 2 * S, cl="X2")
    assert (again[35], again[434], again[102], again[39], again[41]) == ("9", "1", "0", "4",
                                                                         "C0-0")
    full = lp_of(fill_prob=1.0)
    trade(full, 1)
    (late,) = _cancel(full, "C0-0", T0 + S)
    assert (late[35], late[39], late[102]) == ("9", "2", "0")
    (unknown,) = _cancel(full, "NOPE", T0 + S, cl="X3")
    assert (unknown[35], unknown[102], unknown[37]) == ("9", "1", "NONE")


def test_a_cancel_before_the_decision_is_handled_after_it() -> None:
    lp = lp_of(fill_prob=1.0, liquidity_zero_prob=1.0, fill_ms=50.0, fill_sigma=0.0)
    (day,) = trade(lp, 1, tif="day")
    assert [f[150] for f in day.decoded()] == ["0"]        # nothing available: it rests
    writer = FixOrderWriter("LPSCORE")
    raw = writer.cancel(cl_ord_id="X1", orig_cl_ord_id="C0-0", lp="LP_A", symbol="ACME",
                        side=Side.BUY, qty=1_000, now_ns=T0 + MS)
    ((deliver, answer),) = lp.on_message(raw, T0 + MS)
    assert fields(answer)[150] == "4" and deliver > day.answers[0][0] + 49 * MS


def test_bad_input_gets_a_session_reject_and_the_lp_carries_on() -> None:
    lp = lp_of(fill_prob=1.0)
    header = [(49, "LPSCORE"), (56, "LP_A"), (34, 7), (52, "20231114-22:13:20.000000")]
    no_qty = encode("D", [*header, (11, "C1"), (55, "ACME"), (54, "1"), (40, "1"), (59, "3")])
    bad_side = encode("D", [*header, (11, "C1"), (55, "ACME"), (54, "9"), (38, "5"),
                            (40, "1")])
    wrong_lp = encode("D", [(49, "LPSCORE"), (56, "LP_Z"), (34, 8), (52, "x"), (11, "C1")])
    cases = {
        b"garbage": ("0", "99", None),
        no_qty[:-4] + b"000\x01": ("7", "99", None),       # bad CheckSum
        no_qty: ("7", "1", "38"),
        bad_side: ("7", "5", "54"),
        wrong_lp: ("8", "9", None),
        encode("Z", header): ("7", "11", "35"),
    }
    for raw, (ref, reason, tag) in cases.items():
        ((_, answer),) = lp.on_message(raw, T0)
        f = fields(answer)
        assert (f[35], f[45], f[373], f.get(371)) == ("3", ref, reason, tag), raw
        assert f[58]
    assert lp.on_message(encode("0", header), T0) == []
    ((_, beat),) = lp.on_message(encode("1", [*header, (112, "T1")]), T0)
    assert (fields(beat)[35], fields(beat)[112]) == ("0", "T1")
    (order,) = trade(lp, 1)
    assert order.filled() == 1_000


def test_a_live_cl_ord_id_is_rejected_as_a_duplicate() -> None:
    lp = lp_of(fill_prob=1.0, liquidity_zero_prob=1.0)
    trade(lp, 1, tif="day")
    (again,) = trade(lp, 1, tif="day")
    assert [(f[150], f[103]) for f in again.decoded()] == [("8", "6")]


# -- through lpscore's ingest ------------------------------------------------------------------

def test_ingest_attributes_every_message_to_its_lp_and_quarantines_nothing(
        tmp_path: Path) -> None:
    market = Still()
    a = SimulatedLp(LpParams(name="LP_A", fill_prob=0.8, liquidity_scale=700.0,
                             last_look_ms=2.0), market, seed=1, start_ns=T0)
    b = SimulatedLp(LpParams(name="LP_B", comp_id="LPB-FIX", kind="dark",
                             liquidity_zero_prob=0.4, liquidity_scale=900.0), market,
                    seed=2, start_ns=T0)
    writer = FixOrderWriter("LPSCORE", targets={"LP_B": "LPB-FIX"})
    log: list[tuple[int, bytes]] = []
    for lp in (a, b):
        for i, order in enumerate(trade(lp, 40, every_s=0.003, writer=writer,
                                        tif="day" if lp is b else "ioc")):
            log.append((order.t, order.raw))
            log += order.answers
            if lp is b and i % 4 == 0:
                t = order.t + 100 * MS
                raw = writer.cancel(cl_ord_id=f"X{i}", orig_cl_ord_id=f"C0-{i}", lp="LP_B",
                                    symbol="ACME", side=Side.BUY, qty=1_000, now_ns=t)
                log += [(t, raw), *lp.on_message(raw, t)]
    path = tmp_path / "sim.log"
    path.write_bytes(b"".join(raw for _, raw in sorted(log, key=lambda item: item[0])))
    result = ingest_logs([path], IngestConfig(own_comp_ids=("LPSCORE",),
                                              lp_map={"LPB-FIX": "LP_B"}), Quarantine())
    assert len(result.quarantine) == 0
    (report,) = result.files
    assert (report.events, report.skipped, report.quarantined) == (len(log), 0, 0)
    events = result.events
    assert set(events["lp"].to_list()) == {"LP_A", "LP_B"}
    assert events["lp"].null_count() == 0
    by_lp = {lp: events.filter(events["lp"] == lp).height for lp in ("LP_A", "LP_B")}
    assert by_lp["LP_A"] == sum(1 for _, raw in log if b"\x0149=LP_A\x01" in raw
                                or b"\x0156=LP_A\x01" in raw)
    assert result.totals()["fills"] == len(a.fills()) + len(b.fills())
    assert result.data_quality.get("exec_id_reused", 0) == 0


def test_resequence_numbers_each_session_in_delivery_order() -> None:
    lp = lp_of(fill_prob=1.0, ack_ms=1.0, fill_ms=30.0)
    sent = trade(lp, 20, every_s=0.002)                     # answers interleave
    messages = [m for s in sent for m in s.answers]
    generated = [int(fields(m)[34]) for _, m in sorted(messages, key=lambda item: item[0])]
    assert generated != sorted(generated)
    out = resequence(messages)
    assert [d for d, _ in out] == sorted(d for d, _ in messages)
    assert [int(fields(m)[34]) for _, m in out] == list(range(1, len(out) + 1))
    assert sorted(fields(m)[17] for _, m in out) == sorted(fields(m)[17] for _, m in messages)


def test_truth_helpers_closed_forms() -> None:
    base = LpParams(name="x", fill_prob=0.9)
    assert expected_fill_rate(base, 5_000) == pytest.approx(0.9)       # infinite liquidity
    lomax = LpParams(name="x", fill_prob=1.0, liquidity_zero_prob=0.2, liquidity_alpha=1.0,
                     liquidity_scale=100.0)
    assert expected_fill_rate(lomax, 300) == pytest.approx(0.8 * 100 * math.log(4) / 300)
    other = LpParams(name="x", fill_prob=1.0, liquidity_alpha=2.0, liquidity_scale=100.0)
    assert expected_fill_rate(other, 100) == pytest.approx(100 * (1 - 0.5) / 100)
    assert reject_prob(LpParams(name="x", fill_prob=0.2, reject_high_vol_mult=3), 1, "high") == 1
    assert expected_pi_bps(LpParams(name="x", pi_bps_mean=0.5), 1.0) == 0.5
    assert expected_pi_bps(LpParams(name="x", pi_bps_mean=0.0, pi_bps_sd=1.0), 0.0) == (
        pytest.approx(-1 / math.sqrt(2 * math.pi)))
