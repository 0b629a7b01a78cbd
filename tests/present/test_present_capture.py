"""tlsinspect.present.capture: the capture's title and the summary's sentences."""

from __future__ import annotations

from tlsinspect.model import Anomaly, CaptureInfo, Summary
from tlsinspect.present import capture_view, summary_view


def summary(**kw: object) -> Summary:
    base: dict[str, object] = {
        "frames": 10,
        "bytes": 1000,
        "flows": 2,
        "tls_flows": 1,
        "http_flows": 1,
        "frames_undecodable": 0,
        "anomalies": 0,
        "findings_by_severity": {"info": 0, "low": 1, "medium": 0, "high": 2, "critical": 0},
        "elapsed_s": 0.123,
    }
    base.update(kw)
    return Summary(**base)  # type: ignore[arg-type]


def test_capture_title() -> None:
    v = capture_view(CaptureInfo(source="x.pcap", format="pcap"), "0.1.0")
    assert v.title == "tlsinspect 0.1.0  x.pcap  (pcap)"
    assert (v.source, v.format, v.tool_version) == ("x.pcap", "pcap", "0.1.0")


def test_summary_sentences() -> None:
    v = summary_view(summary())
    assert v.totals.startswith("10 frames (1000 bytes), 2 flows: 1 TLS, 1 with HTTP; 0 undecodable frames")
    assert v.totals.endswith("0 anomalies; read in 0.12 s")
    assert v.findings == "findings: low 1, high 2"
    assert (v.evicted, v.capture_errors, v.capture_anomalies) == (None, (), ())


def test_summary_notes() -> None:
    anomalies = tuple(Anomaly(layer="pcap", kind="k", message=f"m{i}", frame=i) for i in range(12))
    v = summary_view(
        summary(
            findings_by_severity={"high": 0},
            flows_evicted=3,
            capture_errors=("truncated file",),
            capture_anomalies=anomalies,
        )
    )
    assert v.findings is None
    assert v.evicted == "3 flows were finished early by the open-flow cap"
    assert v.capture_errors == ("capture: truncated file",)
    assert len(v.capture_anomalies) == 10
    assert v.capture_anomalies[0] == "capture anomaly: pcap/k: m0 (frame 0)"
