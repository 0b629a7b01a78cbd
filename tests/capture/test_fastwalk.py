"""The C record walker (tlsinspect/capture/_fastwalk.c) against the Python loops it stands in for (classic pcap
records and pcapng Enhanced Packet Blocks).

Both must hand the same frames, with the same numbers, times, positions and original lengths, stop at the same
place (a record cut by the end of the file, an oversized record) and record the same anomalies; with a shard,
the walker may only leave out frames the engine would itself pass over as another shard's. Skipped when the
extension is not built (a machine without a C compiler runs the Python loop only, which every other test covers).
"""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import pytest
from helpers_pcap import Interface, Ticks, block, pcap_bytes, pcapng_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsinspect.capture import files
from tlsinspect.capture.files import CaptureFile
from tlsinspect.decode.fast import shard_of
from tlsinspect.engine.engine import Engine

pytestmark = pytest.mark.skipif(files._fastwalk is None, reason="C walker not built")

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"


def walk(path: Path, *, use_c: bool, shard: tuple[int, int] = (0, 1), batch: int = 1000, **kw: Any) -> Any:
    """Every handle call, the counters after each push, and the anomalies."""
    calls: list[tuple[Any, ...]] = []
    marks: list[tuple[int, int]] = []

    def handle(number: int, ts: float, lt: int, buf: Any, start: int, end: int, ol: int, i: int) -> None:
        calls.append((number, ts, lt, bytes(buf[start:end]), ol, i))

    with CaptureFile(path, **kw) as cap:
        cap.use_c = use_c
        for _ in range(100_000):
            more = cap.push(handle, batch, shard)
            marks.append((cap.frames_read, cap.bytes_read))
            if not more:
                break
        anomalies = [(a.kind, a.frame) for a in cap.anomalies]
    return calls, marks, anomalies


def tcp_frame(rng: random.Random, payload: int) -> bytes:
    src, dst = bytes(rng.randrange(256) for _ in range(4)), bytes(rng.randrange(256) for _ in range(4))
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + payload, 0, 0, 64, 6, 0, src, dst)
    tcp = struct.pack("!HHIIBBHHH", rng.randrange(65536), rng.randrange(65536), 1, 0, 0x50, 0x18, 1000, 0, 0)
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp + bytes(payload)


def project_pcaps() -> list[Path]:
    found = sorted((ROOT / "captures").glob("*.pcap")) + sorted((ROOT / "captures").glob("*.pcapng"))
    if CORPUS.is_dir():
        found += sorted(CORPUS.rglob("*.pcap"))[:150] + sorted(CORPUS.rglob("*.pcapng"))[:100]
    return found


@pytest.mark.parametrize("path", project_pcaps(), ids=lambda p: p.name)
def test_same_frames_as_python(path: Path) -> None:
    try:
        want = walk(path, use_c=False)
    except Exception as e:  # not a capture at all: the C walker never runs
        pytest.skip(f"{path.name}: {e}")
    assert walk(path, use_c=True) == want
    chunked = {"map_file": False, "chunk_size": 4096}
    assert walk(path, use_c=True, **chunked) == walk(path, use_c=False, **chunked)


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nanos", [False, True])
@pytest.mark.parametrize("modified", [False, True])
def test_layouts(tmp_path: Path, big_endian: bool, nanos: bool, modified: bool) -> None:
    rng = random.Random(3)
    frames = [(1_700_000_000 + i * 0.000137, tcp_frame(rng, rng.randrange(0, 300))) for i in range(500)]
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_bytes(frames, nanos=nanos, big_endian=big_endian, modified=modified))
    want = walk(path, use_c=False)
    assert len(want[0]) == 500
    assert walk(path, use_c=True) == want
    assert walk(path, use_c=True, batch=7) == walk(path, use_c=False, batch=7)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(min_size=0, max_size=3000), cut=st.integers(0, 200), snaplen=st.sampled_from([96, 262144])
)
def test_damaged_files_stop_in_the_same_place(tmp_path: Path, data: bytes, cut: int, snaplen: int) -> None:
    rng = random.Random(len(data))
    frames = [(1_700_000_000 + i, tcp_frame(rng, i * 7 % 90)) for i in range(20)]
    raw = pcap_bytes(frames, snaplen=snaplen)
    raw = raw[: len(raw) - cut] + data  # a cut tail, then garbage records
    path = tmp_path / "d.pcap"
    path.write_bytes(raw)
    assert walk(path, use_c=True) == walk(path, use_c=False)


