"""Per-direction TCP stream reassembly (sans-IO, bounded).

`TcpDirection.segment` takes one segment's sequence number and payload and delivers the bytes that are now in
order to the consumer: `deliver(data, frame)`, `gap(length, frame)` when bytes are known to be missing, and
`end(frame)` at FIN/RST/end of capture. In-order segments (the common case) are passed straight through
without copying. Retransmissions are dropped, overlaps trimmed (first copy wins, as most stacks keep it),
out-of-order segments held until the hole fills, with a cap on held bytes per direction: when it is hit, or
when the peer acknowledges data beyond a hole (so the sender's bytes were on the wire but not in the capture),
the hole is declared a gap and recorded as an anomaly.

Sequence numbers compare modulo 2^32 (RFC 793 arithmetic), so wrap-around mid-stream is handled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

MASK = 0xFFFFFFFF
HALF = 0x80000000
DEFAULT_MAX_BUFFERED = 4 << 20
"""Bytes held out of order per direction before the hole is declared a gap."""
MAX_HELD_SEGMENTS = 4096


class StreamConsumer(Protocol):
    def deliver(self, from_client: bool, data: bytes, frame: int) -> None: ...

    def gap(self, from_client: bool, length: int, frame: int) -> None: ...


def seq_after(a: int, b: int) -> bool:
    """a > b in sequence space."""
    return 0 < ((a - b) & MASK) < HALF


class TcpDirection:
    """One direction of a TCP connection."""

    __slots__ = (
        "from_client",
        "consumer",
        "next_seq",
        "isn",
        "held",
        "held_bytes",
        "max_buffered",
        "fin",
        "retransmitted",
        "gaps",
        "gap_bytes",
        "delivered",
        "overflow",
        "sink",
        "skipper",
    )

    def __init__(
        self, from_client: bool, consumer: StreamConsumer, *, max_buffered: int = DEFAULT_MAX_BUFFERED
    ) -> None:
        self.from_client = from_client
        self.consumer = consumer
        self.next_seq: int | None = None
        self.isn: int | None = None
        self.held: dict[int, tuple[bytes, int]] = {}
        self.held_bytes = 0
        self.max_buffered = max_buffered
        self.fin = False
        self.retransmitted = 0
        self.gaps = 0
        self.gap_bytes = 0
        self.delivered = 0
        self.overflow = 0
        self.sink: Callable[[bytes, int], None] | None = None
        """Where in-order bytes go directly, bypassing `consumer.deliver`, once the flow's protocol parser is
        known (set by the flow; the engine's fast path uses it). None: through the consumer."""
        self.skipper: Any = None
        """Something with a `skip` count of in-order bytes it needs only counted: the TLS record stream behind
        `sink` (the rest of an application-data record it passes over), or the HTTP/1 reader of a response
        whose body sample is full. The engine subtracts such bytes there without copying or feeding them."""

    def syn(self, seq: int) -> None:
        """A SYN: the stream's data starts at seq + 1."""
        if self.isn is None or self.next_seq is None:
            self.isn = seq
            self.next_seq = (seq + 1) & MASK

    def segment(self, seq: int, payload: bytes, frame: int) -> None:
        """Add one segment's payload."""
        nxt = self.next_seq
        if nxt is None:  # the SYN was not captured: start where the first data starts
            self.next_seq = nxt = seq
        if seq == nxt:
            self._deliver(payload, frame)
            if self.held:
                self._drain(frame)
            return
        d = (seq - nxt) & MASK
        if d >= HALF:  # starts before next_seq: retransmission or overlap
            overlap = (nxt - seq) & MASK
            if overlap >= len(payload):
                self.retransmitted += 1
                return
            self._deliver(payload[overlap:], frame)
            if self.held:
                self._drain(frame)
            return
        # A hole before this segment: hold it.
        old = self.held.get(seq)
        if old is None or len(old[0]) < len(payload):
            if old is not None:
                self.held_bytes -= len(old[0])
            self.held[seq] = (payload, frame)
            self.held_bytes += len(payload)
        if self.held_bytes > self.max_buffered or len(self.held) > MAX_HELD_SEGMENTS:
            self.overflow += 1
            self.flush_gap(frame)

    def acked(self, ack: int, frame: int) -> None:
        """The peer acknowledged `ack`: if held data starts at or before it, the hole was lost by the capture."""
        if not self.held or self.next_seq is None:
            return
        first = min(self.held, key=lambda s: (s - self.next_seq) & MASK)  # type: ignore[operator]
        if not seq_after(first, ack):
            self.flush_gap(frame)

    def flush_gap(self, frame: int) -> None:
        """Declare the hole before the earliest held segment lost and deliver what follows it."""
        while self.held and self.next_seq is not None:
            nxt = self.next_seq
            first = min(self.held, key=lambda s: (s - nxt) & MASK)
            missing = (first - nxt) & MASK
            if missing and missing < HALF:
                self.gaps += 1
                self.gap_bytes += missing
                self.consumer.gap(self.from_client, missing, self.held[first][1])
                self.next_seq = first
            self._drain(frame)
            if self.held_bytes <= self.max_buffered // 2:
                break

    def _deliver(self, payload: bytes, frame: int) -> None:
        if payload:
            self.next_seq = ((self.next_seq or 0) + len(payload)) & MASK
            self.delivered += len(payload)
            self.consumer.deliver(self.from_client, payload, frame)

    def _drain(self, frame: int) -> None:
        held = self.held
        while held:
            nxt = self.next_seq
            assert nxt is not None
            seg = held.pop(nxt, None)
            if seg is not None:
                self.held_bytes -= len(seg[0])
                self._deliver(seg[0], seg[1])
                continue
            # Segments that now start before next_seq overlap what was delivered.
            progressed = False
            for s in list(held):
                d = (nxt - s) & MASK
                if 0 < d < HALF:
                    data, fr = held.pop(s)
                    self.held_bytes -= len(data)
                    if d < len(data):
                        self._deliver(data[d:], fr)
                        progressed = True
                        break
                    self.retransmitted += 1
                    progressed = True
            if not progressed:
                return

    def finish(self, frame: int) -> None:
        """End of the stream (FIN/RST/end of capture): whatever is still held is delivered after a gap."""
        if self.held:
            self.flush_gap(frame)
            while self.held:
                self.flush_gap(frame)
