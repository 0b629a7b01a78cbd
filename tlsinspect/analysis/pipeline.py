"""What happens to a flow once the engine has finished it: validation, exposures, findings.

`Analyzer` is the callable the engine is given (`Engine(analyse=...)`): a frozen Flow in, a frozen Flow with
`tls.validation`, `exposures` and `findings` filled out. The trust store and the time are handed in.
"""

from __future__ import annotations

from tlsinspect.analysis.exposures import tls_exposures
from tlsinspect.analysis.findings import evaluate
from tlsinspect.analysis.validation import TrustStore, validate_chain
from tlsinspect.model import Flow, evolve
from tlsinspect.parse.secrets import dedupe


class Analyzer:
    """Fills the judgement fields of a finished flow."""

    def __init__(self, trust: TrustStore, *, now: float) -> None:
        """`trust` is built at the edge (`tlsinspect.capture.inputs.load_trust_store`); `now` is the clock read
        by the entry point (for `expired_now`), so that analysis itself does no I/O and reads no clock."""
        self.trust = trust
        self.now = now

    def __call__(self, flow: Flow) -> Flow:
        tls = flow.tls
        if tls is not None:
            if tls.certificates:
                ch = tls.client_hello_after_hrr or tls.client_hello
                name = ch.server_name if ch is not None else None
                if not name:
                    name = next((h.host.split(":")[0] for h in flow.http if h.host), None)
                at = _handshake_time(flow)
                validation = validate_chain(
                    tls.certificates, server_name=name, at=at, trust=self.trust, now=self.now
                )
                tls = evolve(tls, validation=validation)
            flow = evolve(flow, tls=tls, exposures=dedupe(tls_exposures(tls) + flow.exposures))
        return evolve(flow, findings=evaluate(flow))


def _handshake_time(flow: Flow) -> float:
    # The frame time of the certificate is not kept; the flow's first frame is within seconds of it.
    return flow.first_seen
