"""TcpDirection: in-order stream bytes out of segments in any order, each byte delivered once, holes as gaps.

The consumer rebuilds the stream with gaps as runs of None, so every test can compare it with the bytes sent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.engine.reassembly import MASK, MAX_HELD_SEGMENTS, TcpDirection, seq_after


@dataclass
class Consumer:
    events: list[tuple[str, object, int]] = field(default_factory=list)
    stream: list[int | None] = field(default_factory=list)

    def deliver(self, from_client: bool, data: bytes, frame: int) -> None:
        assert from_client is True
        assert data
        self.events.append(("data", data, frame))
        self.stream.extend(data)

    def gap(self, from_client: bool, length: int, frame: int) -> None:
        assert length > 0
        self.events.append(("gap", length, frame))
        self.stream.extend([None] * length)

    def data(self) -> bytes:
        return bytes(b for b in self.stream if b is not None)


def make(max_buffered: int = 1 << 20) -> tuple[TcpDirection, Consumer]:
    c = Consumer()
    return TcpDirection(True, c, max_buffered=max_buffered), c


PAYLOAD = bytes(range(256)) * 4


def test_seq_after() -> None:
    assert seq_after(1, 0)
    assert not seq_after(0, 0)
    assert not seq_after(0, 1)
    assert seq_after(0, MASK)  # across the wrap
    assert seq_after(5, 0xFFFFFFF0)
    assert not seq_after(0xFFFFFFF0, 5)
    assert not seq_after(0x80000000, 0)  # exactly half: not after


def test_in_order_passes_through_without_copy() -> None:
    d, c = make()
    d.syn(999)
    seg = PAYLOAD[:100]
    d.segment(1000, seg, 1)
    assert c.events[0][1] is seg
    d.segment(1100, PAYLOAD[100:300], 2)
    assert c.data() == PAYLOAD[:300]
    assert [e[2] for e in c.events] == [1, 2]
    assert (d.next_seq, d.delivered, d.gaps, d.retransmitted, d.held_bytes) == (1300, 300, 0, 0, 0)


def test_no_syn_starts_at_first_segment() -> None:
    d, c = make()
    d.segment(5000, b"abc", 1)
    assert c.data() == b"abc"
    assert d.isn is None
    assert d.next_seq == 5003


def test_out_of_order_held_then_released_when_the_hole_fills() -> None:
    d, c = make()
    d.syn(0)
    d.segment(11, b"B" * 10, 1)
    d.segment(31, b"D" * 10, 2)
    assert c.events == []
    assert (d.held_bytes, len(d.held)) == (20, 2)
    d.segment(1, b"A" * 10, 3)
    assert c.events == [("data", b"A" * 10, 3), ("data", b"B" * 10, 1)]
    d.segment(21, b"C" * 10, 4)
    assert c.data() == b"A" * 10 + b"B" * 10 + b"C" * 10 + b"D" * 10
    assert c.events[-1] == ("data", b"D" * 10, 2)  # held data keeps its own frame number
    assert (d.held_bytes, d.held, d.delivered, d.gaps) == (0, {}, 40, 0)


def test_retransmission_dropped_and_counted() -> None:
    d, c = make()
    d.syn(0)
    d.segment(1, b"hello", 1)
    d.segment(1, b"hello", 2)
    d.segment(3, b"ll", 3)
    assert c.data() == b"hello"
    assert d.retransmitted == 2
    assert d.delivered == 5


def test_partial_overlap_trimmed_first_copy_wins() -> None:
    d, c = make()
    d.syn(0)
    d.segment(1, b"hello", 1)
    d.segment(4, b"XXworld", 2)  # "lo" already delivered; the new "XX" is dropped
    assert c.data() == b"helloworld"
    assert d.delivered == 10
    # overlap between held segments
    d, c = make()
    d.syn(0)
    d.segment(11, b"0123456789", 1)
    d.segment(16, b"ZZZZZabcde", 2)
    d.segment(1, b"abcdefghij", 3)
    assert c.data() == b"abcdefghij0123456789abcde"
    assert d.delivered == 25
    assert d.held_bytes == 0


def test_held_segment_fully_covered_counts_as_retransmission() -> None:
    d, c = make()
    d.syn(0)
    d.segment(5, b"xx", 1)
    d.segment(1, b"abcdefgh", 2)
    assert c.data() == b"abcdefgh"
    assert d.retransmitted == 1
    assert d.held == {} and d.held_bytes == 0


def test_longer_duplicate_of_a_held_segment_replaces_it() -> None:
    d, c = make()
    d.syn(0)
    d.segment(5, b"ef", 1)
    d.segment(5, b"efgh", 2)
    d.segment(5, b"e", 3)
    assert d.held_bytes == 4
    d.segment(1, b"abcd", 4)
    assert c.data() == b"abcdefgh"


def test_wrap_around_2_32() -> None:
    d, c = make()
    isn = MASK - 20
    d.syn(isn)
    data = bytes(range(100))
    # out of order across the wrap: the last piece first
    d.segment((isn + 1 + 60) & MASK, data[60:], 1)
    d.segment((isn + 1 + 10) & MASK, data[10:60], 2)
    d.segment((isn + 1) & MASK, data[:10], 3)
    assert c.data() == data
    assert d.next_seq == (isn + 101) & MASK == 80
    d.segment((isn + 1 + 90) & MASK, data[90:], 4)  # a retransmission from before the wrap
    assert d.retransmitted == 1 and d.delivered == 100


def test_acked_beyond_a_hole_declares_the_gap() -> None:
    d, c = make()
    d.syn(0)
    d.segment(1, b"a" * 10, 1)
    d.segment(21, b"c" * 10, 2)
    d.acked(15, 3)  # acknowledges into the hole only: maybe still coming
    assert d.gaps == 0
    d.acked(21, 4)  # the peer has everything up to the held segment: the hole was never captured
    assert c.events == [("data", b"a" * 10, 1), ("gap", 10, 2), ("data", b"c" * 10, 2)]
    assert (d.gaps, d.gap_bytes, d.held_bytes) == (1, 10, 0)
    d.segment(11, b"b" * 10, 5)  # the lost bytes show up late: they are old now
    assert d.retransmitted == 1
    assert c.data() == b"a" * 10 + b"c" * 10


def test_acked_without_hold_is_a_no_op() -> None:
    d, c = make()
    d.acked(100, 1)
    d.syn(0)
    d.segment(1, b"x", 2)
    d.acked(2, 3)
    assert c.events == [("data", b"x", 2)] and d.gaps == 0


def test_cap_on_held_bytes_overflows_into_a_gap() -> None:
    d, c = make(max_buffered=100)
    d.syn(0)
    d.segment(1, b"a" * 10, 1)
    d.segment(51, b"c" * 60, 2)
    assert d.overflow == 0
    d.segment(111, b"d" * 60, 3)  # 120 held > 100
    assert d.overflow == 1
    assert c.events == [
        ("data", b"a" * 10, 1),
        ("gap", 40, 2),
        ("data", b"c" * 60, 2),
        ("data", b"d" * 60, 3),
    ]
    assert (d.held_bytes, d.gaps, d.gap_bytes, d.delivered) == (0, 1, 40, 130)


def test_cap_on_held_segment_count() -> None:
    d, c = make()
    d.syn(0)
    for i in range(MAX_HELD_SEGMENTS + 1):
        d.segment(3 + 2 * i, b"x", i)
    assert d.overflow == 1
    assert d.gaps >= 1
    assert len(d.held) <= MAX_HELD_SEGMENTS


def test_finish_flushes_held_with_gaps() -> None:
    d, c = make()
    d.syn(0)
    d.segment(1, b"ab", 1)
    d.segment(6, b"fg", 2)
    d.segment(10, b"jk", 3)
    d.finish(4)
    assert c.events == [
        ("data", b"ab", 1),
        ("gap", 3, 2),
        ("data", b"fg", 2),
        ("gap", 2, 3),
        ("data", b"jk", 3),
    ]
    assert c.stream == [97, 98, None, None, None, 102, 103, None, None, 106, 107]
    assert (d.gaps, d.gap_bytes, d.held) == (2, 5, {})
    d.finish(5)
    assert len(c.events) == 5


def test_empty_payloads() -> None:
    d, c = make()
    d.syn(0)
    d.segment(1, b"", 1)
    d.segment(1, b"ab", 2)
    d.segment(3, b"", 3)
    assert c.events == [("data", b"ab", 2)]
    assert d.retransmitted == 0


# ---------------------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------------------


def _segments(data: bytes, rnd: random.Random) -> list[tuple[int, int]]:
    """Random (start, end) pieces covering data, with retransmissions and overlaps."""
    pieces = []
    pos = 0
    while pos < len(data):
        n = rnd.randint(1, 40)
        pieces.append((pos, min(len(data), pos + n)))
        pos += n
    extra = []
    for _ in range(rnd.randint(0, 8)):
        a = rnd.randrange(len(data))
        extra.append((a, min(len(data), a + rnd.randint(1, 50))))
    return pieces + extra


@settings(max_examples=300, deadline=None)
@given(st.integers(0, MASK), st.integers(1, 600), st.randoms(use_true_random=False))
def test_property_any_order_rebuilds_the_stream(isn: int, size: int, rnd: random.Random) -> None:
    data = bytes(rnd.getrandbits(8) for _ in range(size))
    segs = _segments(data, rnd)
    rnd.shuffle(segs)
    d, c = make()
    d.syn(isn)
    for frame, (a, b) in enumerate(segs):
        d.segment((isn + 1 + a) & MASK, data[a:b], frame)
    d.finish(len(segs))
    assert c.stream == list(data)
    assert d.delivered == size
    assert (d.gaps, d.held, d.held_bytes) == (0, {}, 0)
    assert d.next_seq == (isn + 1 + size) & MASK


@settings(max_examples=300, deadline=None)
@given(st.integers(0, MASK), st.integers(1, 600), st.randoms(use_true_random=False), st.integers(20, 400))
def test_property_with_losses_each_byte_once_in_place(
    isn: int, size: int, rnd: random.Random, cap: int
) -> None:
    data = bytes(rnd.getrandbits(8) for _ in range(size))
    segs = [s for s in _segments(data, rnd) if rnd.random() > 0.2]
    rnd.shuffle(segs)
    d, c = make(max_buffered=cap)
    d.syn(isn)
    for frame, (a, b) in enumerate(segs):
        d.segment((isn + 1 + a) & MASK, data[a:b], frame)
        if rnd.random() < 0.1:
            d.acked((isn + 1 + rnd.randrange(size + 1)) & MASK, frame)
    d.finish(len(segs))
    # every position is either the sent byte or part of a declared gap; nothing is duplicated or moved
    assert len(c.stream) <= size
    for i, b in enumerate(c.stream):
        assert b is None or b == data[i]
    assert d.delivered == sum(b is not None for b in c.stream)
    assert d.gap_bytes == sum(b is None for b in c.stream)
    assert d.held == {} and d.held_bytes == 0
    covered = set()
    for a, b in segs:
        covered.update(range(a, b))
    assert {i for i, b in enumerate(c.stream) if b is not None} <= covered
    end = max((b for _, b in segs), default=0)
    assert len(c.stream) == end  # finish() leaves nothing held: the stream reaches the last byte seen
