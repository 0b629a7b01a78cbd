"""Tests for tlsinspect.capture.files: the pcap / pcapng / gzip reader."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from helpers_pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
    TLS_KEY_LOG,
    Interface,
    Ticks,
    block,
    pcap_bytes,
    pcapng_bytes,
    write_pcap,
    write_pcapng,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsinspect.capture import files
from tlsinspect.capture.files import (
    MAX_PACKET,
    CaptureFile,
    Frame,
    open_capture,
    sniff_format,
)
from tlsinspect.errors import CaptureError

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

T0 = 1_700_000_000


def payloads(n: int) -> list[bytes]:
    """n distinct payloads of varying length (0 included, odd lengths for padding)."""
    return [bytes([i % 256]) * (i * 7 % 61) + bytes([i % 256, 0xAB]) for i in range(n)]


@pytest.fixture(
    autouse=True,
    params=[(True, True), (False, True), (True, False)],
    ids=["mapped", "chunked", "mapped-python"],
)
def reading_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every test of this module runs three times: with the file memory-mapped (the default), read in chunks
    (what a gzip file or a pipe gets), and mapped but walked by the Python loop instead of the C walker (what a
    machine without a C compiler gets); the three share the frame logic but not the buffer handling."""
    mapped, with_c = request.param
    defaults = CaptureFile.__init__.__kwdefaults__
    assert defaults is not None and "map_file" in defaults
    monkeypatch.setitem(defaults, "map_file", mapped)
    if not with_c:
        monkeypatch.setattr(files, "_fastwalk", None)
    return bool(mapped)


def read_all(path: str | os.PathLike[str], **kwargs: int) -> tuple[CaptureFile, list[Frame]]:
    with CaptureFile(path, **kwargs) as cap:
        frames = list(cap)
    return cap, frames


def put(tmp_path: Path, data: bytes, name: str = "x.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- sniffing ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xd4\xc3\xb2\xa1", "pcap"),
        (b"\xa1\xb2\xc3\xd4", "pcap"),
        (b"\x4d\x3c\xb2\xa1", "pcap"),
        (b"\xa1\xb2\x3c\x4d", "pcap"),
        (b"\x34\xcd\xb2\xa1", "pcap"),
        (b"\x0a\x0d\x0d\x0a", "pcapng"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"\x1f\x8b", "gzip"),
        (b"CLIENT_RANDOM", None),
        (b"", None),
        (b"\xd4\xc3", None),
    ],
)
def test_sniff_format(head: bytes, expected: str | None) -> None:
    assert sniff_format(head) == expected


# --- classic pcap ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nanos", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path: Path, big_endian: bool, nanos: bool) -> None:
    data = payloads(5)
    stamps = [T0 + 0.5, T0 + 0.25, T0 + 1.125, T0 + 2.0, T0 + 3.75]
    path = write_pcap(
        tmp_path / "a.pcap",
        [(ts, d, len(d) + 10) for ts, d in zip(stamps, data, strict=True)],
        linktype=LINKTYPE_RAW,
        nanos=nanos,
        big_endian=big_endian,
    )
    cap, frames = read_all(path)
    assert cap.format == "pcap"
    assert cap.link_types == [LINKTYPE_RAW]
    assert frames == [
        Frame(
            number=i + 1,
            ts=stamps[i],
            link_type=LINKTYPE_RAW,
            data=data[i],
            orig_len=len(data[i]) + 10,
            interface=0,
        )
        for i in range(5)
    ]
    assert cap.frames_read == 5
    assert cap.bytes_read == sum(map(len, data))
    assert cap.anomalies == []


def test_pcap_fractions_are_scaled(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "a.pcap", [(T0 + 0.123456, b"x")])
    assert read_all(path)[1][0].ts == pytest.approx(T0 + 0.123456, abs=1e-6)
    path = write_pcap(tmp_path / "b.pcap", [(T0 + 0.123456789, b"x")], nanos=True)
    assert read_all(path)[1][0].ts == pytest.approx(T0 + 0.123456789, abs=1e-6)


