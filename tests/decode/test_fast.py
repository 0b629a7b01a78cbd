"""tlsinspect.decode.fast against its native twin (``fast_tcp``/``shard_of`` in capture/_fastwalk.c) and against
the general decoder: the same frames (good, edge and malformed) must get the same decision, the same fields and
the same shard from all of them."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.capture import files
from tlsinspect.decode.fast import SHARD_KEY_AT, SHARD_KEY_END, fast_tcp, shard_of, shard_of_key
from tlsinspect.decode.packet import PacketDecoder, Segment

needs_c = pytest.mark.skipif(files._fastwalk is None, reason="C walker not built")


def frame(
    *,
    payload: bytes = b"hello",
    src: bytes = b"\x0a\x00\x00\x01",
    dst: bytes = b"\x0a\x00\x00\x02",
    sport: int = 40000,
    dport: int = 443,
    seq: int = 0x01020304,
    ack: int = 0xA0B0C0D0,
    flags: int = 0x18,
    doff: int = 0x50,
    vihl: int = 0x45,
    frag: int = 0x4000,
    proto: int = 6,
    total: int | None = None,
    etype: bytes = b"\x08\x00",
    options: bytes = b"",
    trailer: bytes = b"",
) -> bytes:
    """An Ethernet/IPv4/TCP frame; `options` go after the 20-byte TCP header (set `doff` to match)."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff, flags, 1000, 0, 0) + options
    if total is None:
        total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", vihl, 0, total, 7, frag, 64, proto, 0, src, dst)
    return b"\x02" * 6 + b"\x04" * 6 + etype + ip + tcp + payload + trailer


def cases() -> list[tuple[str, bytes]]:
    rng = random.Random(1)
    good = frame()
    out = [
        ("good", good),
        ("no payload, exactly 54 bytes", frame(payload=b"")),
        ("TCP options", frame(doff=0x80, options=b"\x01" * 12)),
        ("largest data offset", frame(doff=0xF0, options=b"\x01" * 40)),
        ("DF flag only", frame(frag=0x4000)),
        ("no flags at all", frame(frag=0)),
        ("Ethernet padding after the IP packet", frame(payload=b"", trailer=b"\x00" * 6)),
        ("TSO: total length 0", frame(total=0, payload=b"x" * 3000)),
        ("capture cut short of the IP total", frame(payload=b"y" * 100)[:90]),
        ("SYN", frame(flags=0x02, payload=b"")),
        ("addresses and ports at their ends", frame(src=b"\xff" * 4, dst=b"\x00" * 4, sport=65535, dport=0)),
        ("IPv4 options", frame(vihl=0x46, payload=b"\x00" * 4 + b"data")),
        ("more fragments", frame(frag=0x2000)),
        ("fragment offset", frame(frag=0x0001)),
        ("reserved flag bit", frame(frag=0x8000 | 0x4000)),
        ("UDP", frame(proto=17)),
        ("IP version 6 in an IPv4 header", frame(vihl=0x65)),
        ("IHL below 5", frame(vihl=0x44)),
        ("data offset below 5", frame(doff=0x40)),
        ("data offset beyond the frame", frame(doff=0xF0, payload=b"")),
        ("data offset beyond the IP total", frame(doff=0x60, options=b"\x01" * 4, total=40)),
        ("IP total shorter than its headers", frame(total=20)),
        ("VLAN tag", frame(etype=b"\x81\x00")),
        ("IPv6 ethertype", frame(etype=b"\x86\xdd")),
        ("53 bytes", frame(payload=b"")[:53]),
        ("short frame", good[:20]),
        ("empty frame", b""),
    ]
    for i in range(40):
        out.append(
            (
                f"random {i}",
                frame(
                    src=rng.randbytes(4),
                    dst=rng.randbytes(4),
                    sport=rng.randrange(65536),
                    dport=rng.randrange(65536),
                    seq=rng.randrange(1 << 32),
                    ack=rng.randrange(1 << 32),
                    flags=rng.randrange(256),
                    payload=rng.randbytes(rng.randrange(0, 200)),
                ),
            )
        )
    return out


CASES = cases()
ACCEPTED = {
    "good",
    "no payload, exactly 54 bytes",
    "TCP options",
    "largest data offset",
    "DF flag only",
    "no flags at all",
    "reserved flag bit",
    "Ethernet padding after the IP packet",
    "TSO: total length 0",
    "capture cut short of the IP total",
    "SYN",
    "addresses and ports at their ends",
}


