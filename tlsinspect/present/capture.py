"""The views of a whole capture: the title line before the flows and the summary after them."""

from __future__ import annotations

from dataclasses import dataclass

from tlsinspect.model import CaptureInfo, Summary

MAX_CAPTURE_ANOMALIES = 10
"""Capture-level anomalies a summary view lists."""


@dataclass(frozen=True, slots=True)
class CaptureView:
    """What was read, by which version of the tool."""

    title: str
    source: str
    format: str
    tool_version: str


@dataclass(frozen=True, slots=True)
class SummaryView:
    """The closing counts and the notes about the capture itself.

    Attributes:
        totals: one sentence of counts (frames, flows, undecodable frames, anomalies, time).
        findings: findings per severity ("high 2, low 1"), or None when there are none.
        evicted: a warning when the open-flow cap finished flows early, else None.
        capture_errors: read errors, one line each ("capture: ...").
        capture_anomalies: the first `MAX_CAPTURE_ANOMALIES` capture-level anomalies, one line each.
    """

    totals: str
    findings: str | None
    evicted: str | None
    capture_errors: tuple[str, ...]
    capture_anomalies: tuple[str, ...]


def capture_view(info: CaptureInfo, tool_version: str) -> CaptureView:
    """The capture's title: tool, source and format."""
    return CaptureView(
        title=f"tlsinspect {tool_version}  {info.source}  ({info.format})",
        source=info.source,
        format=info.format,
        tool_version=tool_version,
    )


def summary_view(s: Summary) -> SummaryView:
    """The summary's sentences."""
    totals = (
        f"{s.frames} frames ({s.bytes} bytes), {s.flows} flows: {s.tls_flows} TLS, {s.http_flows} with HTTP; "
        f"{s.frames_undecodable} undecodable frames, {s.frames_not_ip} not IP, {s.frames_other_transport} other "
        f"transport; {s.anomalies} anomalies; read in {s.elapsed_s:.2f} s"
    )
    findings = None
    if any(s.findings_by_severity.values()):
        findings = "findings: " + ", ".join(f"{k} {v}" for k, v in s.findings_by_severity.items() if v)
    evicted = f"{s.flows_evicted} flows were finished early by the open-flow cap" if s.flows_evicted else None
    return SummaryView(
        totals=totals,
        findings=findings,
        evicted=evicted,
        capture_errors=tuple(f"capture: {err}" for err in s.capture_errors),
        capture_anomalies=tuple(
            f"capture anomaly: {a.layer}/{a.kind}: {a.message} (frame {a.frame})"
            for a in s.capture_anomalies[:MAX_CAPTURE_ANOMALIES]
        ),
    )
