"""Flows of the bundled captures for the presentation-layer tests (read once per session)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from session_helpers import read_flows as session_flows

from tlsinspect.analysis.pipeline import Analyzer
from tlsinspect.capture.inputs import load_trust_store, read_keylog
from tlsinspect.model import Flow

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def read_flows(name: str, keylog: str | None = None) -> list[Flow]:
    """Every flow of a bundled capture, analysed against the lab CA (findings included)."""
    analyzer = Analyzer(
        load_trust_store([CAPTURES / "observer-lab-ca.pem"], use_certifi=False), now=time.time()
    )
    kl = read_keylog(CAPTURES / keylog) if keylog else None
    return session_flows(CAPTURES / name, keylog=kl, analyse=analyzer)


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
