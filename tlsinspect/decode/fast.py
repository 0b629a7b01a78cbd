"""The fast path's frame shape: untagged Ethernet, IPv4 without options or fragmentation, TCP (sans-IO).

Most frames of most captures have this shape, so the engine takes them without the general decoder
(`tlsinspect.decode.packet`): one `struct` unpack at offset 12 reads every header field it needs, and the
TCP payload is left where it lies (a memory-mapped capture file) until something reads it. This module is the
one Python definition of that shortcut:

- `FAST_TCP`, the layout of the headers read (`FAST_TCP_AT`, `FAST_TCP_MIN`);
- `fast_tcp`, the acceptance check and the payload bounds, used by `Engine.process_at`;
- `shard_of`, the shard of a 4-tuple for `read --jobs N`, and `shard_of_key`, the same from the 12 address
  and port bytes of a fast-path frame (`SHARD_KEY_AT`).

Every frame `fast_tcp` accepts is one the general decoder reads as the same `Segment`; every frame it refuses
goes to the general decoder, which judges it (fragments, options, truncation, other link layers).

Native twin: ``tlsinspect/capture/_fastwalk.c`` (``fast_tcp``, ``shard_of``) makes the same decisions in the
C record walker, which hands accepted frames straight to `Engine.tcp_at`. A change here must be made there
too; ``tests/decode/test_fast.py`` feeds both the same good, edge and malformed frames and compares them.
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = [
    "FAST_TCP",
    "FAST_TCP_AT",
    "FAST_TCP_MIN",
    "SHARD_KEY_AT",
    "SHARD_KEY_END",
    "FastTcp",
    "fast_tcp",
    "shard_of",
    "shard_of_key",
]

FAST_TCP = struct.Struct("!HBxHxxHxB2x4s4sHHIIBB")
"""From offset `FAST_TCP_AT` of an Ethernet frame: ethertype, IPv4 version/IHL, total length, flags/fragment
offset, protocol, source, destination, then the TCP ports, sequence, acknowledgement, data offset and flags.
Unpacks to (etype, vihl, total, frag, proto, src, dst, sport, dport, seq, ack, doff, flags)."""
FAST_TCP_AT = 12
FAST_TCP_MIN = 54
"""The smallest frame the fast path reads: 14 Ethernet + 20 IPv4 + 20 TCP bytes."""
SHARD_KEY_AT = 26
SHARD_KEY_END = 38
"""frame[SHARD_KEY_AT:SHARD_KEY_END]: source and destination addresses, then source and destination ports."""

_PORTS = struct.Struct("!HH")

FastTcp = tuple[bytes, bytes, int, int, int, int, int, int, int]
"""(src, dst, sport, dport, seq, ack, flags, payload_start, payload_end): offsets into the buffer."""


def fast_tcp(buf: Any, start: int, stop: int) -> FastTcp | None:
    """The fast path's decision for the Ethernet frame at buf[start:stop], and its TCP fields when taken.

    Taken: ethertype 0x0800, IPv4 version 4 with a 20-byte header, neither more-fragments nor a fragment
    offset, protocol TCP, a TCP data offset of at least 5 words, and the whole TCP header inside the IP packet
    (its total length, or the captured frame when the total is 0, as with large segment offload). The payload
    ends at the IP total length or at the end of the captured frame, whichever comes first.

    Returns:
        The segment's fields with its payload at buf[payload_start:payload_end], or None for any other frame.
    """
    size = stop - start
    if size < FAST_TCP_MIN:
        return None
    etype, vihl, total, frag, proto, src, dst, sport, dport, seq, ack, doff, flags = FAST_TCP.unpack_from(
        buf, start + FAST_TCP_AT
    )
    if etype != 0x0800 or vihl != 0x45 or proto != 6 or frag & 0x3FFF or doff < 0x50:
        return None
    end = 14 + total if total else size
    if end > size:
        end = size
    hl = 34 + ((doff >> 4) << 2)
    if hl > end:  # truncated: the general decoder judges it
        return None
    return src, dst, sport, dport, seq, ack, flags, start + hl, start + end


def shard_of(src: bytes, dst: bytes, sport: int, dport: int, shards: int) -> int:
    """The shard of a 4-tuple, the same for both directions.

    Built from symmetric combinations of the two endpoints: the sums of the addresses and of the ports and the
    XOR of the ports, mixed by odd multipliers. (An earlier XOR of the addresses put every flow between
    addresses that differ in the same bits, such as 10.k.k.1 and 10.k.k.2, in the shard of its ports alone,
    and one worker got 58% of the frames of the benchmark capture.) The C twin computes it on 64-bit integers:
    the result only depends on bits 0..59 of the intermediate value, which wrap-around arithmetic keeps exact.
    """
    h = (
        (int.from_bytes(src, "big") + int.from_bytes(dst, "big")) * 0x9E3779B1 + (sport + dport) * 0x85EBCA77
    ) ^ ((sport ^ dport) << 7)
    return ((h ^ (h >> 29)) & 0x7FFFFFFF) % shards


def shard_of_key(key: bytes, shards: int) -> int:
    """`shard_of` from frame[SHARD_KEY_AT:SHARD_KEY_END] of a fast-path frame (addresses, then ports)."""
    sport, dport = _PORTS.unpack_from(key, 8)
    return shard_of(key[0:4], key[4:8], sport, dport, shards)