def test_shards_leave_out_only_other_shards_frames(tmp_path: Path) -> None:
    rng = random.Random(11)
    frames = []
    for i in range(600):
        f = bytearray(tcp_frame(rng, rng.randrange(0, 40)))
        kind = i % 6
        if kind == 1:
            f[20] = 0x20  # a fragment: the decoder's
        elif kind == 2:
            f[46] = 0xF0  # header longer than the frame: truncated, the decoder's
        elif kind == 3:
            f[12:14] = b"\x86\xdd"  # not IPv4
        frames.append((1_700_000_000 + i / 10, bytes(f)))
    path = tmp_path / "s.pcap"
    path.write_bytes(pcap_bytes(frames))
    everything = walk(path, use_c=False)[0]
    for n in (2, 3):
        union: set[int] = set()
        for k in range(n):
            got = walk(path, use_c=True, shard=(k, n))[0]
            numbers = {c[0] for c in got}
            union |= numbers
            for number, _ts, _lt, data, _ol, _i in everything:
                if number in numbers:
                    continue
                # left out: must be a fast-path frame of another shard
                assert data[12:14] == b"\x08\x00" and not (data[20] & 0x3F or data[21]) and data[46] < 0xF0
                src, dst = data[26:30], data[30:34]
                sport, dport = struct.unpack("!HH", data[34:38])
                assert shard_of(src, dst, sport, dport, n) != k
        assert union == {c[0] for c in everything}


def test_engine_sweeps_at_passed_over_frames() -> None:
    """A sweep due at a frame another shard owns happens at that frame's time (`Engine.passed`)."""
    e = Engine(shard=(0, 2))
    sweeps: list[float] = []
    e.sweep = lambda now=None: sweeps.append(e._now)  # type: ignore[method-assign]
    due = e.frames_to_sweep(0)
    e.passed(due - 1, 5.0)
    assert sweeps == []
    e.passed(due, 7.0)
    assert sweeps == [7.0] and e.frames_to_sweep(due) == due
    e.passed(due + 1, None)
    assert sweeps == [7.0]


@pytest.mark.parametrize("big_endian", [False, True])
def test_pcapng_interfaces_and_blocks(tmp_path: Path, big_endian: bool) -> None:
    """Several interfaces and time resolutions (including nanoseconds beyond 2**53 ticks and an offset), other
    blocks between packets, simple packet blocks, a second section: the walker stops where Python must act."""
    rng = random.Random(5)
    ifaces = [
        Interface(),
        Interface(tsresol=9),
        Interface(tsresol=0x8A),
        Interface(tsresol=3, tsoffset=-3600),
    ]
    packets = []
    for i in range(400):
        iface = i % 4
        ts = 1_700_000_000 + i * 0.001
        t: float | Ticks = Ticks(int(ts * 10**9)) if iface == 1 else ts
        packets.append((iface, t, tcp_frame(rng, rng.randrange(0, 200))))
    first = pcapng_bytes(ifaces, packets[:250], big_endian=big_endian)
    mid = block(0x0BAD, b"custom", big_endian=big_endian)
    second = pcapng_bytes([Interface(tsresol=9)], [(0, 1_700_000_100.5, tcp_frame(rng, 10))] * 30)
    path = tmp_path / "n.pcapng"
    path.write_bytes(first + mid + pcapng_bytes(ifaces, packets[250:], big_endian=big_endian) + second)
    want = walk(path, use_c=False)
    assert len(want[0]) == 430 and want[2] == []
    assert walk(path, use_c=True) == want
    assert walk(path, use_c=True, batch=7) == walk(path, use_c=False, batch=7)
    chunked = {"map_file": False, "chunk_size": 4096}
    assert walk(path, use_c=True, **chunked) == walk(path, use_c=False, **chunked)
    for kind in ("spb", "pb"):
        path2 = tmp_path / f"{kind}.pcapng"
        path2.write_bytes(
            pcapng_bytes([Interface()], [(0, p[1], p[2]) for p in packets[:50]], packet_block=kind)
        )
        assert walk(path2, use_c=True) == walk(path2, use_c=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=3000), cut=st.integers(0, 200))
def test_damaged_pcapng_stops_in_the_same_place(tmp_path: Path, data: bytes, cut: int) -> None:
    rng = random.Random(len(data))
    raw = pcapng_bytes(
        [Interface(), Interface(tsresol=9)],
        [(i % 2, 1_700_000_000 + i, tcp_frame(rng, i)) for i in range(20)],
    )
    raw = raw[: len(raw) - cut] + data
    path = tmp_path / "d.pcapng"
    path.write_bytes(raw)
    assert walk(path, use_c=True) == walk(path, use_c=False)


def report(path: Path, monkeypatch: pytest.MonkeyPatch, *, with_c: bool, jobs: int = 1) -> list[str]:
    """The ndjson flow lines of a whole read (the C walker hands fast-path frames to Engine.tcp_at)."""
    import io

    from session_helpers import read_flows

    from tlsinspect.output.jsonout import NdjsonWriter

    with monkeypatch.context() as m:
        if not with_c:
            m.setattr(files, "_fastwalk", None)
        out = io.StringIO()
        writer = NdjsonWriter(out)
        for flow in read_flows(path, jobs=jobs):
            writer.flow(flow)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("path", project_pcaps()[:120], ids=lambda p: p.name)
def test_same_report_as_python(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        want = report(path, monkeypatch, with_c=False)
    except Exception as e:
        pytest.skip(f"{path.name}: {e}")
    assert report(path, monkeypatch, with_c=True) == want
    assert report(path, monkeypatch, with_c=True, jobs=2) == want
