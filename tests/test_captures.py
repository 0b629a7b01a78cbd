"""The bundled sample captures (captures/, made by captures/make_captures.py from real loopback traffic).

Exact facts per connection, flows keyed by their fixed server port (captures/README.md lists them): the
handshakes (SNI, version, suite, certificates in clear for TLS 1.2, only with the key log for TLS 1.3), the
split ClientHello, the client's fatal alert, HTTP in clear and decrypted inside TLS, the exposures and findings
on the right flows, the embedded key log (DSB), the ndjson contract through the CLI, and tshark's view of the
same files. Needs nothing outside the repository (tshark only for the cross-check, which skips without it).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from session_helpers import read as read_session
from session_helpers import read_flows

from tlsinspect.capture.files import CaptureFile
from tlsinspect.capture.inputs import load_trust_store, read_keylog
from tlsinspect.model import Flow

CAPTURES = Path(__file__).resolve().parent.parent / "captures"
LAB = CAPTURES / "observer-lab.pcapng"
LAB_DSB = CAPTURES / "observer-lab-dsb.pcapng"
LAB_KEYLOG = CAPTURES / "observer-lab.keylog"
LAB_CA = CAPTURES / "observer-lab-ca.pem"
BASIC = CAPTURES / "basic-tls12-tls13.pcap"
BASIC_KEYLOG = CAPTURES / "basic-tls12-tls13.keylog"

HAVE_FINDINGS = importlib.util.find_spec("tlsinspect.analysis.findings") is not None
needs_findings = pytest.mark.skipif(
    not HAVE_FINDINGS,
    reason="tlsinspect/analysis/findings.py (the findings engine) is missing: flows carry no findings yet",
)

TLS13, TLS12 = 0x0304, 0x0303
AES256_GCM_SHA384_13 = 0x1302
ECDHE_RSA_AES128_GCM = 0xC02F
ECDHE_RSA_AES256_GCM = 0xC030
RSA_AES128_CBC_SHA256 = 0x003C
ISSUING = "CN=tlsinspect Observer Lab Issuing CA 1,O=tlsinspect Observer Lab,C=XX"
ROOT = "CN=tlsinspect Observer Lab Root CA,O=tlsinspect Observer Lab,C=XX"


def subject(cn: str) -> str:
    return f"CN={cn},O=tlsinspect Observer Lab,C=XX"


# The observer-lab connections in capture order, by server port (captures/README.md).
LAB_ORDER = [
    47080, 47081, 47082, 47083, 47443, 47084, 47444, 47445,
    47446, 47086, 47447, 47448, 47449, 47450, 47090, 47451,
]  # fmt: skip

# port -> (SNI, version, suite, certificate subjects leaf first)
LAB_TLS: dict[int, tuple[str, int, int, list[str]]] = {
    47443: ("shop.lab.test", TLS13, AES256_GCM_SHA384_13, [subject("shop.lab.test"), ISSUING]),
    47444: ("tls12.lab.test", TLS12, ECDHE_RSA_AES128_GCM, [subject("tls12.lab.test"), ISSUING]),
    47445: ("legacy-rsa.lab.test", TLS12, RSA_AES128_CBC_SHA256, [subject("legacy-rsa.lab.test"), ISSUING]),
    47446: ("proxy.lab.test", TLS13, AES256_GCM_SHA384_13, [subject("proxy.lab.test"), ISSUING]),
    47447: (
        "django-zero.lab.test",
        TLS12,
        ECDHE_RSA_AES256_GCM,
        [subject("django-devops.lab.test"), ISSUING],
    ),
    47448: ("expired.lab.test", TLS12, ECDHE_RSA_AES256_GCM, [subject("expired.lab.test"), ISSUING]),
    47449: ("selfsigned.lab.test", TLS12, ECDHE_RSA_AES256_GCM, [subject("selfsigned.lab.test")]),
    47450: ("pay.lab.test", TLS12, ECDHE_RSA_AES256_GCM, [subject("pay.lab.test"), ISSUING]),
    47451: ("split.lab.test", TLS13, AES256_GCM_SHA384_13, [subject("split.lab.test"), ISSUING]),
}
TLS13_PORTS = sorted(p for p, v in LAB_TLS.items() if v[1] == TLS13)
TLS12_PORTS = sorted(p for p, v in LAB_TLS.items() if v[1] == TLS12)

# port -> requests (method, uri, status) inside TLS, visible only with the key log
LAB_TLS_HTTP: dict[int, list[tuple[str, str, int]]] = {
    47443: [("GET", "/account", 200)],
    47444: [("GET", "/status", 200)],
    47445: [("GET", "/legacy/", 200)],
    47446: [("GET", "/internal/report?id=7", 200)],
    47447: [("GET", "/", 200)],
    47448: [("GET", "/", 200)],
    47449: [("GET", "/", 200)],
    47450: [],
    47451: [("GET", "/split", 200)],
}

# port -> cleartext requests (method, uri, status, host)
LAB_CLEAR_HTTP: dict[int, list[tuple[str, str, int, str]]] = {
    47080: [
        ("GET", "/login", 200, "www.lab.test:47080"),
        ("POST", "/login", 303, "www.lab.test:47080"),
        ("GET", "/account", 200, "www.lab.test:47080"),
    ],
    47081: [("GET", "/admin/", 200, "admin.lab.test:47081")],
    47082: [
        ("GET", "/api/v1/orders", 200, "api.lab.test:47082"),
        ("GET", "/api/v1/inventory", 200, "api.lab.test:47082"),
        ("GET", "/api/v1/export?format=csv&token=exp-7d2c9a41e8b3", 200, "api.lab.test:47082"),
    ],
    47083: [("GET", "/checkout", 301, "shop.lab.test:47083")],
    47084: [("GET", "/static/jquery.js", 200, "cdn.lab.test:47084")],
    47086: [("GET", "/internal/report?id=7", 200, "proxy.lab.test:47446")],
    47090: [("GET", "/ws/chat", 101, "chat.lab.test:47090")],
}

# port -> exposure kinds that must be there (with the key log), and whether they are inside TLS
LAB_EXPOSURES: dict[int, tuple[set[str], bool]] = {
    47080: ({"password-field", "cookie", "set-cookie"}, False),
    47081: ({"http-basic-auth"}, False),
    47082: ({"bearer-token", "api-key-header", "token-in-url"}, False),
    47086: ({"http-basic-auth"}, False),
    47090: ({"websocket-message"}, False),
    47443: ({"cookie"}, True),
    47446: ({"http-basic-auth"}, True),
}

# port -> findings that must be there
LAB_FINDINGS: list[tuple[int, str]] = [
    (47445, "tls.no-forward-secrecy"),
    (47447, "cert.name-mismatch"),
    (47448, "cert.expired"),
    (47449, "cert.self-signed"),
    (47450, "tls.handshake-failed"),
]


# ---------------------------------------------------------------------------------------------------------------
# Reading


def read(path: Path, keylog: Path | None = None, *, analyse: bool = True) -> dict[int, Flow]:
    """Flows of a bundled capture by server port (each port is one connection)."""
    analyzer = None
    if analyse:
        from tlsinspect.analysis.pipeline import Analyzer

        analyzer = Analyzer(load_trust_store([LAB_CA], use_certifi=False), now=time.time())
    kl = read_keylog(keylog) if keylog else None
    flows = read_flows(path, keylog=kl, analyse=analyzer)
    by_port = {f.server_port: f for f in flows}
    assert len(by_port) == len(flows), "one connection per server port"
    return by_port


@pytest.fixture(scope="module")
def lab() -> dict[int, Flow]:
    return read(LAB, LAB_KEYLOG)


@pytest.fixture(scope="module")
def lab_nokeys() -> dict[int, Flow]:
    return read(LAB)


@pytest.fixture(scope="module")
def lab_dsb() -> dict[int, Flow]:
    return read(LAB_DSB)


@pytest.fixture(scope="module")
def basic() -> dict[int, Flow]:
    return read(BASIC, BASIC_KEYLOG)


# ---------------------------------------------------------------------------------------------------------------
# The files themselves


def test_files_present_small_and_without_private_keys() -> None:
    names = [LAB, LAB_DSB, LAB_KEYLOG, LAB_CA, BASIC, BASIC_KEYLOG, CAPTURES / "README.md"]
    for p in names:
        assert p.is_file(), p
    assert sum(p.stat().st_size for p in names) < 400_000
    for p in CAPTURES.iterdir():
        if p.is_file():
            assert b"PRIVATE KEY" not in p.read_bytes() or p.suffix == ".py", f"{p.name} holds a private key"


def test_readme_sha256_matches_the_files() -> None:
    text = (CAPTURES / "README.md").read_text(encoding="utf-8")
    sums = dict((name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", text, re.M))
    assert set(sums) == {p.name for p in (LAB, LAB_DSB, LAB_KEYLOG, LAB_CA, BASIC, BASIC_KEYLOG)}
    for name, digest in sums.items():
        assert hashlib.sha256((CAPTURES / name).read_bytes()).hexdigest() == digest, name


def test_readme_documents_every_port() -> None:
    text = (CAPTURES / "README.md").read_text(encoding="utf-8")
    for port in [*LAB_ORDER, 47461, 47462]:
        assert f"| {port} |" in text or f" on {port}" in text, port


def test_ca_file_is_the_lab_root_certificate_only() -> None:
    pem = LAB_CA.read_bytes()
    certs = x509.load_pem_x509_certificates(pem)
    assert len(certs) == 1
    root = certs[0]
    assert root.subject.rfc4514_string() == ROOT == root.issuer.rfc4514_string()
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


# ---------------------------------------------------------------------------------------------------------------
# observer-lab: flows and handshakes


def test_lab_flows_in_documented_order(lab: dict[int, Flow]) -> None:
    flows = sorted(lab.values(), key=lambda f: f.id)
    assert [f.server_port for f in flows] == LAB_ORDER
    for f in flows:
        assert f.transport == "tcp"
        assert (f.client_ip, f.server_ip) == ("127.0.0.1", "127.0.0.1")
        assert f.syn_seen
        assert f.anomalies == ()
    protocols = {p: f.app_protocol for p, f in lab.items()}
    assert {p for p, a in protocols.items() if a == "tls"} == set(LAB_TLS)
    assert protocols[47090] == "websocket"
    assert {p for p, a in protocols.items() if a == "http"} == set(LAB_CLEAR_HTTP) - {47090}


@pytest.mark.parametrize("port", sorted(LAB_TLS))
def test_tls_handshake_facts(lab: dict[int, Flow], port: int) -> None:
    sni, version, suite, subjects = LAB_TLS[port]
    tls = lab[port].tls
    assert tls is not None and tls.client_hello is not None and tls.server_hello is not None
    assert tls.client_hello.server_name == sni
    assert tls.client_hello.alpn == ("http/1.1",)
    assert tls.version == version
    assert tls.cipher_suite == suite == tls.server_hello.cipher_suite
    assert [c.subject for c in tls.certificates] == subjects
    assert tls.certificates_visibility == ("decrypted" if version == TLS13 else "cleartext")
    if len(subjects) == 2:
        assert tls.certificates[0].issuer == ISSUING and tls.certificates[1].issuer == ROOT
        assert tls.certificates[1].is_ca and not tls.certificates[0].is_ca
    assert not tls.resumed
    assert tls.decrypted is (port != 47450)


@pytest.mark.parametrize("port", TLS13_PORTS)
def test_tls13_certificates_hidden_without_keys(lab_nokeys: dict[int, Flow], port: int) -> None:
    tls = lab_nokeys[port].tls
    assert tls is not None
    assert tls.version == TLS13
    assert tls.client_hello is not None and tls.client_hello.server_name == LAB_TLS[port][0]
    assert tls.certificates_visibility == "encrypted"
    assert tls.certificates == ()
    assert not tls.decrypted
    assert lab_nokeys[port].http == ()


@pytest.mark.parametrize("port", TLS12_PORTS)
def test_tls12_certificates_in_clear_without_keys(lab_nokeys: dict[int, Flow], port: int) -> None:
    tls = lab_nokeys[port].tls
    assert tls is not None
    assert tls.certificates_visibility == "cleartext"
    assert [c.subject for c in tls.certificates] == LAB_TLS[port][3]
    assert not tls.decrypted
    assert lab_nokeys[port].http == ()
    names = {e.value for e in lab_nokeys[port].exposures if e.kind == "certificate-name"}
    assert LAB_TLS[port][3][0].split(",")[0].removeprefix("CN=") in names


def test_split_client_hello(lab: dict[int, Flow]) -> None:
    """The ClientHello record came as 100 bytes, then the rest 50 ms later: the parser joins the two segments."""
    flow = lab[47451]
    segments: list[tuple[int, float, bytes]] = []
    with CaptureFile(LAB) as cap:
        for fr in cap:
            if not flow.first_frame <= fr.number <= flow.last_frame:
                continue
            ip = fr.data[14:]
            if ip[9] != 6:
                continue
            tcp = ip[(ip[0] & 0x0F) * 4 :]
            payload = tcp[(tcp[12] >> 4) * 4 :]
            sport, dport = int.from_bytes(tcp[0:2], "big"), int.from_bytes(tcp[2:4], "big")
            if (sport, dport) == (flow.client_port, 47451) and payload:
                segments.append((fr.number, fr.ts, bytes(payload)))
    first, second = segments[0], segments[1]
    assert len(first[2]) == 100 and first[2][:3] == b"\x16\x03\x01"
    record_len = int.from_bytes(first[2][3:5], "big")
    assert len(second[2]) == 5 + record_len - 100
    assert second[1] - first[1] >= 0.04
    tls = flow.tls
    assert tls is not None and tls.client_hello is not None
    assert tls.client_hello.frame == second[0]
    assert tls.client_hello.server_name == "split.lab.test"
    assert tls.client_hello.supported_versions[0] == TLS13


def test_client_abort_alert(lab: dict[int, Flow]) -> None:
    flow = lab[47450]
    tls = flow.tls
    assert tls is not None and tls.server_hello is not None
    assert len(tls.alerts) == 1
    alert = tls.alerts[0]
    assert (alert.sender, alert.level, alert.description, alert.encrypted) == ("client", 2, 48, False)
    assert alert.frame > tls.server_hello.frame
    assert flow.http == ()
    assert tls.app_data_records == (0, 0)


@pytest.mark.parametrize("port", sorted(set(LAB_TLS) - {47450}))
def test_tls_clients_close_with_close_notify(lab: dict[int, Flow], port: int) -> None:
    tls = lab[port].tls
    assert tls is not None
    assert [(a.sender, a.description) for a in tls.alerts] == [("client", 0)]


def test_keylog_covers_every_completed_handshake(lab: dict[int, Flow]) -> None:
    randoms = {line.split()[1] for line in LAB_KEYLOG.read_text().splitlines() if line and line[0] != "#"}
    for port in set(LAB_TLS) - {47450}:
        tls = lab[port].tls
        assert tls is not None and tls.client_hello is not None
        assert tls.client_hello.random.hex() in randoms, port


# ---------------------------------------------------------------------------------------------------------------
# observer-lab: HTTP, exposures, validation, findings


@pytest.mark.parametrize("port", sorted(LAB_TLS_HTTP))
def test_decrypted_http_inside_tls(lab: dict[int, Flow], port: int) -> None:
    got = [(h.method, h.uri, h.status) for h in lab[port].http]
    assert got == LAB_TLS_HTTP[port]
    sni = LAB_TLS[port][0]
    for h in lab[port].http:
        assert h.inside_tls
        assert h.host == f"{sni}:{port}"
        assert h.user_agent == "tlsinspect-lab/1.0 (captures/make_captures.py)"


def test_dsb_capture_decrypts_without_a_keylog(lab: dict[int, Flow], lab_dsb: dict[int, Flow]) -> None:
    assert set(lab_dsb) == set(lab)
    for port, want in LAB_TLS_HTTP.items():
        assert [(h.method, h.uri, h.status) for h in lab_dsb[port].http] == want, port
    for port in TLS13_PORTS:
        tls = lab_dsb[port].tls
        assert tls is not None and tls.certificates_visibility == "decrypted"


@pytest.mark.parametrize("port", sorted(LAB_CLEAR_HTTP))
def test_cleartext_http(lab: dict[int, Flow], port: int) -> None:
    got = [(h.method, h.uri, h.status, h.host) for h in lab[port].http]
    assert got == LAB_CLEAR_HTTP[port]
    assert not any(h.inside_tls for h in lab[port].http)
    assert lab[port].tls is None


def test_login_form_and_cookies(lab: dict[int, Flow]) -> None:
    get_login, post_login, account = lab[47080].http
    assert b'type="password"' in get_login.response_body_sample
    assert post_login.request_body_sample.startswith(b"username=alice&password=")
    assert dict(post_login.request_headers)["Content-Type"] == "application/x-www-form-urlencoded"
    set_cookie = dict(post_login.response_headers)["Set-Cookie"]
    assert set_cookie.startswith("session=") and "secure" not in set_cookie.lower()
    assert dict(account.request_headers)["Cookie"] == "session=s3ss10n-4f7c2a9e1b6d"


def test_redirect_to_https(lab: dict[int, Flow]) -> None:
    (ex,) = lab[47083].http
    assert dict(ex.response_headers)["Location"] == "https://shop.lab.test:47443/checkout"


def test_mixed_content_request_follows_the_https_page(lab: dict[int, Flow]) -> None:
    shop, cdn = lab[47443], lab[47084]
    assert b"http://cdn.lab.test:47084/static/jquery.js" in shop.http[0].response_body_sample
    assert 0 < cdn.first_seen - shop.last_seen < 2.0
    assert dict(cdn.http[0].request_headers)["Referer"] == "https://shop.lab.test:47443/account"


def test_proxy_hop_carries_the_same_request(lab: dict[int, Flow]) -> None:
    (inside,) = lab[47446].http
    (clear,) = lab[47086].http
    assert inside.inside_tls and not clear.inside_tls
    assert inside.uri == clear.uri == "/internal/report?id=7"
    auth = dict(inside.request_headers)["Authorization"]
    assert auth.startswith("Basic ") and dict(clear.request_headers)["Authorization"] == auth
    assert dict(clear.request_headers)["X-Forwarded-Proto"] == "https"
    assert lab[47086].first_seen > lab[47446].first_seen


def test_websocket(lab: dict[int, Flow]) -> None:
    flow = lab[47090]
    (upgrade,) = flow.http
    assert dict(upgrade.request_headers)["Sec-WebSocket-Key"] == "dGhlIHNhbXBsZSBub25jZQ=="
    assert dict(upgrade.response_headers)["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    messages = [e for e in flow.exposures if e.kind == "websocket-message"]
    assert len(messages) == 2
    assert "client" in messages[0].where and "server" in messages[1].where
    assert messages[0].frame is not None and messages[1].frame is not None
    assert messages[0].frame < messages[1].frame


@pytest.mark.parametrize("port", sorted(LAB_EXPOSURES))
def test_exposures_on_the_right_flows(lab: dict[int, Flow], port: int) -> None:
    kinds, inside = LAB_EXPOSURES[port]
    found = {(e.kind, e.inside_tls) for e in lab[port].exposures}
    for kind in kinds:
        assert (kind, inside) in found, (port, kind, sorted(found))


def test_credential_exposures_only_where_sent(lab: dict[int, Flow]) -> None:
    credential = {"http-basic-auth", "bearer-token", "api-key-header", "token-in-url", "password-field"}
    where = {p for p, f in lab.items() for e in f.exposures if e.kind in credential}
    assert where == {47080, 47081, 47082, 47086, 47446}


@pytest.mark.parametrize("port", sorted(LAB_TLS))
def test_sni_exposure(lab: dict[int, Flow], port: int) -> None:
    tls = lab[port].tls
    assert tls is not None and tls.client_hello is not None
    sni = [e for e in lab[port].exposures if e.kind == "sni"]
    assert [(e.value, e.frame, e.inside_tls) for e in sni] == [
        (LAB_TLS[port][0], tls.client_hello.frame, False)
    ]


def test_tls13_cookie_hidden_without_keys(lab_nokeys: dict[int, Flow]) -> None:
    kinds = {e.kind for e in lab_nokeys[47443].exposures}
    assert "sni" in kinds and "cookie" not in kinds


def test_validation_against_the_lab_root(lab: dict[int, Flow]) -> None:
    def v(port: int) -> tuple[bool | None, bool | None, bool | None]:
        tls = lab[port].tls
        assert tls is not None
        return tls.validation.trusted, tls.validation.hostname_matches, tls.validation.expired

    for port in (47443, 47444, 47445, 47446, 47450, 47451):
        assert v(port) == (True, True, False), port
    assert v(47447) == (True, False, False)
    assert v(47448)[1:] == (True, True) and v(47448)[0] is False
    assert v(47449) == (False, True, False)


@needs_findings
@pytest.mark.parametrize(("port", "rule"), LAB_FINDINGS)
def test_findings_on_the_right_flows(lab: dict[int, Flow], port: int, rule: str) -> None:
    assert rule in {x.rule for x in lab[port].findings}


@needs_findings
def test_findings_not_elsewhere(lab: dict[int, Flow]) -> None:
    for port, rule in LAB_FINDINGS:
        others = {p for p, f in lab.items() if p != port and rule in {x.rule for x in f.findings}}
        assert not others, (rule, others)
    for port in (47443, 47444, 47446, 47451):
        assert lab[port].findings == (), port


@needs_findings
def test_cross_flow_findings(lab: dict[int, Flow]) -> None:
    def rules(port: int) -> set[str]:
        return {x.rule for x in lab[port].findings}

    login = {"http.cleartext-credentials", "http.login-form-cleartext", "http.cookie-without-secure"}
    assert login <= rules(47080)
    assert "http.cleartext-credentials" in rules(47081) & rules(47082) & rules(47086)
    assert "http.redirects-to-https" in rules(47083)
    assert "http.insecure-subresource" in rules(47084)
    hop = [x for x in lab[47086].findings if x.rule == "http.cleartext-hop"]
    assert hop and hop[0].severity == "high"
    assert "websocket.cleartext" in rules(47090)


# ---------------------------------------------------------------------------------------------------------------
# basic-tls12-tls13.pcap


def test_basic_pcap(basic: dict[int, Flow]) -> None:
    assert sorted(basic) == [47461, 47462]
    want = {
        47461: ("basic13.lab.test", TLS13, AES256_GCM_SHA384_13),
        47462: ("basic12.lab.test", TLS12, 0xC02F),
    }
    for port, (sni, version, suite) in want.items():
        tls = basic[port].tls
        assert tls is not None and tls.client_hello is not None
        assert (tls.client_hello.server_name, tls.version, tls.cipher_suite) == (sni, version, suite)
        assert tls.decrypted
        assert [c.subject for c in tls.certificates] == [subject(sni), ISSUING]
        assert [(h.method, h.uri, h.status, h.inside_tls) for h in basic[port].http] == [
            ("GET", "/hello", 200, True)
        ]


def test_basic_pcap_is_classic_pcap() -> None:
    result = read_session(BASIC)
    assert result.info is not None and result.info.format == "pcap"
    assert result.summary.flows == 2 and result.summary.tls_flows == 2


# ---------------------------------------------------------------------------------------------------------------
# The CLI and the ndjson contract (shared/spec/json-output.md)


def _cli_ndjson(*args: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "tlsinspect", "read", *args, "--format", "ndjson", "--no-env-keylog"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_cli_ndjson_on_the_lab() -> None:
    lines = _cli_ndjson(str(LAB), "--keylog", str(LAB_KEYLOG), "--ca-file", str(LAB_CA), "--no-default-roots")
    assert lines[0]["type"] == "capture" and lines[-1]["type"] == "summary"
    flows: dict[int, dict[str, Any]] = {}
    for o in lines[1:-1]:
        assert o["type"] == "flow"
        flows[int(str(o["server"]).rsplit(":", 1)[1])] = o
    assert [int(str(o["server"]).rsplit(":", 1)[1]) for o in lines[1:-1]] == LAB_ORDER
    for port, (sni, version, suite, subjects) in LAB_TLS.items():
        tls = flows[port]["tls"]
        assert isinstance(tls, dict)
        assert tls["client_hello"]["server_name"] == sni
        assert tls["version"] == f"0x{version:04x}" and tls["cipher_suite"] == f"0x{suite:04x}"
        assert [c["subject"] for c in tls["certificates"]] == subjects
        assert tls["certificates_visibility"] == ("decrypted" if version == TLS13 else "cleartext")
    alerts = flows[47450]["tls"]["alerts"]
    assert [(a["from"], a["level"], a["description_name"], a["encrypted"]) for a in alerts] == [
        ("client", 2, "unknown_ca", False)
    ]
    for port, want in LAB_CLEAR_HTTP.items():
        http = flows[port]["http"]
        assert isinstance(http, list)
        assert [(h["method"], h["uri"], h["status"]) for h in http] == [w[:3] for w in want]
    for port, (kinds, inside) in LAB_EXPOSURES.items():
        exposures = flows[port]["exposures"]
        assert isinstance(exposures, list)
        assert kinds <= {e["kind"] for e in exposures if e["inside_tls"] is inside}, port
    secret_kinds = {"http-basic-auth", "bearer-token", "cookie", "set-cookie", "password-field"}
    secret_kinds |= {"api-key-header", "token-in-url", "websocket-message"}
    shown = [e for o in flows.values() for e in o["exposures"] if e["kind"] in secret_kinds]
    assert len(shown) >= 12
    for e in shown:  # masked without --show-secrets
        assert "****" in e["value"], e
    if HAVE_FINDINGS:
        for port, rule in LAB_FINDINGS:
            assert rule in {x["rule"] for x in flows[port]["findings"]}, (port, rule)
    summary = lines[-1]
    assert (summary["flows"], summary["tls_flows"]) == (16, 9)


def test_cli_dsb_without_keylog_decrypts() -> None:
    lines = _cli_ndjson(str(LAB_DSB))
    shop = next(o for o in lines if o["type"] == "flow" and str(o["server"]).endswith(":47443"))
    assert [h["uri"] for h in shop["http"]] == ["/account"]
    assert shop["tls"]["decrypted"] is True


# ---------------------------------------------------------------------------------------------------------------
# tshark's view of the same files


def _tshark_fields(path: Path, keylog: Path, *fields: str) -> list[list[str]]:
    cmd = [
        "tshark",
        "-n",
        "-r",
        str(path),
        "-o",
        f"tls.keylog_file:{keylog}",
        "-T",
        "fields",
        "-E",
        "separator=|",
    ]
    for f in fields:
        cmd += ["-e", f]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return [line.split("|") for line in proc.stdout.splitlines()]


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize(("path", "keylog"), [(LAB, LAB_KEYLOG), (BASIC, BASIC_KEYLOG)], ids=["lab", "basic"])
def test_agrees_with_tshark(path: Path, keylog: Path) -> None:
    rows = _tshark_fields(
        path,
        keylog,
        "frame.number",
        "tcp.srcport",
        "tcp.dstport",
        "tls.handshake.type",
        "tls.handshake.extensions_server_name",
        "tls.handshake.ciphersuite",
        "http.request.method",
        "http.request.uri",
        "tls.alert_message.level",
        "tls.alert_message.desc",
        "tcp.segment",
    )
    mine = read(path, keylog)
    sni: dict[int, str] = {}
    suite: dict[int, int] = {}
    requests: dict[int, list[tuple[int, str, str]]] = {}
    alerts: dict[int, list[tuple[int, int]]] = {}
    for frame, sport, dport, types, name, suites, method, uri, level, desc, segments in rows:
        hs = types.split(",") if types else []
        if "1" in hs:
            sni[int(dport)] = name
        if "2" in hs:
            suite[int(sport)] = int(suites, 16)
        if method:
            # tshark names the frame that completes a reassembled request; tlsinspect the one it starts in
            first = min(int(x) for x in segments.split(",")) if segments else int(frame)
            requests.setdefault(int(dport), []).append((first, method, uri))
        if desc and int(dport) in mine:  # alerts the client sent (the lab's servers send none)
            alerts.setdefault(int(dport), []).extend((int(level), int(d)) for d in desc.split(","))
    tls_ports = {p for p, f in mine.items() if f.tls is not None}
    assert set(sni) == tls_ports
    for port in tls_ports:
        tls = mine[port].tls
        assert tls is not None and tls.client_hello is not None
        assert tls.client_hello.server_name == sni[port]
        assert tls.cipher_suite == suite[port]
        assert [(a.level, a.description) for a in tls.alerts if a.sender == "client"] == alerts.get(port, [])
    assert set(requests) == {p for p, f in mine.items() if f.http}
    for port, reqs in requests.items():
        assert [(h.frame, h.method, h.uri) for h in mine[port].http] == reqs, port


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_sees_the_split_client_hello(lab: dict[int, Flow]) -> None:
    rows = _tshark_fields(LAB, LAB_KEYLOG, "frame.number", "tcp.dstport", "tcp.segment.count", "tcp.segment")
    flow = lab[47451]
    assert flow.tls is not None and flow.tls.client_hello is not None
    (row,) = [r for r in rows if r[0] == str(flow.tls.client_hello.frame)]
    assert row[1] == "47451" and row[2] == "2"
    assert len(row[3].split(",")) == 2
