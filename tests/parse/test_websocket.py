"""WebSocketParser: RFC 6455 frames, masked and unmasked, fragmented, compressed, all ways of feeding."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.errors import DecodeError
from tlsinspect.parse.websocket import WebSocketParser, WsMessage


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, mask_key: bytes | None = None, rsv1: bool = False
) -> bytes:
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    n = len(payload)
    mbit = 0x80 if mask_key else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask_key:
        payload = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
        head += mask_key
    return head + payload


def messages(parser: WebSocketParser) -> list[WsMessage]:
    out: list[WsMessage] = []
    for _ in range(10_000):
        msg = parser.next_message()
        if msg is None:
            return out
        out.append(msg)
    raise AssertionError("endless")


def parse(data: bytes, *, bytewise: bool = False, **kw: bool) -> list[WsMessage]:
    p = WebSocketParser(True, **kw)
    out: list[WsMessage] = []
    for part in [data[i : i + 1] for i in range(len(data))] if bytewise else [data]:
        p.receive_data(part)
        out += messages(p)
    return out


KEY = b"\x01\x02\x03\x04"
STREAM = (
    frame(0x1, b"hello", mask_key=KEY)
    + frame(0x1, b"frag ", fin=False, mask_key=KEY)
    + frame(0x9, b"ping in the middle", mask_key=KEY)
    + frame(0x0, b"ment", mask_key=KEY)
    + frame(0x2, bytes(300), mask_key=KEY)
    + frame(0x1, b"x" * 70000, mask_key=KEY)
    + frame(0x8, struct.pack("!H", 1001) + b"going", mask_key=KEY)
)


def test_masked_stream_whole_and_bytewise() -> None:
    whole = parse(STREAM)
    assert [(m.kind, m.text) for m in whole] == [
        ("text", "hello"),
        ("ping", None),
        ("text", "frag ment"),
        ("binary", None),
        ("text", "x" * 65536),
        ("close", None),
    ]
    assert whole[2].fragments == 2 and whole[2].masked
    assert whole[3].length == 300 and whole[3].data == bytes(300)
    assert whole[4].truncated and whole[4].length == 70000  # sample capped at 64 KiB, rest counted
    assert (whole[5].close_code, whole[5].close_reason) == (1001, "going")
    assert parse(STREAM, bytewise=True) == whole


def test_unmasked_server_frames_and_trailing_partial() -> None:
    p = WebSocketParser(False)
    p.receive_data(frame(0x1, b"server says") + frame(0x1, b"incomp")[:4])
    (msg,) = messages(p)
    assert (msg.text, msg.masked) == ("server says", False)
    assert p.next_message() is None


def test_permessage_deflate_with_context_takeover() -> None:
    comp = zlib.compressobj(wbits=-15)
    parts = []
    for text in (b"first compressed message", b"first compressed message again"):
        data = comp.compress(text) + comp.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        parts.append(frame(0x1, data[:-4], rsv1=True, mask_key=KEY))
    stream = b"".join(parts)
    for bytewise in (False, True):
        got = parse(stream, bytewise=bytewise, deflate=True)
        assert [(m.text, m.compressed) for m in got] == [
            ("first compressed message", True),
            ("first compressed message again", True),
        ]


def test_rsv1_without_negotiation_is_a_decode_error_and_sticks() -> None:
    p = WebSocketParser(True)
    p.receive_data(frame(0x1, b"abc", rsv1=True))
    with pytest.raises(DecodeError):
        p.next_message()
    with pytest.raises(DecodeError):
        p.next_message()


@pytest.mark.parametrize(
    "data",
    [
        bytes([0x83, 0x00]),  # reserved opcode
        bytes([0x89, 126, 0, 200]) + bytes(200),  # control frame > 125
        bytes([0x09, 0x00]),  # fragmented control frame
        frame(0x0, b"x"),  # continuation without a start
        frame(0x1, b"a", fin=False) + frame(0x1, b"b"),  # new message inside a fragmented one
        bytes([0x81, 127]) + b"\x80" + bytes(7),  # 64-bit length with the top bit set
        bytes([0xA1, 0x00]),  # RSV2
    ],
)
def test_violations(data: bytes) -> None:
    p = WebSocketParser(False)
    p.receive_data(data)
    with pytest.raises(DecodeError):
        messages(p)


def test_truncated_at_every_offset() -> None:
    whole = parse(STREAM)
    for cut in list(range(2000)) + list(range(len(STREAM) - 50, len(STREAM))):
        p = WebSocketParser(True)
        p.receive_data(STREAM[:cut])
        got = messages(p)
        assert got == whole[: len(got)] and len(got) < len(whole)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400), st.booleans(), st.booleans())
def test_fuzz_only_decode_error(data: bytes, from_client: bool, deflate: bool) -> None:
    p = WebSocketParser(from_client, deflate=deflate, max_sample=64, max_inflate=1024)
    try:
        for i in range(0, len(data), 7):
            p.receive_data(data[i : i + 7])
            messages(p)
    except DecodeError:
        pass
