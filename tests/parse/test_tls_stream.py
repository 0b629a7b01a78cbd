"""RecordStream: TLS records out of in-order stream bytes, fed all ways (h11's `tr` three-way test and more).

Real record streams come from Python's ssl module (MemoryBIO pairs, TLS 1.2 and 1.3, a 20 000-byte request so
application data spans a full 16 KiB record). Every stream is fed whole, byte by byte, split at every offset
and with a trailing partial record; the events must be identical. Then: skipping without buffering, SSLv2
hellos, gaps, resynchronisation, malformed headers, sniffing helpers and a no-exception fuzz test.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

import memtls
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.parse.tls_stream import (
    MAX_RECORD_CIPHERTEXT,
    SSLV2_HELLO,
    RecordStream,
    find_client_hello,
    looks_like_sslv2_client_hello,
    looks_like_tls,
    plausible_header,
)


@dataclass
class Sink:
    events: list[tuple[object, ...]] = field(default_factory=list)

    def on_record(self, from_client: bool, ctype: int, version: int, body: bytes, frame: int) -> None:
        self.events.append(("record", from_client, ctype, version, body))

    def on_skipped(self, from_client: bool, ctype: int, length: int, frame: int) -> None:
        self.events.append(("skipped", from_client, ctype, length))

    def on_anomaly(self, kind: str, message: str, frame: int) -> None:
        self.events.append(("anomaly", kind))

    def kinds(self) -> list[object]:
        return [e[1] for e in self.events if e[0] == "anomaly"]


def feed_chunks(
    chunks: list[bytes], *, from_client: bool = True, keep: bool = False
) -> tuple[Sink, RecordStream]:
    sink = Sink()
    rs = RecordStream(from_client, sink, keep_app_data=keep)
    for i, c in enumerate(chunks):
        rs.feed(c, i)
    return sink, rs


def split_ways(data: bytes) -> list[list[bytes]]:
    """Whole, byte by byte, and one split at every offset."""
    ways = [[data], [data[i : i + 1] for i in range(len(data))]]
    ways += [[data[:i], data[i:]] for i in range(1, len(data))]
    return ways


def expected_events(stream: bytes, from_client: bool, keep: bool) -> list[tuple[object, ...]]:
    """Independent record split of a well-formed stream."""
    out: list[tuple[object, ...]] = []
    pos = 0
    while pos < len(stream):
        ct, ver, ln = (
            stream[pos],
            int.from_bytes(stream[pos + 1 : pos + 3], "big"),
            int.from_bytes(stream[pos + 3 : pos + 5], "big"),
        )
        if ct == 23 and not keep:
            out.append(("skipped", from_client, ct, ln))
        else:
            out.append(("record", from_client, ct, ver, stream[pos + 5 : pos + 5 + ln]))
        pos += 5 + ln
    assert pos == len(stream)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Real TLS streams
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("pki")
    cert, key, _der = memtls.write_self_signed(d, ec.generate_private_key(ec.SECP256R1()), 7)
    return cert, key


PAYLOAD = bytes(range(256)) * 78 + b"tail"  # 19 972 bytes: one full 16 KiB record and one more


def converse(pki: tuple[str, str], tls13: bool) -> tuple[bytes, bytes]:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*pki)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    for ctx in (server_ctx, client_ctx):
        if tls13:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        else:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return memtls.converse(server_ctx, client_ctx, PAYLOAD, b"ok")


@pytest.fixture(scope="module")
def tls12(pki: tuple[str, str]) -> tuple[bytes, bytes]:
    return converse(pki, tls13=False)


@pytest.fixture(scope="module")
def tls13(pki: tuple[str, str]) -> tuple[bytes, bytes]:
    return converse(pki, tls13=True)


def test_real_streams_have_the_expected_shape(tls12: tuple[bytes, bytes], tls13: tuple[bytes, bytes]) -> None:
    c12 = [e[2] for e in expected_events(tls12[0], True, False)]
    assert c12 == [22, 22, 20, 22, 23, 23]
    s12 = [e[2] for e in expected_events(tls12[1], False, False)]
    assert s12 == [22, 22, 22, 22, 22, 20, 22, 23]  # SH, Certificate, SKE, SHD, NST, CCS, Finished, "ok"
    c13 = [e[2] for e in expected_events(tls13[0], True, False)]
    assert c13 == [22, 20, 23, 23, 23]
    lengths = [e[3] for e in expected_events(tls13[0], True, False) if e[0] == "skipped"]
    assert lengths[1] == (1 << 14) + 17  # a full plaintext record + content type + AEAD tag


@pytest.mark.parametrize("which", ["tls12", "tls13"])
@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("side", [0, 1])
def test_whole_byte_by_byte_and_every_split(
    request: pytest.FixtureRequest, which: str, keep: bool, side: int
) -> None:
    stream = request.getfixturevalue(which)[side]
    fc = side == 0
    expected = expected_events(stream, fc, keep)
    # every split of the handshake part, and of the whole stream at a coarser stride (it is 20 KB long)
    first_app = next(i for i in range(len(stream)) if stream[i] == 23 and plausible_header(stream, i))
    head = stream[: first_app + 40]
    ways = [[stream], [stream[i : i + 1] for i in range(len(stream))]]
    ways += [[stream[:i], stream[i:]] for i in range(1, len(head))]
    ways += [[stream[:i], stream[i:]] for i in range(len(head), len(stream), 97)]
    ways += [[stream[i : i + 7] for i in range(0, len(stream), 7)]]
    for chunks in ways:
        sink, rs = feed_chunks(chunks, from_client=fc, keep=keep)
        assert sink.events == expected
        assert rs.buffered == 0
        assert rs.records == len(expected)
        assert not rs.lost


@pytest.mark.parametrize("cut", [1, 4, 5, 6, 30])
def test_trailing_partial_record_is_held(tls12: tuple[bytes, bytes], cut: int) -> None:
    stream = tls12[0]
    hello_len = 5 + int.from_bytes(stream[3:5], "big")
    expected = expected_events(stream, True, False)
    for chunks in (
        [stream + stream[:cut]],
        [stream, stream[:cut]],
        [stream[i : i + 1] for i in range(len(stream))],
    ):
        if len(chunks) == len(stream):
            chunks += [stream[i : i + 1] for i in range(cut)]
        sink, rs = feed_chunks(chunks)
        assert sink.events == expected
        assert rs.buffered == cut
    # completing it delivers exactly one more record
    sink, rs = feed_chunks([stream + stream[:cut], stream[cut:hello_len]])
    assert sink.events == expected + expected[:1]
    assert rs.buffered == 0


def test_skipping_application_data_buffers_nothing() -> None:
    body = bytes(i & 0xFF for i in range(16384))
    stream = b"\x17\x03\x03\x40\x00" + body + b"\x15\x03\x03\x00\x02\x01\x00"
    sink = Sink()
    rs = RecordStream(False, sink)
    peak = 0
    for i in range(len(stream)):
        rs.feed(stream[i : i + 1], i)
        if i < 5 + 16384:
            peak = max(peak, rs.buffered)
    assert peak == 4  # only the next header's first bytes, never the body
    assert sink.events == [("skipped", False, 23, 16384), ("record", False, 21, 0x0303, b"\x01\x00")]
    assert rs.records == 2


def test_keep_app_data_delivers_the_body() -> None:
    stream = b"\x17\x03\x03\x00\x03abc"
    for chunks in split_ways(stream):
        sink, rs = feed_chunks(chunks, keep=True)
        assert sink.events == [("record", True, 23, 0x0303, b"abc")]


def test_several_records_in_one_chunk_and_zero_length() -> None:
    stream = b"\x14\x03\x03\x00\x01\x01" + b"\x16\x03\x03\x00\x00" + b"\x15\x03\x01\x00\x02\x02\x28"
    expected = [
        ("record", True, 20, 0x0303, b"\x01"),
        ("record", True, 22, 0x0303, b""),
        ("record", True, 21, 0x0301, b"\x02\x28"),
    ]
    for chunks in split_ways(stream):
        assert feed_chunks(chunks)[0].events == expected


# ---------------------------------------------------------------------------------------------------------------
# SSLv2-compatible hello
# ---------------------------------------------------------------------------------------------------------------

V2_MSG = b"\x01\x03\x01\x00\x06\x00\x00\x00\x10" + b"\x00\x00\x2f\x00\x00\x35" + bytes(range(16))
V2_RECORD = bytes([0x80 | (len(V2_MSG) >> 8), len(V2_MSG) & 0xFF]) + V2_MSG


def test_sslv2_hello_as_first_record() -> None:
    assert looks_like_sslv2_client_hello(V2_RECORD)
    nxt = b"\x16\x03\x01\x00\x01\x01"
    expected = [("record", True, SSLV2_HELLO, 2, V2_MSG), ("record", True, 22, 0x0301, b"\x01")]
    for chunks in split_ways(V2_RECORD + nxt):
        sink, rs = feed_chunks(chunks)
        assert sink.events == expected
        assert rs.buffered == 0


def test_sslv2_header_later_in_the_stream_is_malformed() -> None:
    stream = b"\x16\x03\x01\x00\x01\x01" + V2_RECORD
    sink, rs = feed_chunks([stream])
    assert sink.events[0] == ("record", True, 22, 0x0301, b"\x01")
    assert sink.kinds() == ["tls-record-malformed"]
    assert rs.lost


# ---------------------------------------------------------------------------------------------------------------
# Gaps, malformed headers and resynchronisation
# ---------------------------------------------------------------------------------------------------------------

ALERT = b"\x15\x03\x03\x00\x02\x01\x00"
HS = b"\x16\x03\x03\x00\x04\x14\x00\x00\x00"


def test_gap_inside_a_skipped_body_loses_nothing() -> None:
    sink = Sink()
    rs = RecordStream(True, sink)
    rs.feed(b"\x17\x03\x03\x01\x00" + b"x" * 10, 1)  # 246 body bytes still to skip
    rs.gap(200, 2)
    rs.feed(b"y" * 40, 3)
    assert rs.buffered == 0
    rs.gap(6, 4)  # exactly the rest of the body
    rs.feed(ALERT, 5)
    assert sink.events == [("skipped", True, 23, 256), ("record", True, 21, 0x0303, b"\x01\x00")]
    assert not rs.lost


def test_gap_at_a_record_boundary_loses_sync_then_resyncs() -> None:
    sink = Sink()
    rs = RecordStream(True, sink)
    rs.feed(ALERT, 1)
    rs.gap(100, 2)
    assert rs.lost
    rs.feed(b"\x00\x01\x02 not a header " + HS + ALERT, 3)
    assert sink.events == [
        ("record", True, 21, 0x0303, b"\x01\x00"),
        ("anomaly", "tls-gap"),
        ("anomaly", "tls-resync"),
        ("record", True, 22, 0x0303, b"\x14\x00\x00\x00"),
        ("record", True, 21, 0x0303, b"\x01\x00"),
    ]
    assert not rs.lost
    rs.gap(1, 4)
    rs.gap(1, 5)  # a second gap while lost adds no second anomaly
    assert sink.kinds() == ["tls-gap", "tls-resync", "tls-gap"]


def test_gap_inside_a_buffered_record_drops_it() -> None:
    sink = Sink()
    rs = RecordStream(True, sink)
    rs.feed(HS[:7], 1)
    assert rs.buffered == 7
    rs.gap(3, 2)
    assert rs.buffered == 0
    for i in range(len(ALERT)):
        rs.feed(ALERT[i : i + 1], 3 + i)
    assert sink.events == [
        ("anomaly", "tls-gap"),
        ("anomaly", "tls-resync"),
        ("record", True, 21, 0x0303, b"\x01\x00"),
    ]


def test_gap_longer_than_the_skipped_rest() -> None:
    sink = Sink()
    rs = RecordStream(True, sink)
    rs.feed(b"\x17\x03\x03\x00\x10" + b"x" * 4, 1)
    rs.gap(13, 2)  # 12 left in the body, one byte more is lost
    assert rs.lost
    assert sink.kinds() == ["tls-gap"]


@pytest.mark.parametrize(
    "bad", [b"\x00\x03\x03\x00\x01", b"\x16\x02\x00\x00\x01", b"GET / HTTP/1.1\r\n", b"\x30\x03\x03\x00\x05"]
)
def test_non_tls_header_is_malformed_then_resync(bad: bytes) -> None:
    stream = ALERT + bad + HS + ALERT
    expected = [
        ("record", True, 21, 0x0303, b"\x01\x00"),
        ("anomaly", "tls-record-malformed"),
        ("anomaly", "tls-resync"),
        ("record", True, 22, 0x0303, b"\x14\x00\x00\x00"),
        ("record", True, 21, 0x0303, b"\x01\x00"),
    ]
    for chunks in split_ways(stream):
        sink, rs = feed_chunks(chunks)
        assert sink.events == expected, chunks
        assert rs.buffered == 0


def test_lost_stream_keeps_only_a_few_bytes() -> None:
    sink, rs = feed_chunks([b"\xff" * 5])
    assert rs.lost
    peak = 0
    for i in range(20000):
        rs.feed(b"\x00\x17"[i % 2 : i % 2 + 1], i)
        peak = max(peak, rs.buffered)
    assert peak <= 4
    assert sink.kinds() == ["tls-record-malformed"]


def test_many_bad_headers_in_one_chunk_do_not_recurse() -> None:
    """Each malformed header used to resynchronise through a recursive feed(): RecursionError on big chunks."""
    unit = b"\x16\x03\x03\x00\x01\x00" * 2 + b"\x00"
    sink, rs = feed_chunks([unit * 6000])
    # the final b"\x00" is too short to judge yet: it waits in the buffer
    assert sink.kinds() == ["tls-record-malformed", "tls-resync"] * 5999
    assert sum(1 for e in sink.events if e[0] == "record") == 12000
    assert (rs.buffered, rs.lost) == (1, False)
    rs.feed(b"\x00" * 4, 1)
    assert sink.kinds()[-1] == "tls-record-malformed"
    assert (rs.buffered, rs.lost) == (4, True)


def test_hunting_resync_is_silent() -> None:
    sink = Sink()
    rs = RecordStream(False, sink)
    rs.lost = rs.hunting = True
    rs.feed(b"220 smtp ready\r\n" + HS, 1)
    assert sink.events == [("record", False, 22, 0x0303, b"\x14\x00\x00\x00")]
    assert not rs.hunting


# ---------------------------------------------------------------------------------------------------------------
# Sniffing helpers
# ---------------------------------------------------------------------------------------------------------------


def test_plausible_header() -> None:
    assert plausible_header(b"\x16\x03\x01\x00\x01", 0)
    assert plausible_header(b"xx\x17\x03\x04" + MAX_RECORD_CIPHERTEXT.to_bytes(2, "big"), 2)
    assert not plausible_header(b"\x17\x03\x03" + (MAX_RECORD_CIPHERTEXT + 1).to_bytes(2, "big"), 0)
    assert not plausible_header(b"\x16\x03\x01\x00\x00", 0)  # zero length
    assert not plausible_header(b"\x16\x03\x05\x00\x01", 0)
    assert not plausible_header(b"\x1a\x03\x01\x00\x01", 0)
    assert not plausible_header(b"\x16\x03\x01\x00", 0)


def test_looks_like_tls(tls12: tuple[bytes, bytes], tls13: tuple[bytes, bytes]) -> None:
    assert looks_like_tls(tls12[0]) and looks_like_tls(tls13[0]) and looks_like_tls(tls12[1])
    assert looks_like_tls(ALERT)
    assert looks_like_tls(V2_RECORD)
    assert not looks_like_tls(b"\x17\x03\x03\x00\x10")  # application data first: not a TLS start
    assert not looks_like_tls(b"GET / HTTP/1.1\r\n")
    assert not looks_like_tls(tls12[0][:4])
    assert not looks_like_tls(b"")


def test_find_client_hello(tls12: tuple[bytes, bytes]) -> None:
    prefix = b"EHLO x\r\n250 STARTTLS\r\n\x16\x03\x01\x00\x05\x02" + b"\x16\x03"
    data = prefix + tls12[0]
    assert find_client_hello(data) == len(prefix)
    assert find_client_hello(data, len(prefix) + 1) == -1
    assert find_client_hello(tls12[0]) == 0
    assert find_client_hello(tls12[0][:5]) == -1  # the handshake type byte is needed
    assert find_client_hello(b"") == -1


# ---------------------------------------------------------------------------------------------------------------
# Fuzz: no exception at all, and chunking never changes the outcome for well-formed input
# ---------------------------------------------------------------------------------------------------------------

SEED = ALERT + HS + b"\x17\x03\x03\x00\x05hello" + V2_RECORD


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(st.binary(max_size=60), st.integers(0, len(SEED)).map(lambda i: SEED[:i])),
        max_size=8,
    ),
    st.lists(st.integers(0, 300), max_size=3),
    st.booleans(),
)
def test_fuzz_no_exception(chunks: list[bytes], gaps: list[int], keep: bool) -> None:
    sink = Sink()
    rs = RecordStream(True, sink, keep_app_data=keep)
    for i, c in enumerate(chunks):
        rs.feed(c, i)
        if gaps and i % 3 == 2:
            rs.gap(gaps.pop(), i)
        assert rs.buffered <= 5 + 0xFFFF


record_st = st.tuples(
    st.sampled_from([20, 21, 22, 23]), st.integers(0, 4), st.binary(min_size=0, max_size=40)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(record_st, min_size=1, max_size=6), st.lists(st.integers(1, 400), max_size=6), st.booleans())
def test_fuzz_chunking_does_not_matter(
    recs: list[tuple[int, int, bytes]], cuts: list[int], keep: bool
) -> None:
    stream = b"".join(bytes([ct, 3, minor]) + len(body).to_bytes(2, "big") + body for ct, minor, body in recs)
    expected = expected_events(stream, True, keep)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0] + points, points + [len(stream)], strict=True)]
    sink, rs = feed_chunks(chunks, keep=keep)
    assert sink.events == expected
    assert rs.buffered == 0


def test_counting_off_skip_equals_feeding() -> None:
    """The engine subtracts in-order bytes that fall inside a skipped body from `skip` instead of feeding them;
    what the sink sees afterwards must be the same either way."""
    body = bytes(range(256)) * 8  # 2048 bytes
    stream = b"\x17\x03\x03\x08\x00" + body + ALERT
    for cut in (5, 6, 100, 2000, 2053):
        fed, counted = Sink(), Sink()
        a, b = RecordStream(True, fed), RecordStream(True, counted)
        a.feed(stream[:cut], 1)
        b.feed(stream[:cut], 1)
        pos = cut
        while pos < len(stream):
            piece = stream[pos : pos + 700]
            a.feed(piece, 2)
            if b.skip >= len(piece):
                b.skip -= len(piece)
            else:
                b.feed(piece, 2)
            pos += len(piece)
        assert fed.events == counted.events
        assert fed.events[-1] == ("record", True, 21, 0x0303, b"\x01\x00")
        assert a.skip == b.skip == 0 and a.buffered == b.buffered == 0
