"""A bounds-checked cursor over bytes for length-prefixed TLS structures.

Every short read raises `DecodeError`, and `block()` checks that a length-prefixed vector is consumed exactly
(the "extra bytes at the end of a block" check aioquic's `pull_block` makes), so a parser written over it cannot
read past its own slice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tlsinspect.errors import DecodeError


class Reader:
    """Reads big-endian integers and vectors from `data[pos:end]`."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def eof(self) -> bool:
        return self.pos >= self.end

    def _need(self, n: int, what: str) -> int:
        p = self.pos
        if p + n > self.end:
            raise DecodeError(f"{what}: need {n} bytes, {self.end - p} left")
        self.pos = p + n
        return p

    def u8(self, what: str = "uint8") -> int:
        return self.data[self._need(1, what)]

    def u16(self, what: str = "uint16") -> int:
        p = self._need(2, what)
        return (self.data[p] << 8) | self.data[p + 1]

    def u24(self, what: str = "uint24") -> int:
        p = self._need(3, what)
        return int.from_bytes(self.data[p : p + 3], "big")

    def u32(self, what: str = "uint32") -> int:
        p = self._need(4, what)
        return int.from_bytes(self.data[p : p + 4], "big")

    def take(self, n: int, what: str = "bytes") -> bytes:
        p = self._need(n, what)
        return self.data[p : p + n]

    def vector(self, len_size: int, what: str = "vector") -> bytes:
        """A vector with a 1, 2 or 3-byte length prefix, returned as bytes."""
        n = int.from_bytes(self.take(len_size, what + " length"), "big")
        return self.take(n, what)

    def rest(self) -> bytes:
        p = self.pos
        self.pos = self.end
        return self.data[p : self.end]

    @contextmanager
    def block(self, len_size: int, what: str = "block") -> Iterator[Reader]:
        """A sub-reader over a length-prefixed block; raises DecodeError if the block is not consumed exactly."""
        n = int.from_bytes(self.take(len_size, what + " length"), "big")
        start = self._need(n, what)
        sub = Reader(self.data, start, start + n)
        yield sub
        if sub.pos != sub.end:
            raise DecodeError(f"{what}: {sub.end - sub.pos} extra bytes at the end")

    def u16_list(self, len_size: int, what: str) -> tuple[int, ...]:
        """A vector of uint16 values (cipher suites, groups, signature schemes)."""
        raw = self.vector(len_size, what)
        if len(raw) % 2:
            raise DecodeError(f"{what}: odd length {len(raw)}")
        return tuple((raw[i] << 8) | raw[i + 1] for i in range(0, len(raw), 2))
