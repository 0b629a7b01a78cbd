"""The one protocol every source of frames implements, and what a source hands the session.

A source owns the I/O (through `tlsinspect.capture`) and the engine(s) it feeds; the session above it adds
cross-connection findings, counts the summary and turns steps into events. Implemented by `FileSource` (one
capture file, in one process or sharded over `--jobs` workers) and `InterfaceSource` (a live interface,
optionally running a command); the demo lab will be one more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tlsinspect.model import Anomaly, CaptureInfo, Flow
from tlsinspect.parse.keylog import KeyLog

Analyser = Callable[[Flow], Flow]


@dataclass(frozen=True)
class EngineOptions:
    """What every engine of a session is built with."""

    keylog: KeyLog | None = None
    analyse: Analyser | None = None
    """Called on every flow the engine hands out (validation, exposures, findings)."""
    max_flows: int = 50_000
    updates: bool = False
    """Whether to report open flows that changed (`FlowUpdated`); a batch report does not need them."""


class StopSignal:
    """Set by `Session.stop()` from any thread; sources look at it between two steps."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def set(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


@dataclass
class SourceEnd:
    """What a source says about the whole capture once it has ended."""

    info: CaptureInfo
    reason: str
    frames: int = 0
    bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    """The engine's frame buckets (see `Engine.counts`)."""
    capture_anomalies: tuple[Anomaly, ...] = ()
    engine_anomalies: tuple[Anomaly, ...] = ()
    flows_evicted: int = 0
    fragments_pending: int = 0
    capture_errors: tuple[str, ...] = ()
    child_status: int | None = None
    stats: tuple[tuple[str, int], ...] = ()


@dataclass
class Step:
    """One step of a source: flows that changed, flows that finished, and where the source stands. The last step
    carries `end`."""

    updated: Sequence[Flow] = ()
    """Open flows that changed (or finished flows still waiting for their turn), ids final."""
    finished: Sequence[Flow] = ()
    """Finished flows, analysed, in order of first frame when the source is `ordered`."""
    frames: int = 0
    bytes_read: int = 0
    open_flows: int = 0
    dropped: int = 0
    end: SourceEnd | None = None
    born: list[tuple[int, int]] = field(default_factory=list)
    """(id, first frame) of the flows created in this step (how a shard tells its parent, see `shards.py`)."""


class Source(Protocol):
    ordered: bool
    """True: finished flows come in order of first frame (a report); False: as they end (live)."""
    bytes_total: int
    """Size of the input when known, else 0."""

    def open(self, opts: EngineOptions) -> CaptureInfo:
        """Open the input; raises `CaptureError` (one line for the user) when it cannot be read at all."""
        ...

    def steps(self, stop: StopSignal) -> Iterator[Step]:
        """Feed the engine(s) until the input ends or `stop` is set; the last step has `end` set."""
        ...

    def close(self) -> None:
        """Release what `open` took (files, workers, the interface, a child command); safe to call twice."""
        ...
