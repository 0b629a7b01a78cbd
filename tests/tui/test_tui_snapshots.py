"""SVG snapshots of the main screen on the bundled captures (pytest-textual-snapshot; textual is pinned in the
`tui` extra). The analysis clock is fixed and the screen is taken after the read ended, so nothing in it
depends on time. Update with `pytest tests/tui --snapshot-update` after a deliberate change, and look at the
SVGs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from tui_helpers import BASIC, BASIC_KEYLOG, LAB, LAB_KEYLOG, ROOT, make_app, wait_for_capture

SIZES = {"80x24": (80, 24), "160x45": (160, 45)}
CAPTURES = {"lab": (LAB, LAB_KEYLOG), "basic": (BASIC, BASIC_KEYLOG)}


@pytest.fixture(autouse=True)
def _relative_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """The header shows the capture's path as given: give it relative to the repository."""
    monkeypatch.chdir(ROOT)


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("capture", CAPTURES)
def test_main_screen(snap_compare: Callable[..., bool], capture: str, size: str) -> None:
    path, keylog = CAPTURES[capture]
    app = make_app(rel(path), keylog=keylog)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=wait_for_capture)


def test_filtered_and_sorted(snap_compare: Callable[..., bool]) -> None:
    """The status line with a filter and a reversed sort; the cursor on the first row."""

    async def before(pilot: Pilot[int]) -> None:
        await wait_for_capture(pilot)
        await pilot.press("s", "S", "home")

    app = make_app(rel(LAB), keylog=LAB_KEYLOG, initial_filter="finding:cert.* or cleartext")
    assert snap_compare(app, terminal_size=(120, 30), run_before=before)
