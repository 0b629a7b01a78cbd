"""What a session yields: immutable events, in batches.

A front end reads `Session.batches()` (or `Session.events()`) and only consumes: it never touches the engine.

- `CaptureStarted`: the source is open (always first).
- `FlowUpdated`: an open flow changed since the last batch (at most one per flow per batch), or a flow that has
  finished but waits for its turn in an ordered report; analysed, with the id it keeps to the end.
- `FlowFinished`: the final flow, analysed, with its cross-connection findings (exactly once per flow).
- `Progress`: counters at the end of a batch (monotone; the latest one wins).
- `CaptureEnded`: the summary and why the capture ended (always last).

For one flow id, every `FlowUpdated` comes before its `FlowFinished`; a short flow may have no update at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tlsinspect.model import CaptureInfo, Flow, Summary

END_OF_FILE = "end of file"
STOPPED = "stopped"
"""`Session.stop()` without a reason."""
DURATION = "duration"
COUNT = "count"
COMMAND_EXITED = "command exited"


@dataclass(frozen=True, slots=True)
class CaptureStarted:
    info: CaptureInfo


@dataclass(frozen=True, slots=True)
class FlowUpdated:
    flow: Flow


@dataclass(frozen=True, slots=True)
class FlowFinished:
    flow: Flow


@dataclass(frozen=True, slots=True)
class Progress:
    frames: int
    """Frames read so far (with several workers: the frame every worker has passed)."""
    bytes_read: int
    bytes_total: int
    """The capture file's size; 0 when unknown (a live interface, a pipe)."""
    open_flows: int
    finished_flows: int
    dropped: int = 0
    """Frames lost before analysis (a live capture's full queue or the kernel's drops)."""


@dataclass(frozen=True, slots=True)
class CaptureEnded:
    summary: Summary
    reason: str
    """END_OF_FILE, STOPPED (or the reason given to `stop`), DURATION, COUNT, COMMAND_EXITED, or the capture's
    own error."""
    info: CaptureInfo
    """The source as it stood at the end (a pcapng may declare more link types on the way)."""
    child_status: int | None = None
    """The exit status of the command a live capture ran, if any."""
    stats: tuple[tuple[str, int], ...] = field(default=())
    """Source-specific counters (a live capture's captured / kernel_dropped / queue_dropped frames)."""

    def stat(self, name: str, default: int = 0) -> int:
        return dict(self.stats).get(name, default)


Event = CaptureStarted | FlowUpdated | FlowFinished | Progress | CaptureEnded