@pytest.mark.parametrize("big_endian", [False, True])
def test_modified_pcap(tmp_path: Path, big_endian: bool) -> None:
    path = put(tmp_path, pcap_bytes([(T0, b"abc"), (T0 + 1, b"defg")], modified=True, big_endian=big_endian))
    cap, frames = read_all(path)
    assert [(f.number, f.ts, f.data) for f in frames] == [(1, T0, b"abc"), (2, T0 + 1, b"defg")]
    assert cap.anomalies == []


def test_pcap_linktype_fcs_bits_masked(tmp_path: Path) -> None:
    path = put(tmp_path, pcap_bytes([(T0, b"abc")], linktype=LINKTYPE_ETHERNET | 0x14000000))
    cap, frames = read_all(path)
    assert cap.link_types == [LINKTYPE_ETHERNET]
    assert frames[0].link_type == LINKTYPE_ETHERNET


def test_pcap_caplen_over_snaplen_is_read(tmp_path: Path) -> None:
    # tshark reads records longer than the snaplen (writers get the snaplen wrong); only 256 KiB stops us.
    path = put(tmp_path, pcap_bytes([(T0, b"a" * 10), (T0, b"b" * 101), (T0, b"c")], snaplen=100))
    cap, frames = read_all(path)
    assert [f.data for f in frames] == [b"a" * 10, b"b" * 101, b"c"]
    assert cap.anomalies == []


def test_pcap_caplen_over_256k_stops(tmp_path: Path) -> None:
    path = put(tmp_path, pcap_bytes([(T0, b"a"), (T0, b"b" * (MAX_PACKET + 1))], snaplen=0))
    cap, frames = read_all(path)
    assert len(frames) == 1
    assert cap.anomalies[0].kind == "oversized-packet"
    # exactly 256 KiB is fine
    path = put(tmp_path, pcap_bytes([(T0, b"b" * MAX_PACKET)], snaplen=0), "ok.pcap")
    cap, frames = read_all(path)
    assert len(frames[0].data) == MAX_PACKET
    assert cap.anomalies == []


def test_pcap_header_only(tmp_path: Path) -> None:
    cap, frames = read_all(put(tmp_path, pcap_bytes([])))
    assert frames == [] and cap.anomalies == [] and cap.link_types == [1]


@pytest.mark.parametrize("chunk_size", [4096, 5000, 1 << 22])
def test_frames_across_chunk_boundaries(tmp_path: Path, chunk_size: int) -> None:
    data = [bytes([i % 251]) * (i * 37 % 1600) for i in range(400)] + [b"z" * 20000]
    frames_in = [(T0 + i, d) for i, d in enumerate(data)]
    cap, frames = read_all(write_pcap(tmp_path / "a.pcap", frames_in), chunk_size=chunk_size)
    assert [f.data for f in frames] == data
    assert [f.number for f in frames] == list(range(1, len(data) + 1))
    cap2, frames2 = read_all(
        write_pcapng(tmp_path / "a.pcapng", [1], [(0, T0 + i, d) for i, d in enumerate(data)]),
        chunk_size=chunk_size,
    )
    assert frames2 == frames
    assert cap.bytes_read == cap2.bytes_read == sum(map(len, data))
    assert cap.anomalies == cap2.anomalies == []


# --- pcapng ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("big_endian", [False, True])
def test_pcapng_multi_interface(tmp_path: Path, big_endian: bool) -> None:
    ifaces = [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL2]
    data = payloads(6)
    packets = [(i % 3, T0 + i + 0.5, d, len(d) + 1) for i, d in enumerate(data)]
    path = write_pcapng(tmp_path / "m.pcapng", ifaces, packets, big_endian=big_endian)
    with CaptureFile(path) as cap:
        assert cap.format == "pcapng"
        assert cap.link_types == ifaces  # known at open: the IDBs precede the first packet
        frames = list(cap)
    assert frames == [
        Frame(i + 1, T0 + i + 0.5, ifaces[i % 3], d, len(d) + 1, i % 3) for i, d in enumerate(data)
    ]
    assert cap.anomalies == []


