"""Reader: the bounds-checked cursor every TLS structure parser is written over.

Every read either returns exactly the bytes asked for or raises DecodeError; `block()` must be consumed
exactly. Each read is checked whole, at every truncation, with trailing bytes, and by a fuzz test.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.errors import DecodeError
from tlsinspect.parse.reader import Reader


def test_integers_big_endian() -> None:
    r = Reader(bytes.fromhex("01 0203 040506 0708090a ff"))
    assert r.u8() == 1
    assert r.u16() == 0x0203
    assert r.u24() == 0x040506
    assert r.u32() == 0x0708090A
    assert r.remaining == 1
    assert not r.eof()
    assert r.u8() == 0xFF
    assert r.eof()
    assert r.remaining == 0


@pytest.mark.parametrize(
    ("method", "size"), [("u8", 1), ("u16", 2), ("u24", 3), ("u32", 4)], ids=["u8", "u16", "u24", "u32"]
)
def test_integer_short_read_raises_and_does_not_move(method: str, size: int) -> None:
    for n in range(size):
        r = Reader(b"\xaa" * n)
        with pytest.raises(DecodeError, match=f"need {size} bytes, {n} left"):
            getattr(r, method)("thing")
        assert r.pos == 0
    assert getattr(Reader(b"\xaa" * size), method)() == int.from_bytes(b"\xaa" * size, "big")


def test_what_names_the_field_in_the_error() -> None:
    with pytest.raises(DecodeError, match="^cipher_suites: need 2 bytes, 1 left$"):
        Reader(b"\x00").u16("cipher_suites")


def test_take_and_rest() -> None:
    r = Reader(b"abcdef")
    assert r.take(0) == b""
    assert r.take(2) == b"ab"
    assert r.rest() == b"cdef"
    assert r.eof()
    assert r.rest() == b""
    with pytest.raises(DecodeError):
        r.take(1)


def test_window_pos_and_end_are_respected() -> None:
    data = b"0123456789"
    r = Reader(data, 2, 5)
    assert r.remaining == 3
    assert r.take(3) == b"234"
    with pytest.raises(DecodeError, match="need 1 bytes, 0 left"):
        r.u8()
    assert Reader(data, 7).rest() == b"789"


@pytest.mark.parametrize("len_size", [1, 2, 3])
def test_vector_whole_truncated_and_trailing(len_size: int) -> None:
    body = b"hello"
    wire = len(body).to_bytes(len_size, "big") + body
    r = Reader(wire)
    assert r.vector(len_size) == body
    assert r.eof()
    # trailing bytes are left for the caller
    r = Reader(wire + b"XY")
    assert r.vector(len_size) == body
    assert r.rest() == b"XY"
    # every truncation is a DecodeError
    for cut in range(len(wire)):
        with pytest.raises(DecodeError):
            Reader(wire[:cut]).vector(len_size, "v")


def test_vector_error_names_length_or_body() -> None:
    with pytest.raises(DecodeError, match="^session_id length: need 1 bytes, 0 left$"):
        Reader(b"").vector(1, "session_id")
    with pytest.raises(DecodeError, match="^session_id: need 4 bytes, 2 left$"):
        Reader(b"\x04ab").vector(1, "session_id")


def test_empty_vector() -> None:
    r = Reader(b"\x00\x00")
    assert r.vector(2) == b""
    assert r.eof()


def test_block_consumed_exactly() -> None:
    r = Reader(b"\x00\x04\x00\x01\x00\x02!")
    with r.block(2, "list") as sub:
        assert sub.remaining == 4
        assert sub.u16() == 1
        assert sub.u16() == 2
        assert sub.eof()
    assert r.pos == 6
    assert r.u8() == 0x21


def test_block_with_bytes_left_raises_extra_bytes() -> None:
    r = Reader(b"\x00\x04\x00\x01\x00\x02")
    with pytest.raises(DecodeError, match="^list: 2 extra bytes at the end$"):
        with r.block(2, "list") as sub:
            sub.u16()


def test_block_sub_reader_cannot_read_past_its_end() -> None:
    # The block holds 2 bytes; 2 more bytes follow it in the buffer but belong to the parent.
    r = Reader(b"\x02\x00\x01\x00\x02")
    with pytest.raises(DecodeError, match="need 4 bytes, 2 left"):
        with r.block(1) as sub:
            sub.u32()


def test_block_length_overruns_buffer() -> None:
    for wire in (b"", b"\x00", b"\x00\x05abcd"):
        with pytest.raises(DecodeError):
            with Reader(wire).block(2, "b"):
                pass  # pragma: no cover - never entered


def test_block_propagates_inner_error() -> None:
    with pytest.raises(DecodeError, match="inner"):
        with Reader(b"\x01\x00").block(1) as sub:
            sub.u8()
            raise DecodeError("inner")


def test_nested_blocks() -> None:
    # outer(3) { inner(1) { 'ab' } 'c' }
    r = Reader(b"\x00\x00\x04\x02abc")
    with r.block(3, "outer") as outer:
        with outer.block(1, "inner") as inner:
            assert inner.rest() == b"ab"
        assert outer.take(1) == b"c"
    assert r.eof()


def test_u16_list() -> None:
    assert Reader(b"\x00\x04\x13\x01\xc0\x2f").u16_list(2, "suites") == (0x1301, 0xC02F)
    assert Reader(b"\x00").u16_list(1, "x") == ()
    with pytest.raises(DecodeError, match="^suites: odd length 3$"):
        Reader(b"\x00\x03\x13\x01\xc0").u16_list(2, "suites")
    wire = b"\x04\x00\x01\x00\x02"
    for cut in range(len(wire)):
        with pytest.raises(DecodeError):
            Reader(wire[:cut]).u16_list(1, "x")
    r = Reader(wire + b"junk")
    assert r.u16_list(1, "x") == (1, 2)
    assert r.rest() == b"junk"


def _walk(data: bytes, ops: list[int]) -> None:
    r = Reader(data)
    for op in ops:
        if op == 0:
            r.u8()
        elif op == 1:
            r.u16()
        elif op == 2:
            r.u24()
        elif op == 3:
            r.u32()
        elif op == 4:
            r.vector(1 + (r.pos % 3))
        elif op == 5:
            r.u16_list(2, "l")
        elif op == 6:
            with r.block(1 + (r.pos % 2)) as sub:
                sub.rest()
        else:
            with r.block(2) as sub:
                sub.u8()
        assert 0 <= r.pos <= r.end


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64), st.lists(st.integers(0, 7), max_size=12))
def test_fuzz_only_decode_error(data: bytes, ops: list[int]) -> None:
    try:
        _walk(data, ops)
    except DecodeError:
        pass
