"""Hand-built score snapshots and FIX answers for router tests."""

from __future__ import annotations

from lpscore.fix.codec import encode
from lpscore.publish.snapshot import Snapshot

_SEQ = iter(range(1, 10**9))


def item(lp: str, rank: int, score: float, *, half: float = 3.0, provisional: bool = False,
         n: int = 200, fill_rate: float | None = 0.9,
         per_order: float | None = 50_000.0) -> dict[str, object]:
    """One LP's entry in a snapshot's ``scores``."""
    return {"lp": lp, "rank": rank, "score": score, "ci_low": score - half,
            "ci_high": score + half, "rank_stability": 0.9, "provisional": provisional,
            "n_orders": n, "n_eff": float(n), "contributions": {}, "kpis": {}, "raw_kpis": {},
            "capacity": {"fill_rate": fill_rate, "filled_qty_per_order": per_order,
                         "n_terminal": n}}


def snap(context: dict[str, str], *items: dict[str, object], profile: str = "block",
         at: int = 1) -> Snapshot:
    return Snapshot(profile, context, list(items), computed_at_ns=at, watermark_ns=None)


def report(lp: str, cl_ord_id: str, exec_type: str, status: str, *, last_qty: float = 0.0,
           last_px: float = 0.0, leaves: float = 0.0, cum: float = 0.0, exec_id: str | None = None,
           orig: str | None = None, text: str | None = None, target: str = "LPSCORE",
           poss_dup: bool = False) -> bytes:
    """An ExecutionReport (35=8) from ``lp``; ``exec_id=""`` leaves ExecID (17) out."""
    fields: list[tuple[int, str | float]] = [
        (49, lp), (56, target), (34, next(_SEQ)), (52, "20240102-10:00:00.000")]
    if poss_dup:
        fields.append((43, "Y"))
    fields += [(37, f"O-{cl_ord_id}"), (11, cl_ord_id)]
    if orig is not None:
        fields.append((41, orig))
    if exec_id != "":
        fields.append((17, exec_id if exec_id is not None else f"E{next(_SEQ)}"))
    fields += [(150, exec_type), (39, status),
               (55, "ACME"), (54, "2"), (32, last_qty), (31, last_px), (151, leaves),
               (14, cum), (6, last_px)]
    if text is not None:
        fields.append((58, text))
    return encode("8", fields)