@pytest.mark.parametrize(
    ("tsresol", "units", "expected"),
    [
        (None, T0 * 10**6 + 250_000, T0 + 0.25),
        (9, T0 * 10**9 + 123_456_789, T0 + 0.123456789),
        (0x8A, T0 * 1024 + 512, T0 + 0.5),
        (0x8A, T0 * 1024 + 1, T0 + 1 / 1024),
        (3, T0 * 1000 + 1, T0 + 0.001),
        (0, T0, float(T0)),
    ],
)
def test_pcapng_tsresol(tmp_path: Path, tsresol: int | None, units: int, expected: float) -> None:
    path = write_pcapng(tmp_path / "t.pcapng", [Interface(tsresol=tsresol)], [(0, Ticks(units), b"x")])
    assert read_all(path)[1][0].ts == pytest.approx(expected, abs=1e-6)


def test_pcapng_tsoffset(tmp_path: Path) -> None:
    ifaces = [Interface(tsoffset=T0), Interface(tsoffset=-10, tsresol=9)]
    path = write_pcapng(
        tmp_path / "o.pcapng", ifaces, [(0, Ticks(1_500_000), b"a"), (1, Ticks(T0 * 10**9), b"b")]
    )
    frames = read_all(path)[1]
    assert [f.ts for f in frames] == [T0 + 1.5, T0 - 10]


def test_pcapng_spb(tmp_path: Path) -> None:
    path = write_pcapng(
        tmp_path / "s.pcapng",
        [Interface(link_type=LINKTYPE_RAW, snaplen=4)],
        [(0, 0.0, b"abcd", 9), (0, 0.0, b"ab", 2), (0, 0.0, b"abc", 3)],
        use_spb=True,
    )
    cap, frames = read_all(path)
    assert frames == [
        Frame(1, 0.0, LINKTYPE_RAW, b"abcd", 9, 0),
        Frame(2, 0.0, LINKTYPE_RAW, b"ab", 2, 0),
        Frame(3, 0.0, LINKTYPE_RAW, b"abc", 3, 0),
    ]
    assert cap.anomalies == []


def test_pcapng_spb_without_snaplen(tmp_path: Path) -> None:
    path = write_pcapng(tmp_path / "s.pcapng", [Interface(snaplen=0)], [(0, 0.0, b"hello")], use_spb=True)
    assert read_all(path)[1] == [Frame(1, 0.0, 1, b"hello", 5, 0)]


def test_pcapng_obsolete_packet_block(tmp_path: Path) -> None:
    path = write_pcapng(
        tmp_path / "p.pcapng", [1, 101], [(1, T0 + 0.5, b"abc"), (0, T0, b"de")], packet_block="pb"
    )
    assert read_all(path)[1] == [Frame(1, T0 + 0.5, 101, b"abc", 3, 1), Frame(2, float(T0), 1, b"de", 2, 0)]


def test_pcapng_dsb_and_skipped_blocks(tmp_path: Path) -> None:
    keylog = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
    extra = [
        block(4, struct.pack("<HH", 1, 8) + bytes([10, 0, 0, 1]) + b"name" + struct.pack("<HH", 0, 0)),  # NRB
        block(0x00000BAD, struct.pack("<I", 32473) + b"custom data"),  # custom block
        block(0x12345678, b"unknown"),
    ]
    section = pcapng_bytes([1], [(0, T0, b"p1"), (0, T0 + 1, b"p2")], dsb=keylog, extra_blocks=extra)
    isb = block(5, struct.pack("<III", 0, 0, 0))
    late_dsb = block(0x0A, struct.pack("<II", 0x12345678, 3) + b"xyz")
    path = put(tmp_path, section + isb + late_dsb, "d.pcapng")
    with CaptureFile(path) as cap:
        assert cap.secrets == [(TLS_KEY_LOG, keylog)]  # read at open, before the first packet
        frames = list(cap)
    assert [f.data for f in frames] == [b"p1", b"p2"]
    assert cap.secrets == [(TLS_KEY_LOG, keylog), (0x12345678, b"xyz")]
    assert cap.anomalies == []


