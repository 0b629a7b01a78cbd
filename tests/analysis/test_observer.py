"""cross_flow_findings over hand-built flows (one positive and one negative case per rule).

The observer view itself is tested in tests/present/test_observer.py (it moved to `tlsinspect.present`).
"""

from __future__ import annotations

import test_exposures as exposure_tests

from tlsinspect.analysis.exposures import tls_exposures
from tlsinspect.analysis.observer import cross_flow_findings
from tlsinspect.model import Certificate, ClientHello, Flow, HttpExchange, ServerHello, TlsInfo
from tlsinspect.parse.secrets import exchange_exposures


def hello(sni: str | None = "www.example.com") -> ClientHello:
    return exposure_tests.hello(
        cipher_suites=(0x1301,), server_name=sni, alpn=("h2",), ja4="t13d1516h2_abc_def"
    )


def cert() -> Certificate:
    return exposure_tests.cert(issuer="CN=Example CA", san_dns=("www.example.com",))


def tls_info(
    version: int = 0x0304, *, decrypted: bool = False, sni: str | None = "www.example.com"
) -> TlsInfo:
    sh = ServerHello(
        frame=6,
        record_version=0x0303,
        legacy_version=0x0303,
        random=b"",
        session_id=b"",
        cipher_suite=0x1301,
        compression_method=0,
        extensions=(),
        selected_version=version,
    )
    return TlsInfo(
        client_hello=hello(sni),
        server_hello=sh,
        version=version,
        cipher_suite=0x1301 if version == 0x0304 else 0xC02F,
        certificates=(cert(),) if version != 0x0304 else (),
        certificates_visibility="cleartext" if version != 0x0304 else "encrypted",
        app_data_bytes=(500, 4000),
        app_data_records=(2, 3),
        decrypted=decrypted,
    )


def flow(
    fid: int,
    *,
    http: tuple[HttpExchange, ...] = (),
    tls: TlsInfo | None = None,
    t: float = 100.0,
    client_ip: str = "10.0.0.2",
    port: int = 80,
) -> Flow:
    exposures = tuple(e for ex in http for e in exchange_exposures(ex))
    if tls is not None:
        exposures = tls_exposures(tls) + exposures
    return Flow(
        id=fid,
        transport="tcp",
        client_ip=client_ip,
        client_port=40000 + fid,
        server_ip="192.0.2.10",
        server_port=port,
        first_frame=1,
        last_frame=10,
        first_seen=t,
        last_seen=t + 1.5,
        frames=10,
        bytes_client=300,
        bytes_server=900,
        app_protocol="tls" if tls else "http",
        tls=tls,
        http=http,
        exposures=exposures,
    )


def get(
    uri: str = "/", *, host: str = "www.example.com", status: int = 200, inside: bool = False, **kw: object
) -> HttpExchange:
    base: dict[str, object] = {
        "frame": 3,
        "method": "GET",
        "uri": uri,
        "host": host,
        "status": status,
        "response_frame": 5,
        "inside_tls": inside,
    }
    base.update(kw)
    return HttpExchange(**base)  # type: ignore[arg-type]


def rules(findings: dict[int, tuple[object, ...]], fid: int) -> list[str]:
    return [f.rule for f in findings.get(fid, ())]  # type: ignore[attr-defined]


def test_cleartext_credentials_and_login_form() -> None:
    login = HttpExchange(
        frame=3,
        method="POST",
        uri="/login",
        host="a.example",
        status=200,
        response_frame=5,
        request_headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        request_body_sample=b"user=al&password=hunter22",
    )
    page = get(
        "/login", host="a.example", response_body_sample=b'<form><input type="password" name="p"></form>'
    )
    found = cross_flow_findings([flow(1, http=(page, login))])
    assert "http.cleartext-credentials" in rules(found, 1)
    assert "http.login-form-cleartext" in rules(found, 1)
    cred = next(f for f in found[1] if f.rule == "http.cleartext-credentials")
    assert cred.severity == "high" and "hunter22" not in cred.evidence and "pa****22" in cred.evidence
    shown = cross_flow_findings([flow(1, http=(login,))], show_secrets=True)
    assert "password=hunter22" in next(f for f in shown[1] if f.rule == "http.cleartext-credentials").evidence
    # negative: the same inside TLS
    inside = HttpExchange(
        frame=3,
        method="POST",
        uri="/login",
        host="a",
        status=200,
        inside_tls=True,
        request_body_sample=b"password=hunter22",
    )
    assert "http.cleartext-credentials" not in rules(
        cross_flow_findings([flow(2, http=(inside,), tls=tls_info(decrypted=True))]), 2
    )


def test_cookie_without_secure() -> None:
    bad = get(response_headers=(("Set-Cookie", "sid=abc123"),))
    good = get(response_headers=(("Set-Cookie", "sid=abc123; Secure; HttpOnly"),))
    assert [
        f.severity
        for f in cross_flow_findings([flow(1, http=(bad,))])[1]
        if f.rule == "http.cookie-without-secure"
    ] == ["medium"]
    assert "http.cookie-without-secure" not in rules(cross_flow_findings([flow(1, http=(good,))]), 1)
    inside = get(inside=True, response_headers=(("Set-Cookie", "sid=abc123"),))
    got = cross_flow_findings([flow(1, http=(inside,), tls=tls_info(decrypted=True))])
    assert [f.severity for f in got[1] if f.rule == "http.cookie-without-secure"] == ["low"]


