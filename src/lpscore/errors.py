"""One exception tree for lpscore.

    LpscoreError                  base of everything lpscore raises on purpose
    ├── ConfigError               a bad lpscore.toml, option or profile: stops before any work
    ├── InputError                an input that cannot be opened or recognised at all
    │   └── UnknownFormatError    a file whose format (FIX log, quotes) cannot be detected
    ├── FixError                  a FIX message that cannot be framed or decoded
    │   └── FixValidationError    framed, but BodyLength, CheckSum or a required tag is wrong
    ├── StrictModeError           --strict and something was quarantined
    └── StoreUnavailable          the score store cannot be reached (callers keep their last
                                  good snapshot; commands exit with the message)

Bad *records* inside an input never raise: they are quarantined with file, offset, tag and
reason (see lpscore.quarantine) and the run goes on. Exceptions are for problems the user must
fix before a run makes sense; every message says what to do.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "FixError",
    "FixValidationError",
    "InputError",
    "LpscoreError",
    "StoreUnavailable",
    "StrictModeError",
    "UnknownFormatError",
]


class LpscoreError(Exception):
    """Base class of every error lpscore raises on purpose."""


class ConfigError(LpscoreError):
    """A configuration value is wrong; the message names the key and the fix."""


class InputError(LpscoreError):
    """An input file cannot be opened or read at all."""


class UnknownFormatError(InputError):
    """The format of an input file could not be recognised."""


class FixError(LpscoreError):
    """A FIX message could not be framed or decoded.

    `reason` is a quarantine reason code such as ``truncated`` or ``missing_tag:35``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class FixValidationError(FixError):
    """A framed FIX message failed validation (BodyLength, CheckSum, required tags)."""


class StrictModeError(LpscoreError):
    """Raised under --strict when any record was quarantined."""


class StoreUnavailable(LpscoreError):  # noqa: N818 - reads as a state, like TimeoutError
    """The score store cannot be reached; the message names the store and what to do."""
