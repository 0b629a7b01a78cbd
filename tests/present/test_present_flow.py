"""tlsinspect.present.flow: the sections and rows of a flow view, their tones, and masking."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from helpers_present import secrets_of, shown_strings
from test_observer import flow, get, tls_info

from tlsinspect.model import Alert, Anomaly, Finding, Flow, KeyExchange, ServerHello
from tlsinspect.present import SECTION_KEYS, FlowView, Reveal, Row, Tone, flow_view


def row(view: FlowView, key: str) -> Row:
    return next(r for r in view.rows if r.key == key)


def test_sections_always_come_in_the_same_order() -> None:
    for f in (flow(1), flow(2, tls=tls_info(), port=443), flow(3, http=(get("/"),))):
        view = flow_view(f)
        assert tuple(s.key for s in view.sections) == SECTION_KEYS
        assert view.section("http").title == "HTTP"


def test_header() -> None:
    h = flow_view(flow(7, tls=tls_info(), port=443)).header
    assert (h.id, h.client, h.server, h.transport, h.protocol) == (
        7,
        "10.0.0.2:40007",
        "192.0.2.10:443",
        "tcp",
        "TLS",
    )
    assert (h.first_frame, h.last_frame, h.bytes_client, h.bytes_server) == (1, 10, 300, 900)
    assert h.first_seen == "1970-01-01T00:01:40Z"


def test_tls13_rows() -> None:
    view = flow_view(flow(1, tls=tls_info(), port=443))
    assert [r.key for r in view.section("tls").rows] == [
        "sni",
        "alpn-offered",
        "client-offers",
        "fingerprints",
        "negotiated",
        "certificate",
    ]
    sni = row(view, "sni")
    assert (sni.label, sni.text, sni.spans[0].tone) == ("SNI (visible)", "www.example.com", Tone.PUBLIC)
    assert row(view, "negotiated").text == "TLS 1.3  TLS_AES_128_GCM_SHA256"
    assert row(view, "client-offers").text == "1 suites, versions TLS 1.2"
    cert = row(view, "certificate")
    assert cert.spans[0].tone is Tone.MUTED and cert.text.startswith("encrypted (TLS 1.3)")
    hidden = row(view, "hidden")
    assert hidden.label == "hidden by TLS" and hidden.spans[0].tone is Tone.PROTECTED
    assert hidden.text == "; ".join(h.item for h in view.observer.hidden)
    assert row(view, "application-data").text == "2+3 records, 500+4000 B (hidden by TLS)"


def test_decrypted_flow_says_so() -> None:
    view = flow_view(flow(1, tls=tls_info(decrypted=True), port=443))
    assert row(view, "hidden").label == "hidden (read with keys)"
    assert row(view, "application-data").text.endswith("(decrypted with the key log)")


def test_tls12_certificate_and_handshake_details() -> None:
    hrr = ServerHello(
        frame=4, record_version=0x0303, legacy_version=0x0303, random=b"", session_id=b"",
        cipher_suite=0x1301, compression_method=0, extensions=(), selected_group=23, is_hrr=True,
    )  # fmt: skip
    tls = dataclasses.replace(
        tls_info(0x0303),
        hello_retry_request=hrr,
        key_exchange=KeyExchange(frame=6, kind="ECDHE", group=29),
        alerts=(Alert(frame=9, sender="server", level=2, description=40, encrypted=False),),
        resumed=True,
    )
    view = flow_view(flow(1, tls=tls, port=443))
    assert row(view, "hello-retry-request").text == "server asked for group secp256r1"
    assert row(view, "key-exchange").text == "ECDHE x25519"
    assert row(view, "alert").text == "handshake_failure from the server (frame 9)"
    assert row(view, "resumed").text == "yes"
    cert = row(view, "certificate")
    assert cert.label == "certificate (cleartext)" and "issued by CN=Example CA" in cert.text
    assert "hidden" in [r.key for r in view.rows]  # application data flowed: HTTP is hidden


def test_dh_key_exchange_text() -> None:
    tls = dataclasses.replace(tls_info(0x0303), key_exchange=KeyExchange(frame=6, kind="DHE", dh_bits=1024))
    assert row(flow_view(flow(1, tls=tls)), "key-exchange").text == "DHE 1024-bit DH"


def test_cleartext_http_row_and_exposures() -> None:
    auth = "Basic " + base64.b64encode(b"alice:wonderland1").decode()
    f = flow(1, http=(get("/x?token=abcdefghijkl", request_headers=(("Authorization", auth),)),))
    view = flow_view(f)
    http = row(view, "http")
    assert http.label == "HTTP (frame 3)"
    assert [s.tone for s in http.spans] == [None, Tone.EXPOSED]
    assert http.text == "GET www.example.com/x?token=ab****kl → 200 CLEARTEXT"
    assert http.secrets[0].reveal is Reveal.MASKED and http.secrets[0].raw == "/x?token=abcdefghijkl"
    exposures = {r.label: r for r in view.section("exposures").rows}
    basic = exposures["EXPOSED: http-basic-auth"]
    assert basic.label_tone is Tone.EXPOSED
    assert basic.text.startswith("al****d1  (request header Authorization, frame 3)")
    assert "EXPOSED: http-request" in exposures  # no TLS: the request line is listed as an exposure


def test_inside_tls_exposures_read_with_keys() -> None:
    f = flow(
        1,
        tls=tls_info(decrypted=True),
        http=(get("/", inside=True, request_headers=(("Cookie", "sid=abcdefgh1234"),)),),
    )
    view = flow_view(f)
    labels = [r.label for r in view.section("exposures").rows]
    assert labels == ["readable with keys: cookie"]  # handshake names stay in the TLS section
    assert view.section("exposures").rows[0].label_tone is Tone.MUTED
    assert row(view, "http").spans[1].text == "inside TLS"


def test_findings_and_anomalies() -> None:
    findings = (
        Finding(rule="tls.x", severity="high", title="T", detail="d", evidence="e"),
        Finding(rule="tls.y", severity="odd", title="U", detail="d"),
    )
    anomalies = tuple(Anomaly(layer="tcp", kind="k", message=f"m{i}", frame=i) for i in range(12))
    f = dataclasses.replace(flow(1), findings=findings, anomalies=anomalies)
    view = flow_view(f)
    rows = view.section("findings").rows
    assert [(r.label, r.text, r.label_tone) for r in rows] == [
        ("HIGH", "tls.x: T [e]", Tone.HIGH),
        ("ODD", "tls.y: U", None),
    ]
    shown = view.section("anomalies").rows
    assert len(shown) == 11 and shown[-1].text == "... and 2 more (see --format json)"
    assert shown[0].text == "tcp/k: m0" and shown[1].text == "tcp/k: m1 (frame 1)"
    assert len(flow_view(f, max_anomalies=None).section("anomalies").rows) == 12


def test_view_never_shows_a_constructed_secret_unless_asked() -> None:
    auth = "Basic " + base64.b64encode(b"alice:wonderland-secret").decode()
    f = flow(1, http=(get("/?password=hunter2hunter2", request_headers=(("Authorization", auth),)),))
    masked = "\n".join(shown_strings(flow_view(f)))
    assert "wonderland-secret" not in masked and "hunter2hunter2" not in masked
    assert "wonderland-secret" not in repr(flow_view(f))
    revealed = "\n".join(shown_strings(flow_view(f, show_secrets=True)))
    assert "alice:wonderland-secret" in revealed and "hunter2hunter2" in revealed


@pytest.mark.parametrize("fixture", ["lab_flows", "lab_flows_nokeys", "basic_flows"])
def test_bundled_captures_never_show_a_secret_unless_asked(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    flows: list[Flow] = request.getfixturevalue(fixture)
    for f in flows:
        secrets = secrets_of(f)
        masked = "\n".join(shown_strings(flow_view(f)))
        assert not [s for s in secrets if s in masked], f"flow {f.id}"
        assert not [s for s in secrets if s in repr(flow_view(f))], f"flow {f.id}"
        revealed = "\n".join(shown_strings(flow_view(f, show_secrets=True)))
        short = {s for s in secrets if len(s) < 150 and s.isprintable()}
        assert short <= {s for s in short if s in revealed}, f"flow {f.id}"


def test_lab_flow_sections(lab_flows: list[Flow]) -> None:
    by_port = {f.server_port: flow_view(f) for f in lab_flows}
    login = by_port[47080]
    assert [r.text.endswith("CLEARTEXT") for r in login.section("http").rows] == [True, True, True]
    assert any(r.label == "EXPOSED: password-field" for r in login.section("exposures").rows)
    assert login.section("tls").rows == ()
    shop = by_port[47443]
    assert row(shop, "sni").text == "shop.lab.test"
    assert row(shop, "hidden").label == "hidden (read with keys)"
    assert any(r.label == "readable with keys: cookie" for r in shop.section("exposures").rows)