def test_pcapng_several_sections(tmp_path: Path) -> None:
    first = pcapng_bytes([1, 101], [(0, T0, b"a"), (1, T0 + 1, b"b")])
    second = pcapng_bytes(
        [Interface(LINKTYPE_LINUX_SLL2, tsresol=9)], [(0, Ticks((T0 + 2) * 10**9), b"c")], big_endian=True
    )
    third = pcapng_bytes([113], [(0, T0 + 3, b"d")])
    cap, frames = read_all(put(tmp_path, first + second + third, "s.pcapng"))
    assert cap.link_types == [1, 101, 276, 113]
    assert [(f.number, f.ts, f.link_type, f.data, f.interface) for f in frames] == [
        (1, T0, 1, b"a", 0),
        (2, T0 + 1, 101, b"b", 1),
        (3, T0 + 2, 276, b"c", 2),
        (4, T0 + 3, 113, b"d", 3),
    ]
    assert cap.anomalies == []


def test_pcapng_section_resets_interfaces(tmp_path: Path) -> None:
    first = pcapng_bytes([1, 101], [(1, T0, b"a")])
    # second section describes one interface but a packet names interface 1 of the first section
    second = pcapng_bytes([276], [(0, T0, b"b")]) + block(6, struct.pack("<IIIII", 1, 0, 0, 1, 1) + b"c")
    cap, frames = read_all(put(tmp_path, first + second, "r.pcapng"))
    assert [f.data for f in frames] == [b"a", b"b"]
    assert [(a.kind, a.frame) for a in cap.anomalies] == [("corrupt-block", 3)]


def test_pcapng_packet_before_interface(tmp_path: Path) -> None:
    path = put(tmp_path, pcapng_bytes([], [(0, Ticks(5), b"a")]), "n.pcapng")
    cap, frames = read_all(path)
    assert frames == [] and cap.anomalies[0].kind == "corrupt-block"
    path = put(tmp_path, pcapng_bytes([], [(0, 0.0, b"a")], use_spb=True), "n2.pcapng")
    cap, frames = read_all(path)
    assert frames == [] and cap.anomalies[0].kind == "corrupt-block"


@pytest.mark.parametrize(
    "bad_block",
    [
        struct.pack("<II", 6, 7) + b"\0" * 20,  # length not a multiple of 4
        struct.pack("<II", 6, 8) + b"\0" * 20,  # length below the minimum
        struct.pack("<II", 6, 1 << 30) + b"\0" * 20,  # absurd length
        struct.pack("<IIIIIII", 6, 36, 0, 0, 0, 8, 8) + b"\0" * 4 + struct.pack("<I", 36),  # caplen > block
        struct.pack("<IIIIIII", 6, 36, 0, 0, 0, 4, 4) + b"\0" * 4 + struct.pack("<I", 40),  # trailer differs
        struct.pack("<II", 0x0A0D0D0A, 28) + b"\0" * 20,  # SHB with a bad byte-order magic
        struct.pack("<IIII", 0x0A, 24, 0, 99) + b"\0" * 4 + struct.pack("<I", 24),  # DSB claims too much
    ],
)
def test_pcapng_corrupt_blocks_stop_with_anomaly(tmp_path: Path, bad_block: bytes) -> None:
    good = pcapng_bytes([1], [(0, T0, b"a")])
    cap, frames = read_all(put(tmp_path, good + bad_block + good, "c.pcapng"))
    assert [f.data for f in frames] == [b"a"]
    assert len(cap.anomalies) == 1
    assert cap.anomalies[0].kind == "corrupt-block"
    assert cap.anomalies[0].layer == "capture"