def python_decision(data: bytes, shards: int) -> tuple[Any, ...] | None:
    """fast_tcp's fields with payload offsets relative to the frame, and the frame's shard; None if refused."""
    pad = b"\xee" * 5  # the frame lies inside a larger buffer, as in a mapped file
    seg = fast_tcp(pad + data + pad, len(pad), len(pad) + len(data))
    if seg is None:
        return None
    *fields, pstart, pend = seg
    return (*fields, pstart - len(pad), pend - len(pad), shard_of(fields[0], fields[1], *fields[2:4], shards))


def c_decisions(frames: list[bytes], shards: int) -> list[tuple[Any, ...] | None]:
    """What the C walker does with each frame: its fields (as handed to `tcp`) and shard, or None when it hands
    the frame to `handle` (refused by its fast path)."""
    buf = b"".join(struct.pack("<IIII", i, 0, len(f), len(f)) + f for i, f in enumerate(frames))
    starts = []
    pos = 0
    for f in frames:
        starts.append(pos + 16)
        pos += 16 + len(f)
    got: dict[int, tuple[Any, ...] | None] = {}
    assert files._fastwalk is not None
    for shard in range(shards):

        def handle(number: int, *_: Any) -> None:
            got.setdefault(number, None)

        def tcp(number: int, ts: float, size: int, *rest: Any, shard: int = shard) -> None:
            src, dst, sport, dport, seq, ack, flags, _buf, pstart, pend = rest
            base = starts[number - 1]
            assert size == len(frames[number - 1])
            assert number not in got, "a frame taken by two shards"
            got[number] = (src, dst, sport, dport, seq, ack, flags, pstart - base, pend - base, shard)

        out = files._fastwalk.walk_pcap(
            handle, tcp, buf, 0, 16, False, 1e6, 1 << 18, 1, 0, len(frames), shard, shards
        )
        assert out[1] == len(frames)
    return [got.get(i + 1, "passed over by every shard") for i in range(len(frames))]  # type: ignore[misc]


def test_cases_are_decided_as_documented() -> None:
    for name, data in CASES:
        taken = python_decision(data, 1) is not None
        assert taken == (name in ACCEPTED or name.startswith("random")), name


def test_accepted_frames_decode_the_same_in_the_general_decoder() -> None:
    for name, data in CASES:
        seg = fast_tcp(data, 0, len(data))
        if seg is None:
            continue
        src, dst, sport, dport, seq, ack, flags, pstart, pend = seg
        assert PacketDecoder().decode(1, data) == Segment(
            src, dst, sport, dport, seq, ack, flags, data[pstart:pend]
        ), name


@needs_c
@pytest.mark.parametrize("shards", [1, 2, 3])
def test_c_twin_decides_the_same(shards: int) -> None:
    frames = [data for _, data in CASES]
    got = c_decisions(frames, shards)
    for (name, data), c in zip(CASES, got, strict=True):
        want = python_decision(data, shards)
        if want is None:
            assert c is None, name  # refused: handed to `handle` by every shard
        else:
            assert c == want, name


@needs_c
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(12, 53), st.integers(0, 255)), max_size=4), st.integers(0, 80))
def test_c_twin_decides_the_same_for_mutated_frames(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(frame(payload=b"p" * 40))
    for pos, value in flips:
        data[pos] = value
    frames = [bytes(data), bytes(data[: len(data) - cut])]
    for shards in (1, 3):
        for data_, c in zip(frames, c_decisions(frames, shards), strict=True):
            assert c == python_decision(data_, shards)


def test_shard_of_key_is_shard_of() -> None:
    rng = random.Random(9)
    for _ in range(300):
        data = frame(
            src=rng.randbytes(4), dst=rng.randbytes(4), sport=rng.randrange(65536), dport=rng.randrange(65536)
        )
        src, dst, sport, dport = fast_tcp(data, 0, len(data))[:4]  # type: ignore[index]
        for n in (2, 3, 7):
            want = shard_of(src, dst, sport, dport, n)
            assert shard_of_key(data[SHARD_KEY_AT:SHARD_KEY_END], n) == want
            assert shard_of(dst, src, dport, sport, n) == want
