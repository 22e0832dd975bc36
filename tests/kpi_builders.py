"""Build small events and quotes tables by hand for KPI tests (EVENT_SCHEMA / QUOTE_SCHEMA)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from lpscore.model.schema import EVENT_SCHEMA, QUOTE_SCHEMA, polars_schema

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def at(ms: float) -> datetime:
    """T0 + ms milliseconds."""
    return T0 + timedelta(milliseconds=ms)


class Tape:
    """A desk's FIX traffic with one session per LP, written as events in receipt order."""

    def __init__(self, session_prefix: str = "DESK") -> None:
        self.prefix = session_prefix
        self.rows: list[dict[str, Any]] = []
        self._seq: dict[tuple[str, bool], int] = {}
        self._exec = 0

    def _row(self, kind: str, lp: str, ms: float, *, outbound: bool, **fields: Any) -> None:
        key = (lp, outbound)
        self._seq[key] = self._seq.get(key, 0) + 1
        ts = at(ms)
        self.rows.append({
            "kind": kind, "session": f"{self.prefix}->{lp}", "sender": "DESK" if outbound else lp,
            "target": lp if outbound else "DESK", "outbound": outbound, "lp": lp,
            "seq_num": self._seq[key], "seq_epoch": 0, "poss_dup": False, "ts_event": ts,
            "ts_recv": ts, "sending_time": ts, "exec_id_reused": False, "source": "tape",
            "offset": len(self.rows), "line": len(self.rows) + 1, **fields,
        })

    def order(self, lp: str, cl_ord_id: str, symbol: str, side: int, qty: float, ms: float,
              parent: str | None = None, price: float | None = None) -> None:
        self._row("D", lp, ms, outbound=True, cl_ord_id=cl_ord_id, symbol=symbol, side=side,
                  order_qty=qty, price=price, ord_type="2" if price else "1", parent_id=parent)

    def report(self, lp: str, cl_ord_id: str, ms: float, exec_type: str, ord_status: str,
               **fields: Any) -> str:
        self._exec += 1
        exec_id = fields.pop("exec_id", f"E{self._exec}")
        self._row("8", lp, ms, outbound=False, cl_ord_id=cl_ord_id, exec_id=exec_id,
                  exec_type=exec_type, ord_status=ord_status, **fields)
        return exec_id

    def ack(self, lp: str, cl_ord_id: str, ms: float) -> str:
        return self.report(lp, cl_ord_id, ms, "0", "0")

    def fill(self, lp: str, cl_ord_id: str, ms: float, qty: float, px: float, *,
             leaves: float = 0.0, status: str | None = None) -> str:
        return self.report(lp, cl_ord_id, ms, "F", status or ("2" if leaves == 0 else "1"),
                           last_qty=qty, last_px=px, leaves_qty=leaves)

    def reject(self, lp: str, cl_ord_id: str, ms: float, reason: int = 99,
               text: str = "Price moved") -> str:
        return self.report(lp, cl_ord_id, ms, "8", "8", ord_rej_reason=reason, text=text)

    def request(self, kind: str, lp: str, cl_ord_id: str, orig: str, ms: float,
                **fields: Any) -> None:
        """A cancel (``kind`` F) or replace (G) request for the order ``orig``."""
        self._row(kind, lp, ms, outbound=True, cl_ord_id=cl_ord_id, orig_cl_ord_id=orig,
                  **fields)

    def cancel_reject(self, lp: str, cl_ord_id: str, orig: str, ms: float) -> None:
        self._row("9", lp, ms, outbound=False, cl_ord_id=cl_ord_id, orig_cl_ord_id=orig,
                  cxl_rej_reason=1, cxl_rej_response_to="1", text="Too late to cancel")

    def sent_seq(self, lp: str) -> int:
        """The MsgSeqNum of our last message to ``lp``."""
        return self._seq[(lp, True)]

    def session_reject(self, lp: str, ref_seq_num: int, ms: float) -> None:
        self._row("3", lp, ms, outbound=False, ref_seq_num=ref_seq_num, ref_epoch=0,
                  ref_msg_type="D", text="Required tag missing")

    def events(self) -> pl.DataFrame:
        schema = polars_schema(EVENT_SCHEMA)
        return pl.DataFrame(self.rows, schema=schema)


def quotes(rows: list[tuple[float, str, float, float]]) -> pl.DataFrame:
    """Quotes from (ms after T0, symbol, bid, ask)."""
    schema = polars_schema(QUOTE_SCHEMA)
    data = [{"ts": at(ms), "symbol": sym, "bid": bid, "ask": ask, "bid_size": 100.0,
             "ask_size": 100.0} for ms, sym, bid, ask in rows]
    return pl.DataFrame(data, schema=schema)