def test_pcapng_caplen_over_snaplen_is_read(tmp_path: Path) -> None:
    path = write_pcapng(tmp_path / "o.pcapng", [Interface(snaplen=4)], [(0, T0, b"abcd"), (0, T0, b"abcde")])
    cap, frames = read_all(path)
    assert [f.data for f in frames] == [b"abcd", b"abcde"]
    assert cap.anomalies == []


def test_pcapng_block_larger_than_chunk(tmp_path: Path) -> None:
    big = bytes(range(256)) * 600
    keylog = b"x" * 70000
    path = write_pcapng(tmp_path / "b.pcapng", [1], [(0, T0, big), (0, T0, b"s")], dsb=keylog)
    cap, frames = read_all(path, chunk_size=4096)
    assert [f.data for f in frames] == [big, b"s"]
    assert cap.secrets == [(TLS_KEY_LOG, keylog)]


# --- gzip --------------------------------------------------------------------------------------------------


def test_gzip_pcap_and_pcapng(tmp_path: Path) -> None:
    data = payloads(50)
    a = write_pcap(tmp_path / "a.pcap.gz", [(T0 + i, d) for i, d in enumerate(data)])
    b = write_pcapng(tmp_path / "b.pcapng.gz", [1, 101], [(i % 2, T0 + i, d) for i, d in enumerate(data)])
    for path, fmt in ((a, "pcap"), (b, "pcapng")):
        cap, frames = read_all(path, chunk_size=4096)
        assert cap.format == fmt and cap.compressed
        assert [f.data for f in frames] == data
        assert cap.anomalies == []


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    path = put(tmp_path, gzip.compress(pcap_bytes([(T0, b"abc")])), "plain-name.pcap")
    assert [f.data for f in read_all(path)[1]] == [b"abc"]


def test_gzip_multi_member(tmp_path: Path) -> None:
    raw = pcap_bytes([(T0, b"abc"), (T0, b"defgh")])
    path = put(tmp_path, gzip.compress(raw[:30]) + gzip.compress(raw[30:]), "m.pcap.gz")
    cap, frames = read_all(path)
    assert [f.data for f in frames] == [b"abc", b"defgh"] and cap.anomalies == []


def test_gzip_truncated_keeps_what_decompressed(tmp_path: Path) -> None:
    raw = pcap_bytes([(T0 + i, bytes([i]) * 100) for i in range(200)])
    packed = gzip.compress(raw)
    cap, frames = read_all(put(tmp_path, packed[: len(packed) - 30], "t.pcap.gz"))
    assert 0 < len(frames) < 200
    assert cap.anomalies and cap.anomalies[0].kind == "truncated"
    # Cut exactly where the gzip trailer starts: every frame decompressed, but the stream lacks its end.
    cap, frames = read_all(put(tmp_path, packed[:-8], "t2.pcap.gz"))
    assert len(frames) == 200
    assert [a.kind for a in cap.anomalies] == ["truncated"]


