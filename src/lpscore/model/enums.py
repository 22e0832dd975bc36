"""Enumerations of the canonical model, with the FIX values they come from."""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = ["FILL_EXEC_TYPES", "EventKind", "ExecType", "OrdStatus", "Side", "side_sign"]


class EventKind(StrEnum):
    """What a canonical event is; the value is the FIX MsgType it comes from."""

    CHILD_ORDER = "D"
    CANCEL_REQUEST = "F"
    REPLACE_REQUEST = "G"
    EXECUTION_REPORT = "8"
    CANCEL_REJECT = "9"
    SESSION_REJECT = "3"


class Side(IntEnum):
    """Direction sign `s` of KPIS.md: +1 buy, -1 sell (FIX 54 = 2, 5 or 6)."""

    BUY = 1
    SELL = -1


_SIDE_BY_FIX = {"1": Side.BUY, "2": Side.SELL, "5": Side.SELL, "6": Side.SELL}


def side_sign(fix_side: str) -> Side | None:
    """The sign of a FIX Side(54) value, or None for sides lpscore does not score (cross...)."""
    return _SIDE_BY_FIX.get(fix_side)


class ExecType(StrEnum):
    """ExecType (150) across FIX 4.2, 4.4 and 5.0SP2.

    FIX 4.2 reports fills as PARTIAL_FILL_42 (1) and FILL_42 (2); 4.4+ uses TRADE (F).
    """

    NEW = "0"
    PARTIAL_FILL_42 = "1"
    FILL_42 = "2"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    RESTATED = "D"
    PENDING_REPLACE = "E"
    TRADE = "F"
    TRADE_CORRECT = "G"
    TRADE_CANCEL = "H"
    ORDER_STATUS = "I"
    TRADE_IN_CLEARING_HOLD = "J"
    TRADE_RELEASED_TO_CLEARING = "K"
    TRIGGERED_BY_TRADING_SYSTEM = "L"
    LOCKED = "M"
    RELEASED = "N"

    @property
    def is_fill(self) -> bool:
        """True for executions that move quantity (F, and 1/2 of FIX 4.2)."""
        return self.value in FILL_EXEC_TYPES


FILL_EXEC_TYPES: tuple[str, ...] = (
    ExecType.TRADE.value, ExecType.PARTIAL_FILL_42.value, ExecType.FILL_42.value
)
"""ExecType values of executions that move quantity (FIX 4.4+ F; FIX 4.2 1 and 2)."""


class OrdStatus(StrEnum):
    """OrdStatus (39)."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    ACCEPTED_FOR_BIDDING = "D"
    PENDING_REPLACE = "E"
