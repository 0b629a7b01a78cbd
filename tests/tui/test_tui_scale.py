"""100k flows: the first rows are in the list while the read goes on, and the list scrolls to the end. Nothing
timed and no memory asserted (benchmarks/bench_tui.py measures both)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

from tui_helpers import BIG_FLOWS, flow_list, list_lines, make_app, until, wait_for_capture

from tlsinspect.model import CaptureInfo
from tlsinspect.session import FileSource, Step, StopSignal
from tlsinspect.session.source import EngineOptions
from tlsinspect.tui.app import TlsInspectApp


class GatedSource:
    """A file source that, after its first step with flows, waits until the test lets it go on."""

    ordered = True

    def __init__(self, path: Path) -> None:
        self.inner = FileSource(str(path))
        self.bytes_total = self.inner.bytes_total
        self.gate = threading.Event()
        self.held = threading.Event()

    def open(self, opts: EngineOptions) -> CaptureInfo:
        return self.inner.open(opts)

    def steps(self, stop: StopSignal) -> Iterator[Step]:
        for step in self.inner.steps(stop):
            yield step
            if not self.held.is_set() and (step.finished or step.updated) and step.end is None:
                self.held.set()
                while not self.gate.wait(0.05) and not stop.is_set():
                    pass

    def close(self) -> None:
        self.gate.set()
        self.inner.close()


def test_first_rows_before_the_end_and_scrolling_100k(big_capture: Path) -> None:
    src = GatedSource(big_capture)

    async def go() -> None:
        app = make_app(source=lambda: src)
        try:
            await run(app)
        finally:
            src.gate.set()

    async def run(app: TlsInspectApp) -> None:
        async with app.run_test(size=(120, 30)) as pilot:
            fl = flow_list(app)
            await until(pilot, lambda: len(app.store) > 0, rounds=3000)
            # The source is held after its first batch: whatever is shown came before the end of the read.
            assert src.held.is_set() and app.ended is None
            await pilot.pause()
            shown = list_lines(app)
            line = shown[fl.cursor - fl.scroll_offset.y]
            assert line.split()[0] == str(app.store.view[-1]) and "shop.example" in line
            assert "reading" in str(app.query_one("#status").content)  # type: ignore[attr-defined]
            src.gate.set()
            await wait_for_capture(pilot, rounds=5000)
            assert len(app.store) == BIG_FLOWS
            assert app.store.view == list(range(1, BIG_FLOWS + 1))
            assert fl.cursor == BIG_FLOWS - 1, "a file read is in tail mode"

            await pilot.press("home")
            assert fl.cursor == 0 and fl.scroll_offset.y == 0
            h = fl.scrollable_content_region.height
            await pilot.press(*["pagedown"] * 10)
            assert fl.cursor == 10 * (h - 1)
            await pilot.pause()
            top = fl.scroll_offset.y
            assert top <= fl.cursor < top + h
            assert list_lines(app)[fl.cursor - top].split()[0] == str(fl.cursor + 1)
            await pilot.press("end")
            await pilot.pause()
            assert fl.cursor == BIG_FLOWS - 1 and fl.flow_id == BIG_FLOWS
            assert fl.scroll_offset.y == BIG_FLOWS - h
            assert list_lines(app)[h - 1].split()[0] == str(BIG_FLOWS)
            await pilot.press("s", "S")  # time, newest first: one rebuild of 100k
            assert app.store.view[0] == BIG_FLOWS
            await pilot.press("slash", *"port:1024", "enter")
            await pilot.pause()
            assert len(app.store.view) == 7  # one client port per 16384 connections
            assert str(app.query_one("#status").content).startswith(f"7 of {BIG_FLOWS} flows")  # type: ignore[attr-defined]

    asyncio.run(go())
