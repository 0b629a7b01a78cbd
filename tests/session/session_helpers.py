"""Reading a capture through the session layer the way a front end does, for tests."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tlsinspect.model import CaptureInfo, Flow, Summary
from tlsinspect.parse.keylog import KeyLog
from tlsinspect.session import (
    CaptureEnded,
    CaptureStarted,
    Event,
    FileSource,
    FlowFinished,
    FlowUpdated,
    Progress,
    Session,
    SessionOptions,
)
from tlsinspect.session.source import Analyser


@dataclass
class Read:
    """Everything a session gave for one capture."""

    flows: list[Flow] = field(default_factory=list)
    updates: list[Flow] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    batches: int = 0
    info: CaptureInfo | None = None
    ended: CaptureEnded | None = None

    @property
    def summary(self) -> Summary:
        assert self.ended is not None
        return self.ended.summary


def read(
    path: str | os.PathLike[str],
    *,
    keylog: KeyLog | None = None,
    analyse: Analyser | None = None,
    jobs: int = 1,
    updates: bool = False,
    max_flows: int = 50_000,
) -> Read:
    out = Read()
    options = SessionOptions(keylog=keylog, analyse=analyse, updates=updates, max_flows=max_flows)
    with Session(FileSource(path, jobs=jobs), options) as session:
        for batch in session.batches():
            out.batches += 1
            for e in batch:
                out.events.append(e)
                if isinstance(e, FlowFinished):
                    out.flows.append(e.flow)
                elif isinstance(e, FlowUpdated):
                    out.updates.append(e.flow)
                elif isinstance(e, Progress):
                    out.progress.append(e)
                elif isinstance(e, CaptureStarted):
                    out.info = e.info
                elif isinstance(e, CaptureEnded):
                    out.ended = e
    return out


def read_flows(path: str | os.PathLike[str], **kw: object) -> list[Flow]:
    return read(path, **kw).flows  # type: ignore[arg-type]


CAPTURES = Path(__file__).resolve().parents[2] / "captures"
BUNDLED = [
    ("basic-tls12-tls13.pcap", "basic-tls12-tls13.keylog"),
    ("basic-tls12-tls13.pcap", None),
    ("observer-lab.pcapng", "observer-lab.keylog"),
    ("observer-lab.pcapng", None),
    ("observer-lab-dsb.pcapng", None),
]
"""(capture, key log or None) of every bundled capture, as the suite reads them."""


def read_bundled(name: str, keylog: str | None = None, *, jobs: int = 1, updates: bool = False) -> Read:
    """A bundled capture read through a session, analysed against the lab CA (findings included)."""
    from tlsinspect.analysis.pipeline import Analyzer
    from tlsinspect.capture.inputs import load_trust_store, read_keylog

    analyzer = Analyzer(
        load_trust_store([CAPTURES / "observer-lab-ca.pem"], use_certifi=False), now=time.time()
    )
    kl = read_keylog(CAPTURES / keylog) if keylog else None
    return read(CAPTURES / name, keylog=kl, analyse=analyzer, jobs=jobs, updates=updates)


def tcp_frame(
    src: int, dst: int, sport: int, dport: int, seq: int, flags: int, payload: bytes = b""
) -> bytes:
    """An Ethernet/IPv4/TCP frame (addresses as ints, checksums zero)."""
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        40 + len(payload),
        0,
        0,
        64,
        6,
        0,
        src.to_bytes(4, "big"),
        dst.to_bytes(4, "big"),
    )
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 0x50, flags, 1000, 0, 0)
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload


def many_flows(n: int) -> Iterator[tuple[float, bytes]]:
    """`n` short cleartext HTTP connections, 1 ms apart, each a request then a reset: 2n frames."""
    t = 1_700_000_000.0
    server = 0x0A000001
    for i in range(n):
        client = 0x0A010000 + (i >> 14)
        sport = 1024 + (i & 0x3FFF)
        req = b"GET /" + str(i).encode() + b" HTTP/1.1\r\nHost: shop.example\r\n\r\n"
        yield t, tcp_frame(client, server, sport, 80, 1000, 0x18, req)
        yield t + 0.0005, tcp_frame(client, server, sport, 80, 1000 + len(req), 0x04)
        t += 0.001
