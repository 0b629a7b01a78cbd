"""The session: drives one source through the engine and the analysis, and yields batches of events.

    with Session(FileSource("capture.pcap"), SessionOptions(analyse=Analyzer(...))) as session:
        info = session.open()                  # CaptureError: one line for the user
        for batch in session.batches():        # tuple of events (see events.py)
            for event in batch:
                ...

The same API for a file and an interface; usable from a worker thread (a TUI runs `batches()` in a thread and
posts each batch to the UI); `stop()` is safe from any thread and ends the capture with a `CaptureEnded` event.
No callbacks into a front end and no process-wide side effects: collector tuning, signal handlers and output
belong to the entry point.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

from tlsinspect.model import CaptureInfo, Flow
from tlsinspect.parse.keylog import KeyLog
from tlsinspect.session.cross import CrossWindow, RecentCrossFlow
from tlsinspect.session.events import (
    STOPPED,
    CaptureEnded,
    CaptureStarted,
    Event,
    FlowFinished,
    FlowUpdated,
    Progress,
)
from tlsinspect.session.source import Analyser, EngineOptions, Source, SourceEnd, StopSignal
from tlsinspect.session.tally import FlowTally


@dataclass(frozen=True)
class SessionOptions:
    keylog: KeyLog | None = None
    """Secrets known up front (a key log file read by the entry point); sources may add more (pcapng DSBs, a
    followed key log)."""
    analyse: Analyser | None = None
    """Validation, exposures and findings for each flow (`tlsinspect.analysis.pipeline.Analyzer`)."""
    max_flows: int = 50_000
    updates: bool = True
    """Report open flows as they change (`FlowUpdated`); a batch report turns this off to save the snapshots."""
    show_secrets: bool = False
    """Whether cross-connection findings may quote secrets unmasked in their evidence."""


class Session:
    def __init__(self, source: Source, options: SessionOptions | None = None) -> None:
        self.source = source
        self.options = options or SessionOptions()
        self._stop = StopSignal()
        self._info: CaptureInfo | None = None
        self._closed = False

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> CaptureInfo:
        """Open the source. Raises `CaptureError` when it cannot be read at all."""
        if self._info is None:
            o = self.options
            self._info = self.source.open(
                EngineOptions(keylog=o.keylog, analyse=o.analyse, max_flows=o.max_flows, updates=o.updates)
            )
        return self._info

    def stop(self, reason: str = STOPPED) -> None:
        """End the capture at the next step (from any thread); the last batch then holds `CaptureEnded`."""
        self._stop.set(reason)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.source.close()

    def events(self) -> Iterator[Event]:
        """The events of `batches()` one by one."""
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[tuple[Event, ...]]:
        """Batches of events: `CaptureStarted` first, `CaptureEnded` last. Raises `CaptureError` if the source
        fails on the way (a worker of a sharded read that died)."""
        t0 = time.perf_counter()
        info = self.open()
        yield (CaptureStarted(info),)
        source = self.source
        cross = (
            CrossWindow(self.options.show_secrets)
            if source.ordered
            else RecentCrossFlow(self.options.show_secrets)
        )
        tally = FlowTally()
        last_progress: Progress | None = None
        for step in source.steps(self._stop):
            batch: list[Event] = [FlowUpdated(f) for f in step.updated]
            finished = list(cross.push(step.finished, final=step.end is not None))
            for f in finished:
                tally.add(f)
                batch.append(FlowFinished(f))
            progress = Progress(
                frames=step.frames,
                bytes_read=step.bytes_read,
                bytes_total=source.bytes_total,
                open_flows=step.open_flows,
                finished_flows=tally.flows,
                dropped=step.dropped,
            )
            if progress != last_progress and _monotone(progress, last_progress):
                batch.append(progress)
                last_progress = progress
            if step.end is not None:
                batch.append(_ended(step.end, tally, time.perf_counter() - t0))
                yield tuple(batch)
                return
            if batch:
                yield tuple(batch)


def _monotone(p: Progress, last: Progress | None) -> bool:
    return last is None or (p.frames >= last.frames and p.bytes_read >= last.bytes_read)


def _ended(end: SourceEnd, tally: FlowTally, elapsed: float) -> CaptureEnded:
    summary = tally.summary(
        engine_counts=end.counts,
        frames=end.frames,
        bytes=end.bytes,
        engine_anomalies=len(end.engine_anomalies) + len(end.capture_anomalies),
        elapsed_s=elapsed,
        flows_evicted=end.flows_evicted,
        capture_anomalies=end.capture_anomalies + end.engine_anomalies,
        capture_errors=end.capture_errors,
    )
    return CaptureEnded(
        summary=summary, reason=end.reason, info=end.info, child_status=end.child_status, stats=end.stats
    )


def finished_flows(session: Session) -> Iterator[Flow]:
    """Only the final flows of a session, in its order (a report that needs nothing else)."""
    for event in session.events():
        if type(event) is FlowFinished:
            yield event.flow
