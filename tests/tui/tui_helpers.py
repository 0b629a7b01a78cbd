"""Building the TUI on a capture for tests, waiting for its capture worker, feeding it by hand, reading its screen.

Import as ``from tui_helpers import ...`` from the tests in this directory (pytest puts it on the path).
"""

from __future__ import annotations

import asyncio
import functools
import queue
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from session_helpers import many_flows, tcp_frame  # noqa: F401 - used by the TUI tests through here
from textual.pilot import Pilot

from tlsinspect.analysis.pipeline import Analyzer
from tlsinspect.capture.inputs import load_trust_store, read_keylog
from tlsinspect.model import CaptureInfo, Flow
from tlsinspect.session import (
    FileSource,
    Session,
    SessionOptions,
    Source,
    SourceEnd,
    Step,
    StopSignal,
    finished_flows,
)
from tlsinspect.session.source import EngineOptions
from tlsinspect.tui.app import TlsInspectApp
from tlsinspect.tui.flow_list import FlowList

ROOT = Path(__file__).resolve().parent.parent.parent
CAPTURES = ROOT / "captures"
LAB = CAPTURES / "observer-lab.pcapng"
LAB_KEYLOG = CAPTURES / "observer-lab.keylog"
LAB_CA = CAPTURES / "observer-lab-ca.pem"
BASIC = CAPTURES / "basic-tls12-tls13.pcap"
BASIC_KEYLOG = CAPTURES / "basic-tls12-tls13.keylog"

BIG_FLOWS = 100_000
"""Flows in the scale test's capture (`big_capture` in conftest.py)."""

NOW = 1_795_524_300.0
"""The analysis clock: a minute after the bundled captures were made (2026-11-24), so findings never drift."""


def analyzer() -> Analyzer:
    """The lab CA as the only root, and the fixed clock."""
    return Analyzer(load_trust_store([LAB_CA], use_certifi=False), now=NOW)


def options(keylog: Path | None = None, *, updates: bool = True) -> SessionOptions:
    return SessionOptions(
        keylog=read_keylog(keylog) if keylog is not None else None, analyse=analyzer(), updates=updates
    )


def make_app(
    capture: Path | str | None = None,
    *,
    keylog: Path | None = None,
    source: Callable[[], Source] | None = None,
    live: bool = False,
    initial_filter: str = "",
    jobs: int = 1,
) -> TlsInspectApp:
    """The App on a capture file (as `tlsinspect read` builds it) or on any `source` (a factory, as the session
    is made in the worker)."""
    assert (capture is None) != (source is None), "a capture or a source"
    opts = options(keylog)

    def make_session() -> Session:
        src = source() if source is not None else FileSource(str(capture), jobs=jobs)
        return Session(src, opts)

    name = str(capture) if capture is not None else "test"
    return TlsInspectApp(make_session, source_name=name, live=live, initial_filter=initial_filter)


async def wait_for_capture(pilot: Pilot[int], rounds: int = 200) -> None:
    """Until the capture worker has ended and the App has taken every batch it posted."""
    app = pilot.app
    assert isinstance(app, TlsInspectApp)
    await app.workers.wait_for_complete()
    await pilot.pause()
    for _ in range(rounds):
        if app.ended is not None or app.error is not None:
            break
        await pilot.pause()
    assert app.ended is not None or app.error is not None, "the capture worker ended without CaptureEnded"
    await pilot.pause()


async def until(pilot: Pilot[int], cond: Callable[[], bool], rounds: int = 500) -> None:
    """Pause until `cond()` holds (bounded by a number of rounds, never by a clock)."""
    for _ in range(rounds):
        if cond():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition not reached")


def flow_list(app: TlsInspectApp) -> FlowList:
    return app.query_one(FlowList)


def list_lines(app: TlsInspectApp) -> list[str]:
    """The text of the flow list's visible lines (what `render_line` draws)."""
    fl = flow_list(app)
    return [fl.render_line(y).text for y in range(fl.size.height)]


def screen_text(app: TlsInspectApp) -> str:
    """Every line of the screen as drawn (the compositor's strips), as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def lab_flows() -> list[Flow]:
    """The lab capture's final flows, analysed (to feed a `QueueSource` by hand)."""
    with Session(FileSource(str(LAB)), options(LAB_KEYLOG, updates=False)) as s:
        return list(finished_flows(s))


class QueueSource:
    """A live-like source the test drives: each `put(flows)` is one step of finished flows; `end()` ends it."""

    ordered = False
    bytes_total = 0

    def __init__(self) -> None:
        self.q: queue.Queue[Sequence[Flow] | None] = queue.Queue()
        self.frames = 0

    def open(self, opts: EngineOptions) -> CaptureInfo:
        return CaptureInfo(source="queue", link_types=(1,), format="test")

    def put(self, flows: Iterable[Flow]) -> None:
        self.q.put(list(flows))

    def end(self) -> None:
        self.q.put(None)

    def steps(self, stop: StopSignal) -> Iterator[Step]:
        while not stop.is_set():
            try:
                item = self.q.get(timeout=0.02)
            except queue.Empty:
                continue
            if item is None:
                break
            self.frames += len(item)
            yield Step(finished=item, frames=self.frames)
        info = CaptureInfo(source="queue", link_types=(1,), format="test")
        yield Step(frames=self.frames, end=SourceEnd(info=info, reason=stop.reason or "end of file"))

    def close(self) -> None:
        pass


# -- frames ---------------------------------------------------------------------------------------------------


def sync(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test function to its end (the suite has no pytest-asyncio)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run