def test_mixed_host_and_insecure_subresource() -> None:
    tls_flow = flow(1, tls=tls_info(), t=100.0, port=443)
    same_host = flow(2, http=(get(host="www.example.com:80"),), t=101.0)
    other_host = flow(3, http=(get("/jquery.js", host="cdn.example.net"),), t=102.0)
    late = flow(4, http=(get("/x.js", host="cdn.example.net"),), t=200.0)
    other_client = flow(5, http=(get("/y.js", host="cdn.example.net"),), t=101.0, client_ip="10.0.0.9")
    ocsp = flow(
        6,
        http=(
            get(
                "/ocsp",
                host="ocsp.ca.example",
                request_headers=(("Content-Type", "application/ocsp-request"),),
            ),
        ),
        t=101.0,
    )
    found = cross_flow_findings([tls_flow, same_host, other_host, late, other_client, ocsp])
    assert "http.mixed-host" in rules(found, 2)
    assert "http.insecure-subresource" not in rules(found, 2)  # same host: mixed-host covers it
    assert "http.insecure-subresource" in rules(found, 3)
    assert "http.mixed-host" not in rules(found, 3)
    assert "http.insecure-subresource" not in rules(found, 4)
    assert "http.insecure-subresource" not in rules(found, 5)
    assert "http.insecure-subresource" not in rules(found, 6)
    assert "http.no-https-redirect" not in rules(found, 6)


def test_redirect_rules() -> None:
    redirect = get(status=301, response_headers=(("Location", "https://www.example.com/"),))
    plain = get(status=200)
    to_http = get(status=302, response_headers=(("Location", "http://elsewhere/"),))
    found = cross_flow_findings([flow(1, http=(redirect,)), flow(2, http=(plain,)), flow(3, http=(to_http,))])
    assert rules(found, 1) == ["http.redirects-to-https"]
    assert found[1][0].severity == "info"
    assert "http.no-https-redirect" in rules(found, 2)
    assert "http.no-https-redirect" in rules(found, 3)


def test_cleartext_hop() -> None:
    front = flow(
        1,
        tls=tls_info(decrypted=True),
        http=(get("/api/orders/42", inside=True, request_headers=(("Cookie", "sid=tok-abcdef"),)),),
        port=443,
    )
    back = flow(
        2,
        http=(get("/api/orders/42", host="10.1.1.1:8080", request_headers=(("Cookie", "sid=tok-abcdef"),)),),
        client_ip="10.1.1.2",
    )
    back_path_only = flow(3, http=(get("/api/orders/42", host="10.1.1.1:8080"),), client_ip="10.1.1.2")
    unrelated = flow(4, http=(get("/"),), client_ip="10.1.1.2")
    found = cross_flow_findings([front, back, back_path_only, unrelated])
    hop = [f for f in found[2] if f.rule == "http.cleartext-hop"]
    assert hop and hop[0].severity == "high" and "tok-abcdef" not in hop[0].evidence
    assert [f.severity for f in found[3] if f.rule == "http.cleartext-hop"] == ["medium"]
    assert "http.cleartext-hop" not in rules(found, 4)
    assert "http.cleartext-hop" not in rules(found, 1)


def test_websocket_cleartext() -> None:
    from tlsinspect.model import Exposure

    ws = get("/chat", status=101, protocol="websocket")
    f = flow(1, http=(ws,))
    f2 = Flow(
        **{
            **{s: getattr(f, s) for s in f.__slots__},
            "app_protocol": "websocket",
            "exposures": f.exposures
            + (
                Exposure(
                    kind="websocket-message",
                    frame=9,
                    where="websocket text message from client",
                    value="hello there friend",
                ),
            ),
        }
    )  # type: ignore[arg-type]
    found = cross_flow_findings([f2])
    assert "websocket.cleartext" in rules(found, 1)
    assert "hello there friend" not in next(x for x in found[1] if x.rule == "websocket.cleartext").evidence
    assert "websocket.cleartext" not in rules(cross_flow_findings([flow(2, http=(get(),))]), 2)


def test_no_findings_for_plain_tls_flow() -> None:
    assert cross_flow_findings([flow(1, tls=tls_info(), port=443)]) == {}


def test_cleartext_hop_not_for_a_common_path_on_another_site() -> None:
    """GET /account inside TLS on shop.example and in clear on www.example is not a proxy hop."""
    front = flow(
        1, tls=tls_info(decrypted=True), http=(get("/account", inside=True, host="shop.example"),), port=443
    )
    other_site = flow(2, http=(get("/account", host="www.example"),), client_ip="10.1.1.2")
    same_site = flow(3, http=(get("/account", host="shop.example:8080"),), client_ip="10.1.1.2")
    found = cross_flow_findings([front, other_site, same_site])
    assert "http.cleartext-hop" not in rules(found, 2)
    assert [f.severity for f in found[3] if f.rule == "http.cleartext-hop"] == ["medium"]
