"""The reports (`--format text|json|ndjson`) as one more consumer of a session: the capture line first, each
finished flow that passes the filter, the summary last. `read` and `live` both write through `write_report`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tlsinspect import __version__
from tlsinspect.model import SEVERITIES, Flow
from tlsinspect.session import CaptureEnded, CaptureStarted, FlowFinished, Progress, Session


@dataclass
class ReportResult:
    worst: int = -1
    """Index in SEVERITIES of the worst finding among the flows written, -1 for none."""
    ended: CaptureEnded | None = None


def write_report(
    session: Session,
    writer: Any,
    *,
    flow_filter: Callable[[Flow], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    flush: Callable[[], None] | None = None,
) -> ReportResult:
    """Drive `session` to its end and write its report with `writer`. Raises CaptureError (one line) if the
    capture cannot be read; then nothing has been written."""
    result = ReportResult()
    severity = {s: i for i, s in enumerate(SEVERITIES)}
    for batch in session.batches():
        for event in batch:
            if isinstance(event, FlowFinished):
                f = event.flow
                if flow_filter is None or flow_filter(f):
                    writer.flow(f)
                    for x in f.findings:
                        result.worst = max(result.worst, severity[x.severity])
            elif isinstance(event, Progress):
                if progress is not None:
                    progress(event.bytes_read, event.bytes_total)
            elif isinstance(event, CaptureStarted):
                writer.capture(event.info, __version__)
            elif isinstance(event, CaptureEnded):
                result.ended = event
        if flush is not None:
            flush()
    assert result.ended is not None
    writer.summary(result.ended.summary)
    return result
