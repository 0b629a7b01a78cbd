"""Shared pytest fixtures and markers for the tlsinspect suite.

Markers: `live` (needs capture rights on lo; CI runs as root), `tshark` (needs the tshark binary),
`corpus` (reads ../shared/corpus). Each skips itself cleanly when its precondition is missing.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
CORPUS = ROOT.parent / "shared" / "corpus"

# Test helper modules live beside the tests that own them; make them importable from anywhere in the suite.
for sub in ("capture", "analysis", "parse", "session"):
    p = str(Path(__file__).parent / sub)
    if p not in sys.path:
        sys.path.insert(0, p)

from live_helpers import echo_port  # noqa: E402, F401 - a fixture the capture and session tests share


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    have_tshark = shutil.which("tshark") is not None
    have_corpus = CORPUS.is_dir()
    for item in items:
        if "live" in item.keywords and not is_root:
            item.add_marker(pytest.mark.skip(reason="live capture needs root (CI runs as root)"))
        if "tshark" in item.keywords and not have_tshark:
            item.add_marker(pytest.mark.skip(reason="tshark is not installed (make sysdeps installs it)"))
        if "corpus" in item.keywords and not have_corpus:
            item.add_marker(pytest.mark.skip(reason=f"{CORPUS} is not present"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is not present")
    return CORPUS


@pytest.fixture(scope="session")
def lab_flows() -> list[Any]:
    """observer-lab with its key log: cleartext and decrypted secrets, TLS 1.2 and 1.3, analysed."""
    from session_helpers import read_bundled

    return read_bundled("observer-lab.pcapng", "observer-lab.keylog").flows


@pytest.fixture(scope="session")
def lab_flows_nokeys() -> list[Any]:
    from session_helpers import read_bundled

    return read_bundled("observer-lab.pcapng").flows


@pytest.fixture(scope="session")
def basic_flows() -> list[Any]:
    from session_helpers import read_bundled

    return read_bundled("basic-tls12-tls13.pcap").flows
