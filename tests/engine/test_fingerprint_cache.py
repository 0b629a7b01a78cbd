"""The JA3/JA4 values a flow carries are computed once per distinct client stack (tls_conn._fingerprinted);
every one must equal a fresh computation from the flow's own ClientHello."""

from __future__ import annotations

from pathlib import Path

import pytest
from session_helpers import read_flows

from tlsinspect.engine import tls_conn
from tlsinspect.parse.fingerprints import ja3, ja4

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"


def captures() -> list[Path]:
    found = sorted((ROOT / "captures").glob("*.pcap*"))
    for sub in ("foxio-ja4/pcap", "zeek/Traces/tls", "zeek/Traces/quic", "ndpi/pcap"):
        if (CORPUS / sub).is_dir():
            found += sorted((CORPUS / sub).glob("*.pcap*"))[:60]
    return found


def test_cached_fingerprints_equal_fresh_ones() -> None:
    tls_conn._FINGERPRINTS.clear()
    checked = 0
    for path in captures():
        try:
            flows = read_flows(path)
        except Exception:
            continue
        for f in flows:
            if f.tls is None:
                continue
            transport = "q" if f.app_protocol == "quic" else "t"
            for ch in (f.tls.client_hello, f.tls.client_hello_after_hrr):
                if ch is None or ch.ja4 is None or f.transport == "udp" and f.app_protocol != "quic":
                    continue
                assert (ch.ja3_full, ch.ja3) == ja3(ch), path.name
                assert (ch.ja4, ch.ja4_r) == ja4(ch, transport), path.name
                checked += 1
    if checked < 5:
        pytest.skip("too few ClientHellos")
    assert len(tls_conn._FINGERPRINTS) < checked  # repeated client stacks were served from the cache
