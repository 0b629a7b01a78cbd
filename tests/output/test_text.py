"""tlsinspect.output.text: the report renders the presentation layer's views (and decides nothing itself)."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest

from tlsinspect.analysis.exposures import PUBLIC_KINDS
from tlsinspect.model import Anomaly, CaptureInfo, Finding, Flow, HttpExchange, Summary
from tlsinspect.output.jsonout import flow_dict
from tlsinspect.output.text import TONE_STYLE, TextWriter
from tlsinspect.present import Tone, flow_view


def render(flows: list[Flow], *, show_secrets: bool = False, color: bool = False) -> str:
    out = io.StringIO()
    w = TextWriter(out, show_secrets=show_secrets, color=color, width=2000)
    for f in flows:
        w.flow(f)
    return out.getvalue()


def bare(fid: int = 1, **kw: object) -> Flow:
    return Flow(
        id=fid, transport="tcp", client_ip="10.0.0.1", client_port=5000, server_ip="10.0.0.2", server_port=80,
        first_frame=1, last_frame=2, first_seen=0.0, last_seen=1.0, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_every_tone_has_a_style() -> None:
    assert set(TONE_STYLE) == set(Tone)


def test_text_and_json_report_the_same_observer_facts(lab_flows: list[Flow]) -> None:
    report = re.sub(r" +", " ", render(lab_flows))
    tls_flows = 0
    for f in lab_flows:
        observer = flow_dict(f)["observer"]
        assert observer == flow_view(f).observer.as_dict()
        hidden = "; ".join(h["item"] for h in observer["hidden"])
        if f.tls is not None and hidden:
            tls_flows += 1
            assert f"\nhidden (read with keys) {hidden}" in report
        elif f.tls is not None:
            assert not observer["hidden"]
    assert tls_flows == 8


def test_every_row_of_the_view_is_printed(lab_flows: list[Flow]) -> None:
    report = render(lab_flows)
    for f in lab_flows:
        for row in flow_view(f).rows:
            assert row.text.strip() in report, row


@pytest.mark.parametrize("fixture", ["lab_flows", "lab_flows_nokeys"])
def test_report_never_prints_a_secret_unless_asked(fixture: str, request: pytest.FixtureRequest) -> None:
    flows: list[Flow] = request.getfixturevalue(fixture)
    secrets = {
        e.value for f in flows for e in f.exposures if e.kind not in PUBLIC_KINDS and 8 <= len(e.value) < 150
    }
    secrets = {s for s in secrets if s.isprintable()}
    assert len(secrets) > 5
    masked = render(flows)
    assert not [s for s in secrets if s in masked]
    revealed = render(flows, show_secrets=True)
    assert [s for s in secrets if s in revealed]


def test_header_summary_and_capture_lines() -> None:
    out = io.StringIO()
    w = TextWriter(out, color=False, width=120)
    w.capture(CaptureInfo(source="x.pcap", format="pcap"), "9.9")
    w.flow(bare(3, app_protocol="http"))
    w.summary(
        Summary(
            frames=2, bytes=10, flows=1, tls_flows=0, http_flows=0, frames_undecodable=0, anomalies=0,
            findings_by_severity={"low": 1}, elapsed_s=0.5, flows_evicted=2, capture_errors=("bad",),
        )
    )  # fmt: skip
    text = out.getvalue()
    assert text.startswith(
        "tlsinspect 9.9  x.pcap  (pcap)\n#3 10.0.0.1:5000 → 10.0.0.2:80 tcp/HTTP  frames 1-2"
    )
    assert "findings: low 1\n2 flows were finished early by the open-flow cap\ncapture: bad\n" in text


def test_styles_follow_the_tones() -> None:
    f = bare(http=(HttpExchange(frame=1, method="GET", uri="/", host="h"),))
    colored = render([f], color=True)
    assert "\x1b[1;31mCLEARTEXT" in colored


def test_brackets_in_a_uri_are_printed_as_is() -> None:
    f = bare(http=(HttpExchange(frame=1, method="GET", uri="/a[/b][bold]", host="h"),))
    assert "GET h/a[/b][bold] → (no response) CLEARTEXT" in render([f])


def test_bracketed_evidence_is_printed() -> None:
    finding = Finding(rule="r", severity="high", title="T", detail="", evidence="cookie in header (frame 3)")
    assert "[cookie in header (frame 3)]" in render([bare(findings=(finding,))])


def test_closing_tag_in_an_anomaly_does_not_crash() -> None:
    f = dataclasses.replace(bare(), anomalies=(Anomaly(layer="http", kind="x", message="bad [/] here"),))
    assert "bad [/] here" in render([f])