def test_gzip_corrupt_middle(tmp_path: Path) -> None:
    raw = pcap_bytes([(T0 + i, os.urandom(100)) for i in range(2000)])
    packed = bytearray(gzip.compress(raw))
    packed[len(packed) // 2] ^= 0xFF
    cap, frames = read_all(put(tmp_path, bytes(packed), "c.pcap.gz"), chunk_size=4096)
    assert len(frames) < 2000
    assert cap.anomalies and cap.anomalies[-1].kind in ("corrupt-gzip", "truncated", "oversized-packet")


# --- errors at open ----------------------------------------------------------------------------------------


def _open_error(path: str | os.PathLike[str]) -> str:
    with pytest.raises(CaptureError) as info:
        CaptureFile(path)
    message = str(info.value)
    assert "\n" not in message and message
    return message


def test_open_errors(tmp_path: Path) -> None:
    assert "no such file" in _open_error(tmp_path / "missing.pcap")
    assert "directory" in _open_error(tmp_path)
    assert "empty" in _open_error(put(tmp_path, b"", "e.pcap"))
    text = _open_error(put(tmp_path, b"CLIENT_RANDOM abc def\n", "k.pcap"))
    assert "43 4c 49 45" in text and "text" in text
    assert "not a pcap or pcapng" in _open_error(put(tmp_path, b"\x00\x01\x02\x03" * 10, "b.pcap"))
    gz = _open_error(put(tmp_path, gzip.compress(b"hello world, not a capture"), "g.pcap.gz"))
    assert "gzip" in gz and "68 65 6c 6c" in gz
    assert "gzip" in _open_error(put(tmp_path, b"\x1f\x8b\x08\x00garbage-garbage", "bad.gz"))
    assert "zstd" in _open_error(put(tmp_path, b"\x28\xb5\x2f\xfd" + b"\0" * 20, "z.pcap.zst"))
    assert "byte-order" in _open_error(
        put(tmp_path, b"\x0a\x0d\x0d\x0a" + b"\x1c\0\0\0" + b"\0" * 20, "n.pcapng")
    )


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read anything")
def test_open_permission_denied(tmp_path: Path) -> None:
    path = put(tmp_path, pcap_bytes([]))
    path.chmod(0)
    assert "permission" in _open_error(path)


def test_open_capture_alias_and_repr(tmp_path: Path) -> None:
    path = put(tmp_path, pcap_bytes([(T0, b"a")]))
    with open_capture(path) as cap:
        assert "pcap" in repr(cap)
        assert next(iter(cap)).data == b"a"


# --- truncation --------------------------------------------------------------------------------------------


def _boundaries_pcap(raw: bytes) -> list[int]:
    ends, pos = [], 24
    while pos < len(raw):
        pos += 16 + struct.unpack_from("<I", raw, pos + 8)[0]
        ends.append(pos)
    return ends


def _boundaries_pcapng(raw: bytes) -> tuple[list[int], list[int]]:
    """(end offsets of every block, end offsets of packet blocks)."""
    ends, packets, pos = [], [], 0
    while pos < len(raw):
        btype, blen = struct.unpack_from("<II", raw, pos)
        pos += blen
        ends.append(pos)
        if btype in (2, 3, 6):
            packets.append(pos)
    return ends, packets


def test_truncated_pcap_at_every_offset(tmp_path: Path) -> None:
    raw = pcap_bytes([(T0 + i, bytes([i]) * (i * 5)) for i in range(6)])
    ends = _boundaries_pcap(raw)
    for cut in range(len(raw) + 1):
        path = put(tmp_path, raw[:cut])
        if cut < 24:
            _open_error(path)
            continue
        cap, frames = read_all(path)
        whole = sum(1 for e in ends if e <= cut)
        assert len(frames) == cap.frames_read == whole, cut
        if cut in ends or cut == 24:
            assert cap.anomalies == [], cut
        else:
            assert [(a.kind, a.frame) for a in cap.anomalies] == [("truncated", whole + 1)], cut


def test_truncated_pcapng_at_every_offset(tmp_path: Path) -> None:
    raw = pcapng_bytes(
        [1, 101],
        [(i % 2, T0 + i, bytes([i]) * (i * 3)) for i in range(5)],
        dsb=b"secret",
        extra_blocks=[block(5, b"\0" * 12)],
    )
    ends, packets = _boundaries_pcapng(raw)
    shb_end = ends[0]
    for cut in range(len(raw) + 1):
        path = put(tmp_path, raw[:cut], "t.pcapng")
        if cut < shb_end:
            _open_error(path)
            continue
        cap, frames = read_all(path)
        whole = sum(1 for e in packets if e <= cut)
        assert len(frames) == cap.frames_read == whole, cut
        if cut in ends:
            assert cap.anomalies == [], cut
        else:
            assert len(cap.anomalies) == 1 and cap.anomalies[0].kind == "truncated", cut
            next_block = min(e for e in ends if e > cut)
            block_start = max(e for e in ends if e <= cut)
            # the type of a block is known once its first 4 bytes are there
            known = cut - block_start >= 4
            expected_frame = whole + 1 if next_block in packets and known else None
            assert cap.anomalies[0].frame == expected_frame, cut


# --- iteration behaviour -----------------------------------------------------------------------------------


def test_single_pass_and_raw_frames(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "a.pcap", [(T0 + i, bytes([i])) for i in range(4)])
    with CaptureFile(path) as cap:
        it = iter(cap)
        first = next(it)
        raw = next(cap.raw_frames())
        rest = list(cap)
    assert first == Frame(1, float(T0), 1, b"\x00", 1, 0)
    assert raw == (2, T0 + 1.0, 1, b"\x01", 1, 0) and type(raw) is tuple
    assert [f.number for f in rest] == [3, 4]
    assert cap.frames_read == 4 and cap.bytes_read == 4


def test_counts_after_break(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "a.pcap", [(T0 + i, b"ab" * i) for i in range(10)])
    with CaptureFile(path) as cap:
        for frame in cap:
            if frame.number == 4:
                break
    assert cap.frames_read == 4
    assert cap.bytes_read == 0 + 2 + 4 + 6


# --- fuzz --------------------------------------------------------------------------------------------------


def _fuzz_one(tmp_path: Path, raw: bytes, name: str) -> None:
    path = put(tmp_path, raw, name)
    try:
        cap = CaptureFile(path, chunk_size=4096)
    except CaptureError:
        return
    with cap:
        frames = list(cap)
    assert cap.frames_read == len(frames)
    assert all(len(f.data) <= MAX_PACKET for f in frames)
    assert all(a.layer == "capture" for a in cap.anomalies)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.binary(max_size=3000), big_endian=st.booleans())
