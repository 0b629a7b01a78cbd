"""What every rule module shares: the `Rule` record, the check signature, small readers of a `Flow`.

A rule is data (id, default severity, title, the long explanation) plus one small pure check function
`(flow) -> list[Finding]`; each rules_* module ends with an explicit `CHECKS` table pairing the two, and
`findings.py` concatenates those tables. No check parses bytes, reads files or the clock.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from tlsinspect.model import SEVERITIES, Certificate, Finding, Flow, ServerHello, TlsInfo

__all__ = [
    "Check",
    "Rule",
    "capture_time",
    "fmt_time",
    "leaf",
    "negotiated",
    "not_after",
    "not_before",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One finding kind. `severity` is the default (the highest a finding of this rule carries)."""

    id: str
    severity: str
    title: str
    explain: str
    """Several plain-language sentences: what was seen, why it matters, what to change."""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.id}: unknown severity {self.severity!r}")

    def finding(self, detail: str, evidence: str = "", *, severity: str | None = None) -> Finding:
        """A finding of this rule (`severity` overrides the default, e.g. TLS 1.0 vs SSL 3.0)."""
        sev = self.severity if severity is None else severity
        if sev not in SEVERITIES:
            raise ValueError(f"rule {self.id}: unknown severity {sev!r}")
        return Finding(rule=self.id, severity=sev, title=self.title, detail=detail, evidence=evidence)


Check = Callable[[Flow], list[Finding]]


def negotiated(flow: Flow) -> tuple[TlsInfo, ServerHello, int | None, int] | None:
    """(tls, server_hello, version, cipher_suite) once a real ServerHello was seen; None otherwise."""
    tls = flow.tls
    if tls is None or tls.server_hello is None or tls.server_hello.is_hrr:
        return None
    hello = tls.server_hello
    version = tls.version or hello.selected_version or hello.legacy_version or None
    suite = tls.cipher_suite if tls.cipher_suite is not None else hello.cipher_suite
    return tls, hello, version, suite


def leaf(flow: Flow) -> Certificate | None:
    """The server's leaf certificate when one is visible and decoded; None otherwise (no cert.* finding then)."""
    if flow.tls is None or not flow.tls.certificates:
        return None
    cert = flow.tls.certificates[0]
    if cert.error is not None and cert.error.startswith("undecodable"):
        return None
    return cert


def capture_time(flow: Flow) -> float:
    """The time the certificate is judged at: the flow's first capture timestamp (the handshake's time)."""
    return flow.first_seen


def _parse_rfc3339(text: str) -> float | None:
    if not text:
        return None
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return value.timestamp()


def not_before(cert: Certificate) -> float | None:
    return cert.not_before_ts if cert.not_before_ts is not None else _parse_rfc3339(cert.not_before)


def not_after(cert: Certificate) -> float | None:
    return cert.not_after_ts if cert.not_after_ts is not None else _parse_rfc3339(cert.not_after)


@lru_cache(maxsize=1024)  # certificate validity times recur in every connection to the same server
def fmt_time(ts: float) -> str:
    """RFC 3339 UTC, to the second: "2024-06-01T00:00:00Z"."""
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
