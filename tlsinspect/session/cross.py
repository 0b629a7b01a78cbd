"""Findings that span connections (the same host over http and https, a cleartext hop behind a TLS proxy, an
http:// resource of an https page), added to finished flows before they are released.

Two policies, one per kind of source:
- `CrossWindow` (capture files, flows in order of first frame): finished flows wait in a bounded window so
  that each is judged against its neighbours on both sides; the older half is released when the window is full.
- `RecentCrossFlow` (live capture, flows released when they end): each flow is judged against the flows that
  ended before it (a bounded history), since waiting for later ones would delay it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from tlsinspect.analysis.observer import cross_flow_findings
from tlsinspect.model import SEVERITIES, Finding, Flow, evolve

CROSS_WINDOW = 1024
"""Finished flows held back so findings that span connections can see their neighbours."""
CROSS_HISTORY = 1024
"""Flows already released that still serve as context for the ones held back."""
RECENT_HISTORY = 256
"""Flows a live capture keeps as context."""


class CrossWindow:
    """Holds finished flows in a bounded window and adds the cross-connection findings before release."""

    def __init__(self, show_secrets: bool) -> None:
        self.window: list[Flow] = []
        self.history: deque[Flow] = deque(maxlen=CROSS_HISTORY)
        self.show_secrets = show_secrets

    def push(self, flows: Iterable[Flow], *, final: bool = False) -> Iterator[Flow]:
        # One flow at a time, so what is released with what depends on the order of flows only, not on how
        # they were batched (one engine or several shards give the same findings).
        for f in flows:
            self.window.append(f)
            if len(self.window) >= CROSS_WINDOW:
                yield from self._release(CROSS_WINDOW // 2)
        if final:
            yield from self._release(len(self.window))

    def _release(self, n: int) -> Iterator[Flow]:
        if not self.window:
            return
        out, rest = self.window[:n], self.window[n:]
        extra = cross_flow_findings(
            [*self.history, *self.window], show_secrets=self.show_secrets, targets=out
        )
        self.window = rest
        for f in out:
            more = extra.get(f.id)
            if more:
                f = evolve(f, findings=by_severity(f.findings + more))
            self.history.append(f)
            yield f


class RecentCrossFlow:
    """Cross-connection findings for flows released as soon as they end. A relation whose other side ends later
    (an HTTPS page still open when its http:// resource was fetched) is therefore found only when the capture
    is read again from its file."""

    def __init__(self, show_secrets: bool, history: int = RECENT_HISTORY) -> None:
        self.history: deque[Flow] = deque(maxlen=history)
        self.show_secrets = show_secrets

    def push(self, flows: Iterable[Flow], *, final: bool = False) -> Iterator[Flow]:
        for f in flows:
            yield self.add(f)

    def add(self, f: Flow) -> Flow:
        extra = cross_flow_findings([*self.history, f], show_secrets=self.show_secrets, targets=(f,)).get(
            f.id
        )
        if extra:
            f = evolve(f, findings=by_severity(f.findings + extra))
        self.history.append(f)
        return f


def by_severity(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return tuple(sorted(findings, key=lambda x: (-order.get(x.severity, 0), x.rule)))
