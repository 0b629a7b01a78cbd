"""Fixtures of the TUI tests: the 100k-flow capture, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_pcap import write_pcap  # type: ignore[import-not-found]
from tui_helpers import BIG_FLOWS, many_flows


@pytest.fixture(scope="session")
def big_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100k short cleartext HTTP connections (200k frames, about 20 MB)."""
    return Path(write_pcap(tmp_path_factory.mktemp("tui-big") / "many.pcap", many_flows(BIG_FLOWS)))
