"""The per-flow half of a capture's `Summary`: flows, TLS and HTTP flows, anomalies, findings by severity,
counted over every flow the session finished (before any filter a front end applies)."""

from __future__ import annotations

from tlsinspect.model import SEVERITIES, Anomaly, Flow, FrozenDict, Summary


class FlowTally:
    def __init__(self) -> None:
        self.flows = self.tls = self.http = self.anomalies = self.frames_in_flows = 0
        self.severity: dict[str, int] = dict.fromkeys(SEVERITIES, 0)

    def add(self, f: Flow) -> None:
        self.flows += 1
        self.frames_in_flows += f.frames
        if f.tls is not None:
            self.tls += 1
        if f.http:
            self.http += 1
        self.anomalies += len(f.anomalies)
        for x in f.findings:
            self.severity[x.severity] = self.severity.get(x.severity, 0) + 1

    def summary(
        self,
        *,
        engine_counts: dict[str, int],
        frames: int,
        bytes: int,  # noqa: A002 - the Summary field's name
        engine_anomalies: int,
        elapsed_s: float,
        flows_evicted: int,
        capture_anomalies: tuple[Anomaly, ...],
        capture_errors: tuple[str, ...] = (),
    ) -> Summary:
        """The `Summary`, with the engine's frame buckets; `engine_anomalies` counts the anomalies outside flows."""
        c = engine_counts
        return Summary(
            frames=frames,
            bytes=bytes,
            flows=self.flows,
            tls_flows=self.tls,
            http_flows=self.http,
            frames_undecodable=c.get("undecodable", 0),
            anomalies=self.anomalies + engine_anomalies,
            findings_by_severity=FrozenDict(self.severity),
            elapsed_s=elapsed_s,
            frames_not_ip=c.get("not_ip", 0) + c.get("unsupported_link", 0),
            frames_other_transport=c.get("other_transport", 0) + c.get("udp_other", 0),
            frames_in_flows=self.frames_in_flows,
            flows_evicted=flows_evicted,
            capture_errors=capture_errors,
            capture_anomalies=capture_anomalies,
        )