def test_fuzz_pcap_tail(tmp_path: Path, tail: bytes, big_endian: bool) -> None:
    _fuzz_one(tmp_path, pcap_bytes([(T0, b"abc")], big_endian=big_endian) + tail, "f.pcap")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tail=st.binary(max_size=3000),
    big_endian=st.booleans(),
    blocks=st.lists(
        st.tuples(st.sampled_from([1, 2, 3, 4, 5, 6, 10, 0x0A0D0D0A, 0xBAD, 99]), st.binary(max_size=64)),
        max_size=6,
    ),
)
def test_fuzz_pcapng_tail(
    tmp_path: Path, tail: bytes, big_endian: bool, blocks: list[tuple[int, bytes]]
) -> None:
    head = pcapng_bytes([1, 101], [(0, T0, b"abc")], big_endian=big_endian)
    body = b"".join(block(t, b, big_endian) for t, b in blocks)
    _fuzz_one(tmp_path, head + body + tail, "f.pcapng")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_fuzz_whole_file(tmp_path: Path, raw: bytes) -> None:
    _fuzz_one(tmp_path, raw, "w.pcap")
    _fuzz_one(tmp_path, b"\x0a\x0d\x0d\x0a" + raw, "w.pcapng")
    _fuzz_one(tmp_path, b"\xd4\xc3\xb2\xa1" + raw, "w2.pcap")


# --- real captures -----------------------------------------------------------------------------------------


def _corpus_captures() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    suffixes = (".pcap", ".pcapng", ".cap", ".pcap.gz")
    return sorted(
        p
        for p in CORPUS.rglob("*")
        if p.is_file() and p.name.endswith(suffixes) and "expected" not in p.parts
    )


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_corpus_captures_open_and_iterate() -> None:
    captures = _corpus_captures()
    assert len(captures) > 100
    for path in captures:
        with CaptureFile(path) as cap:
            n = sum(1 for _ in cap)
        assert n == cap.frames_read > 0, path
        for anomaly in cap.anomalies:
            # the only damaged files: suricata-verify's bug-1450 pair claims a 4 MiB packet in frame 7
            assert "bug-1450" in str(path) and anomaly.kind == "oversized-packet" and n == 6, path


