"""What happens to a flow once the engine has finished it: validation, exposures, findings.

`Analyzer` is the callable the engine is given (`Engine(analyse=...)`): a frozen Flow in, a frozen Flow with
`tls.validation`, `exposures` and `findings` filled out. The trust store is loaded once by `Analyzer.create`
(the only I/O here, done before reading starts).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from tlsinspect.analysis.exposures import tls_exposures
from tlsinspect.analysis.findings import evaluate
from tlsinspect.analysis.validation import TrustStore, TrustStoreError, validate_chain
from tlsinspect.model import Flow, evolve
from tlsinspect.parse.secrets import dedupe


class Analyzer:
    """Fills the judgement fields of a finished flow."""

    def __init__(self, trust: TrustStore, *, now: float | None = None) -> None:
        self.trust = trust
        self.now = time.time() if now is None else now

    @classmethod
    def create(
        cls, *, ca_files: Sequence[str | os.PathLike[str]] = (), use_default_roots: bool = True
    ) -> Analyzer:
        """Load the trust store: certifi's Mozilla roots and the system bundle (which still holds roots Mozilla
        has since removed, so older captures are judged against the roots of their time more fairly), plus extra
        CA files. Raises ValueError on a bad file."""
        try:
            trust = TrustStore.load(
                tuple(ca_files), use_certifi=use_default_roots, use_system=use_default_roots
            )
        except TrustStoreError as e:
            raise ValueError(str(e)) from e
        return cls(trust)

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
