"""FIX codec with no I/O: framing, validation, decoding, encoding, and a vectorised scanner."""

from lpscore.fix.codec import FixMessage, FixStreamParser, checksum, decode, encode, split_fields

__all__ = ["FixMessage", "FixStreamParser", "checksum", "decode", "encode", "split_fields"]