_COMPARED = [
    "zeek/Traces/tls/tls-fragmented-handshake.pcap.gz",
    "foxio-ja4/pcap/dtls-udp.notest.cap",
    "foxio-ja4/pcap/chrome-cloudflare-quic-with-secrets.pcapng",
    "foxio-ja4/pcap/http2-with-cookies.pcapng",
    "ndpi/pcap/dtls.pcap",
    "ndpi/pcap/stun_dtls_rtp.pcapng",
    "arkime/pcap/arkime_synthetic.pcap",
    "suricata-verify/bug-1450-04/tls_DER-incomplete-header.pcap",
]


@pytest.mark.corpus
@pytest.mark.tshark
@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("name", _COMPARED)
def test_corpus_agrees_with_tshark(name: str) -> None:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"{name} not in this corpus")
    fields = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(path),
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
            "-e",
            "frame.interface_id",
            "-e",
            "frame.time_epoch",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    rows = [line.split("\t") for line in fields.stdout.splitlines() if line]
    with CaptureFile(path) as cap:
        frames = list(cap)
    assert len(frames) == len(rows)
    for frame, (number, length, caplen, iface, epoch) in zip(frames, rows, strict=True):
        assert frame.number == int(number)
        assert frame.orig_len == int(length)
        assert len(frame.data) == int(caplen)
        assert frame.interface == int(iface or 0)
        assert frame.ts == pytest.approx(float(epoch), abs=2e-6)
    if re.search(r"bug-1450", name):
        assert "damaged or corrupt" in fields.stderr and cap.anomalies


def test_mapping_is_used_for_plain_files_only(tmp_path: Path, reading_mode: bool) -> None:
    path = write_pcap(tmp_path / "a.pcap", [(T0, b"x" * 60)])
    with CaptureFile(path) as cap:
        assert (cap._map is not None) == reading_mode
    gz = put(tmp_path, gzip.compress(Path(path).read_bytes()), "a.pcap.gz")
    with CaptureFile(gz) as cap:
        assert cap._map is None
        assert [f.data for f in cap] == [b"x" * 60]


def test_push_hands_frames_in_place(tmp_path: Path) -> None:
    """`push` gives each frame as a position in a buffer, at most max_frames per call, and stops after a
    Decryption Secrets Block so that the secrets can be applied before the next frame."""
    keylog = b"CLIENT_RANDOM " + b"00" * 32 + b" " + b"11" * 48 + b"\n"
    late_dsb = block(0x0A, struct.pack("<II", TLS_KEY_LOG, len(keylog)) + keylog)
    first = pcapng_bytes([1], [(0, T0 + i, bytes([i]) * (10 + i)) for i in range(5)])
    second = b"".join(block(6, struct.pack("<IIIII", 0, 0, 0, 3, 3) + b"abc" + b"\0") for _ in range(2))
    path = put(tmp_path, first + late_dsb + second, "p.pcapng")
    got: list[tuple[int, bytes]] = []
    secrets_at: list[int] = []

    def handle(number: int, ts: float, lt: int, buf: bytes, start: int, end: int, ol: int, i: int) -> None:
        got.append((number, bytes(buf[start:end])))

    with CaptureFile(path) as cap:
        calls = 0
        while cap.push(handle, 2):
            calls += 1
            assert calls < 20
            assert cap.frames_read == len(got)
            if cap.secrets:
                secrets_at.append(len(got))
        assert not cap.push(handle, 2)
    assert [n for n, _ in got] == list(range(1, 8))
    assert [d for _, d in got[:5]] == [bytes([i]) * (10 + i) for i in range(5)]
    assert got[5][1] == got[6][1] == b"abc"
    assert secrets_at and secrets_at[0] == 5  # the push after frame 5 ended at the secrets block
    assert cap.bytes_read == sum(len(d) for _, d in got)
