"""A file read by N shards (`read --jobs N`) gives the same output as one process: flows, ids, order, findings and summary.

Compared on the project captures, on corpus captures (skipped when ../shared/corpus is absent), on one capture
merging the Ethernet frames of many corpus files (many flows in both shards, fragments, QUIC, plain HTTP), and
through the CLI. Nothing here is timed.
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_pcap import write_pcap  # type: ignore[import-not-found]
from session_helpers import read

from tlsinspect.capture import files
from tlsinspect.capture.files import CaptureFile
from tlsinspect.decode.fast import shard_of
from tlsinspect.output.jsonout import NdjsonWriter

ROOT = Path(__file__).resolve().parent.parent.parent
CAPTURES = ROOT / "captures"
CORPUS = ROOT.parent / "shared" / "corpus"
PROJECT = sorted(p.name for p in CAPTURES.glob("*.pcap*"))
CORPUS_FILES = [
    "foxio-ja4/pcap/http2-with-cookies.pcapng",
    "foxio-ja4/pcap/tls3.pcapng",
    "foxio-ja4/pcap/http1.pcapng",
    "foxio-ja4/pcap/tls-handshake.pcapng",
    "zeek/Traces/quic/chromium-115.0.5790.110-google-de-fragmented.pcap",
    "zeek/Traces/quic/firefox-102.13.0esr-blog-cloudflare-com.pcap",
    "zeek/Traces/http/methods.pcap",
    "zeek/Traces/tls/ssl.v3.pcap",
    "zeek/Traces/tls/tls-1.2-stream-keylog.pcap",
    "ndpi/pcap/quic_interop_V.pcapng",
    "mercury/test/afl_data/corner-cases.pcap",
]


def ndjson(path: str | os.PathLike[str], jobs: int) -> list[str]:
    """The ndjson lines of a read (flows and summary), without the one timing field."""
    buf = io.StringIO()
    writer = NdjsonWriter(buf)
    result = read(path, jobs=jobs)
    for flow in result.flows:
        writer.flow(flow)
    writer.summary(result.summary)
    lines = buf.getvalue().splitlines()
    summary = json.loads(lines[-1])
    summary.pop("elapsed_s", None)
    return [*lines[:-1], json.dumps(summary, sort_keys=True)]


def random_tcp_frame(rng: random.Random) -> tuple[bytes, bytes, int, int, bytes]:
    """An Ethernet/IPv4/TCP frame (an ACK, no payload) between random addresses and ports."""
    src, dst = bytes(rng.randrange(256) for _ in range(4)), bytes(rng.randrange(256) for _ in range(4))
    sport, dport = rng.randrange(65536), rng.randrange(65536)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, src, dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x10, 1000, 0, 0)
    return src, dst, sport, dport, b"\x00" * 12 + b"\x08\x00" + ip + tcp


def assert_same(path: str | os.PathLike[str]) -> list[str]:
    one = ndjson(path, 1)
    for jobs in (2, 3):
        assert ndjson(path, jobs) == one, f"--jobs {jobs} differs from --jobs 1 on {path}"
    return one


def test_shard_of_is_symmetric_and_spread() -> None:
    seen = set()
    for i in range(200):
        a, b = bytes((10, 0, i, 1)), bytes((10, 0, i, 2))
        for n in (2, 3, 4):
            assert shard_of(a, b, 40000 + i, 443, n) == shard_of(b, a, 443, 40000 + i, n)
        seen.add(shard_of(a, b, 40000 + i, 443, 2))
    assert seen == {0, 1}


@pytest.mark.parametrize("name", PROJECT)
def test_project_captures(name: str) -> None:
    assert_same(CAPTURES / name)


@pytest.mark.parametrize("rel", CORPUS_FILES)
def test_corpus_captures(rel: str) -> None:
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"corpus capture {rel} not present")
    assert_same(path)


@pytest.mark.parametrize("with_c", [True, False], ids=["c-walker", "python-walker"])
def test_merged_corpus_many_flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_c: bool) -> None:
    """Ethernet frames of every corpus capture, one after another in one file: many flows in every shard. With
    the C walker, each worker's reader passes over the other shards' frames itself; without, the engine does."""
    if not with_c:
        monkeypatch.setattr(files, "_fastwalk", None)
    if not CORPUS.is_dir():
        pytest.skip("corpus not present")
    frames: list[tuple[float, bytes]] = []
    t = 1_600_000_000.0
    for path in sorted(CORPUS.rglob("*.pcap*"))[:400]:
        try:
            with CaptureFile(path) as cap:
                for _n, _ts, link, data, _o, _i in cap.raw_frames():
                    if link == 1 and len(frames) < 60_000:
                        t += 0.001
                        frames.append((t, data))
        except Exception:
            continue
    if len(frames) < 1000:
        pytest.skip("too few Ethernet frames in the corpus")
    out = write_pcap(tmp_path / "merged.pcap", frames)
    lines = assert_same(out)
    assert len(lines) > 100


def test_cli_jobs_flag(tmp_path: Path) -> None:
    cap = CAPTURES / "observer-lab.pcapng"
    if not cap.exists():
        pytest.skip("project capture missing")
    exe = Path(sys.executable).with_name("tlsinspect")
    outs = []
    for jobs in ("1", "2"):
        p = subprocess.run(
            [str(exe), "read", str(cap), "--format", "ndjson", "--no-progress", "--jobs", jobs],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert p.returncode in (0, 3), p.stderr
        lines = p.stdout.splitlines()
        summary = json.loads(lines[-1])
        summary.pop("elapsed_s", None)
        outs.append([*lines[:-1], json.dumps(summary)])
    assert outs[0] == outs[1]
    bad = subprocess.run(
        [str(exe), "read", str(cap), "--jobs", "0"], capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode != 0 and "--jobs" in bad.stderr


def test_fast_path_shard_matches_shard_of() -> None:
    """The engine's fast path picks a frame's shard from raw bytes; it must agree with shard_of for every flow."""
    from tlsinspect.engine.engine import Engine

    rng = random.Random(5)
    for _ in range(500):
        src, dst, sport, dport, frame = random_tcp_frame(rng)
        for n in (2, 3):
            want = shard_of(src, dst, sport, dport, n)
            for k in range(n):
                eng = Engine(shard=(k, n))
                eng.process(1, 1.0, 1, frame)
                assert (eng.counts["tcp"] == 1) == (k == want)


def test_shard_chosen_in_place() -> None:
    """A sharded engine's `process_at` reads a frame where it lies in a larger buffer (a mapped file), picks
    its shard as shard_of does (twice: the second time from its cache), and every frame is counted by exactly
    one shard: fast-path frames, fragments, truncated frames and frames of other link types alike."""
    from tlsinspect.engine.engine import Engine

    rng = random.Random(7)
    frames = []
    for _ in range(300):
        src, dst, sport, dport, frame = random_tcp_frame(rng)
        frames.append((1, frame, shard_of(src, dst, sport, dport, 3)))
    frag = bytearray(frames[0][1])
    frag[20] = 0x20  # more fragments: not the fast path
    frames.append((1, bytes(frag), None))
    frames.append((113, frames[1][1], None))  # another link type: not decodable as SLL
    short = bytearray(frames[2][1])
    short[46] = 0xF0  # a 60-byte TCP header in a 54-byte frame: truncated, the decoder's to judge
    frames.append((1, bytes(short), None))
    frames += frames[:20]  # the same 4-tuples again: shards from the cache
    for link, frame, want in frames:
        pad = rng.randrange(1, 40)
        buf = b"\xff" * pad + frame + b"\xee" * 9
        counted = []
        for k in range(3):
            eng = Engine(shard=(k, 3))
            eng.process_at(1, 1.0, link, buf, pad, pad + len(frame))
            counted.append(eng.counts["frames"])
        assert sum(counted) == 1, (link, counted)
        if want is not None:
            assert counted[want] == 1


def test_shard_of_balances_structured_addresses() -> None:
    """Flows between 10.a.b.1 and 10.a.b.2 on the same ports (what replicated traffic looks like) still spread
    evenly: the shard must not depend on the ports alone."""
    for ports in ((40000, 443), (51234, 80), (33333, 8443)):
        counts = [0, 0]
        for k in range(2000):
            net = bytes((10, (k >> 8) & 0xFF, k & 0xFF))
            counts[shard_of(net + b"\x01", net + b"\x02", *ports, 2)] += 1
        assert min(counts) > 900, counts
    counts3 = [0, 0, 0]
    for k in range(3000):
        counts3[shard_of(bytes((192, 168, k >> 8, k & 0xFF)), b"\x0a\x00\x00\x01", 50000, 443, 3)] += 1
    assert min(counts3) > 900, counts3


def test_a_worker_that_dies_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-read (a crash in native code, the OOM killer) ends the read with one CaptureError
    line (the CLI prints it, exit 2), not a traceback and not a hang."""
    from tlsinspect.errors import CaptureError
    from tlsinspect.session import shards

    real = shards.engine_steps

    def dying(
        cap: object, opts: object, run: object, *, shard: tuple[int, int] = (0, 1), **kw: object
    ) -> object:
        if shard[0] == 1:
            os._exit(9)
        return real(cap, opts, run, shard=shard, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(shards, "engine_steps", dying)
    with pytest.raises(CaptureError, match="--jobs"):
        read(CAPTURES / "observer-lab.pcapng", jobs=2)
