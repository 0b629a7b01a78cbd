"""The session layer: one headless core that every front end drives (the text and JSON reports, `live`, the TUI,
the demo lab).

    source  (FileSource | InterfaceSource | ...)   owns the I/O (through tlsinspect.capture) and the engine(s)
      |  steps: changed flows, finished flows, counters
    Session                                       cross-connection findings, the summary, stop()
      |  batches of immutable events
    front end                                     only consumes

See `session.py` for the API and `events.py` for the events.
"""

from tlsinspect.session.events import (
    COMMAND_EXITED,
    COUNT,
    DURATION,
    END_OF_FILE,
    STOPPED,
    CaptureEnded,
    CaptureStarted,
    Event,
    FlowFinished,
    FlowUpdated,
    Progress,
)
from tlsinspect.session.file_source import FileSource
from tlsinspect.session.session import Session, SessionOptions, finished_flows
from tlsinspect.session.source import EngineOptions, Source, SourceEnd, Step, StopSignal

__all__ = [
    "COMMAND_EXITED",
    "COUNT",
    "DURATION",
    "END_OF_FILE",
    "STOPPED",
    "CaptureEnded",
    "CaptureStarted",
    "EngineOptions",
    "Event",
    "FileSource",
    "FlowFinished",
    "FlowUpdated",
    "Progress",
    "Session",
    "SessionOptions",
    "Source",
    "SourceEnd",
    "Step",
    "StopSignal",
    "finished_flows",
]
