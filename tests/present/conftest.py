"""Flows of the bundled captures for the presentation-layer tests (read once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlsinspect.analysis.pipeline import Analyzer
from tlsinspect.model import Flow
from tlsinspect.parse.keylog import KeyLog
from tlsinspect.runner import ReadOptions, ReadResult, read_capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def read_flows(name: str, keylog: str | None = None) -> list[Flow]:
    """Every flow of a bundled capture, analysed against the lab CA (findings included)."""
    analyzer = Analyzer.create(ca_files=[CAPTURES / "observer-lab-ca.pem"], use_default_roots=False)
    kl = KeyLog.from_file(CAPTURES / keylog) if keylog else None
    return list(read_capture(CAPTURES / name, ReadOptions(keylog=kl, analyse=analyzer), ReadResult()))


@pytest.fixture(scope="session")
def lab_flows() -> list[Flow]:
    """observer-lab with its key log: cleartext and decrypted secrets, TLS 1.2 and 1.3."""
    return read_flows("observer-lab.pcapng", "observer-lab.keylog")


@pytest.fixture(scope="session")
def lab_flows_nokeys() -> list[Flow]:
    return read_flows("observer-lab.pcapng")


@pytest.fixture(scope="session")
def basic_flows() -> list[Flow]:
    return read_flows("basic-tls12-tls13.pcap")
