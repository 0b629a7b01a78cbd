"""The filter language: a table of expressions over hand-built flows and over the bundled lab capture, the
errors a person sees, and the promise that any text compiles or raises QueryError with a one-line message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from session_helpers import read_flows
from test_observer import flow, get, tls_info

from tlsinspect.analysis.query import FIELDS, MAX_DEPTH, Query, QueryError, compile_query, validate
from tlsinspect.model import Finding, Flow, HttpExchange, evolve

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def finding(rule: str, severity: str) -> Finding:
    return Finding(rule=rule, severity=severity, title=rule, detail="")


def _flows() -> list[Flow]:
    login = get(
        "/login", host="shop.example:8080", method="POST", request_body_sample=b"user=a&password=hunter22"
    )
    plain = evolve(
        flow(1, http=(login,), port=80),
        findings=(finding("http.cleartext-credentials", "high"), finding("http.no-https-redirect", "low")),
    )
    tls13 = evolve(flow(2, tls=tls_info(0x0304, decrypted=True), port=443), state="closed")
    tls12 = flow(3, tls=evolve(tls_info(0x0303, sni="shop.example"), cipher_suite=0x003C), port=8443)
    tls12 = evolve(
        tls12, findings=(finding("cert.expired", "high"), finding("tls.cipher-cbc-legacy", "info"))
    )
    quic = evolve(
        flow(4, tls=tls_info(0x0304, sni="video.example.net")),
        transport="udp",
        app_protocol="quic",
        client_ip="2001:db8::5",
        server_ip="2001:db8:1::1",
        server_port=443,
    )
    dtls = evolve(
        flow(5, tls=evolve(tls_info(0xFEFF, sni=None), resumed=True), port=4433),
        transport="udp",
        app_protocol="dtls",
        state="evicted",
    )
    null = evolve(
        flow(6, tls=evolve(tls_info(0x0300, sni=None), cipher_suite=0x0002), client_ip="10.9.8.7", port=443),
        findings=(finding("tls.cipher-null", "critical"), finding("tls.version-obsolete", "critical")),
    )
    other = evolve(flow(7, client_ip="10.1.2.3", port=22), app_protocol="unknown")
    ws = HttpExchange(
        frame=3, method="GET", uri="/chat", host="chat.example", status=101, protocol="websocket"
    )
    websocket = evolve(flow(8, http=(ws,), port=8080), app_protocol="websocket", state="ended")
    return [plain, tls13, tls12, quic, dtls, null, other, websocket]


FLOWS = _flows()

CASES: list[tuple[str, list[int]]] = [
    ("", [1, 2, 3, 4, 5, 6, 7, 8]),
    # the first filter's forms keep their meaning
    ("sni:shop", [3]),
    ("sni:shop port:8443", [3]),
    ("sni:shop port:80", []),
    ("port:80", [1]),
    ("host:192.0.2.10 proto:http", [1]),
    ("host:shop.example", [1]),  # the HTTP Host without its port
    ("host:shop.example:8080", [1]),
    ("proto:tls", [2, 3, 6]),
    ("shop", [1, 3]),  # a bare word: part of an SNI, an HTTP Host or an IP
    ("10.9", [6]),
    # wildcards, quotes, case
    ("sni:*.EXAMPLE.com", [2]),
    ("sni:*.example.*", [2, 4]),
    ("sni:www.example.co?", [2]),
    ('sni:"www.example.com"', [2]),
    ('"chat"', [8]),
    ('sni:"www.example.co\\?"', []),  # an escaped wildcard is the character itself
    ("sni:www.**.com", [2]),
    ("host:chat.*", [8]),
    # and / or / not, symbols, parentheses, juxtaposition
    ("proto:tls or proto:quic", [2, 3, 4, 6]),
    ("proto:tls || proto:quic", [2, 3, 4, 6]),
    ("proto:tls && port:443", [2, 6]),
    ("not proto:tls and transport:tcp", [1, 7, 8]),
    ("!transport:tcp", [4, 5]),
    ("(proto:tls or proto:quic) and not decrypted", [3, 4, 6]),
    ("proto:tls or proto:quic and not decrypted", [2, 3, 4, 6]),  # and binds tighter than or
    ("NOT (port:443 OR port:80)", [3, 5, 7, 8]),
    ("proto!=tls transport:tcp", [1, 7, 8]),
    # ip: addresses, networks, patterns, v6
    ("ip:10.0.0.0/8", [1, 2, 3, 5, 6, 7, 8]),
    ("ip:10.1.2.3", [7]),
    ("ip:2001:db8::/32", [4]),
    ("ip:2001:0db8:1:0::1", [4]),
    ("ip:10.9.*", [6]),
    ("2001:db8::5", [4]),  # a bare IPv6 address is a word, not a field
    # ports
    ("port>1024", [1, 2, 3, 4, 5, 6, 7, 8]),
    ("port<1024 and port>=443", [1, 2, 4, 6, 7]),  # each term on either side: 80 and 40001 both count
    ("port<1024 and not port<443", [2, 4, 6]),
    ("port<=22", [7]),
    # protocols, transport, state
    ("app:websocket", [8]),
    ("proto:dtls", [5]),
    ("proto:*", [1, 2, 3, 4, 5, 6, 7, 8]),
    ("transport:udp", [4, 5]),
    ("state:evicted or state:ended", [5, 8]),
    ("state:open", [1, 3, 4, 6, 7]),
    # versions: TLS scale, DTLS and QUIC, SSL 3.0 = 0.3, wire codes
    ("version:tls1.3", [2, 4]),
    ("version:1.3", [2, 4]),
    ("version>=1.2", [2, 3, 4]),
    ("version<1.2", [5, 6]),  # DTLS 1.0 counts as 1.1, SSL 3.0 as 0.3
    ("version<tls1.2", [6]),
    ("version:dtls1.0", [5]),
    ("version<=dtls1.2", [5]),
    ("version:ssl3", [6]),
    ("version:0.3", [6]),
    ("version<1.0", [6]),
    ("version:0x0303", [3]),
    ("version>0x0303", [2, 4]),
    ('version:"TLS 1.2"', [3]),
    ("version:tlsv1_2", [3]),
    ("not version>=1.0", [1, 6, 7, 8]),  # no negotiated version: matches no version term
    # suites, ALPN
    ("suite:*CBC*", [3]),
    ("suite:tls_aes_128_gcm_sha256", [2, 4]),
    ("suite:0x003c", [3]),
    ("suite:*NULL*", [6]),
    ("alpn:h2", [2, 3, 4, 5, 6]),
    ("alpn:http/1.1", []),
    # findings, severities, exposures
    ("finding:cert.expired", [3]),
    ("finding:cert.*", [3]),
    ("finding:*", [1, 3, 6]),
    ("finding:tls.cipher-*", [3, 6]),
    ("severity>=high", [1, 3, 6]),
    ("severity:critical", [6]),
    ("severity<low", [3]),
    ("not severity>=medium", [2, 4, 5, 7, 8]),
    ("exposure:password-field", [1]),
    ("exposure:*cookie*", []),
    ("exposure:sni", [2, 3, 4]),
    ("exposure:http-*", [1, 8]),
    # booleans
    ("cleartext", [1, 6, 8]),  # HTTP outside TLS, TLS under a NULL cipher, ws://
    ("cleartext:no", [2, 3, 4, 5, 7]),
    ("cleartext:TRUE", [1, 6, 8]),
    ("decrypted", [2]),
    ("not decrypted and proto:tls", [3, 6]),
    ("decrypted:false proto:tls", [3, 6]),
    ("resumed", [5]),
    ("resumed=yes or cleartext=yes", [1, 5, 6, 8]),
    ('"cleartext"', []),  # quoted, a keyword or field name is a word
]


@pytest.mark.parametrize(("expr", "ids"), CASES)
def test_table(expr: str, ids: list[int]) -> None:
    q = compile_query(expr)
    assert [f.id for f in FLOWS if q(f)] == ids
    assert q.text == expr and validate(expr) is None


@pytest.mark.parametrize(
    ("expr", "message", "position"),
    [
        (
            "colour:red",
            "unknown field 'colour' (fields: sni, host, ip, port, proto, transport, version, suite, alpn, "
            "finding, severity, exposure, cleartext, decrypted, resumed, state)",
            0,
        ),
        ("sni:a prto:tls", "unknown field 'prto' (did you mean 'proto'?", 6),
        ("port:", "expected a value after 'port:'", 5),
        ("port: 443", "expected a value after 'port:'", 5),
        ("port:https", "port must be a number from 0 to 65535 (not 'https')", 5),
        ("port:70000", "port must be a number from 0 to 65535", 5),
        ("(sni:a or sni:b", "unbalanced parenthesis at column 1: '(' is never closed", 0),
        ("sni:a or sni:b) and x", "unbalanced parenthesis at column 15: this ')' closes nothing", 14),
        ("()", "empty parentheses at column 1", 0),
        ("version:3.0", "version must be like 1.2, tls1.3, dtls1.2, ssl3 or 0x0303 (not '3.0')", 8),
        ("version>tls", "version must be like 1.2", 8),
        ("version<0x9999", "unknown version code '0x9999'", 8),
        ("version:dtls1.1", "version must be like", 8),
        ("severity>=severe", "severity must be one of info, low, medium, high, critical (not 'severe')", 10),
        ("sni<x", "sni takes ':' or '=' (not '<'): it has no order", 3),
        ("proto:htp", "proto must be one of tls, http, websocket, quic, dtls, unknown (not 'htp')", 6),
        ("transport:sctp", "transport must be one of tcp, udp", 10),
        ("cleartext:maybe", "cleartext takes yes, no, true or false (not 'maybe')", 10),
        ("ip:10.0.0.0/33", "ip must be an address, a network like 10.0.0.0/8", 3),
        ('sni:"shop', "unterminated quote at column 5", 4),
        ("sni:a and", "expected a term after 'and' at column 7", 9),
        ("sni:a or or sni:b", "expected a term after 'or' at column 7", 9),
        ("not", "expected a term after 'not' at column 1", 3),
        ("and sni:a", "'and' needs a term before it (column 1)", 0),
        ("sni:a & port:1", "a single '&' at column 7: write '&&' or 'and'", 6),
        ("sni:a | port:1", "a single '|' at column 7: write '||' or 'or'", 6),
        ("not " * (MAX_DEPTH + 1) + "x", f"nested too deeply at column {4 * MAX_DEPTH + 1}", 4 * MAX_DEPTH),
    ],
)
def test_errors(expr: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as exc:
        compile_query(expr)
    assert exc.value.message.startswith(message) and str(exc.value) == exc.value.message
    assert exc.value.position == position
    assert isinstance(exc.value, ValueError)
    error = validate(expr)
    assert error is not None and error.message == exc.value.message


def test_nesting_within_the_limit() -> None:
    q = compile_query("(" * (MAX_DEPTH - 1) + "port:443" + ")" * (MAX_DEPTH - 1))
    assert [f.id for f in FLOWS if q(f)] == [2, 4, 6]


def test_fields_table_describes_every_field() -> None:
    names = [f.name for f in FIELDS]
    assert len(set(names)) == len(names)
    assert {"sni", "host", "ip", "port", "proto", "transport", "version", "suite", "alpn", "finding"} <= set(
        names
    )
    for f in FIELDS:
        assert f.help and "\n" not in f.help
        assert validate(f.example) is None, f.example
        assert f.name in f.example
        for v in f.values:
            assert validate(f"{f.name}:{v}") is None
        for alias in f.aliases:
            assert validate(f"{alias}:{f.example.partition(':')[2]}") is None


def test_query_is_a_value() -> None:
    q = compile_query("sni:shop")
    assert isinstance(q, Query) and q == compile_query("sni:shop") and "sni:shop" in repr(q)


_ALPHABET = st.sampled_from(list('sniportversion:=<>!&|()"*?\\ .-0123456789x/\n\tandornot') + ["\u2028", "é"])
_PIECES = st.sampled_from(
    [
        "sni:",
        "port",
        "version",
        "<=",
        ">",
        "!=",
        " and ",
        " or ",
        "not ",
        "(",
        ")",
        '"',
        "ip:",
        "::1",
        "0x03",
        "tls1.",
        "cleartext",
        "&&",
        "||",
        "!",
        "*",
        "severity>=",
        "proto:",
        "finding:",
        "/8",
        "\\",
        " ",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40), st.text(_ALPHABET, max_size=40), st.lists(_PIECES, max_size=12).map("".join)
    )
)
def test_any_text_compiles_or_raises_query_error(text: str) -> None:
    try:
        q = compile_query(text)
    except QueryError as e:
        assert len(e.message.splitlines()) == 1 and 0 <= e.position <= len(text)
        assert validate(text) is not None
        return
    assert validate(text) is None
    for f in FLOWS:
        assert q(f) in (True, False)


LAB_CASES: list[tuple[str, list[int]]] = [
    ("cleartext", [1, 2, 3, 4, 6, 10, 15]),
    ("decrypted", [5, 7, 8, 9, 11, 12, 13, 16]),
    ("version<1.3 and not decrypted", [14]),
    ("version:tls1.3", [5, 9, 16]),
    ("suite:*CBC*", [8]),
    ("finding:cert.*", [11, 12, 13]),
    ("severity>=high and proto:tls", [8, 11, 12]),
    ("exposure:password-field", [1]),
    ("exposure:*cookie*", [1, 5]),
    ("exposure:http-basic-auth and not cleartext", [9]),  # read inside TLS with the key log
    ("host:proxy.lab.test", [9, 10]),
    ("sni:lab.test port:47443", [5]),
    ("proto:websocket", [15]),
    ("finding:http.cleartext-hop", [10]),
]


@pytest.fixture(scope="module")
def lab() -> list[Flow]:
    from tlsinspect.analysis.pipeline import Analyzer
    from tlsinspect.capture.inputs import load_trust_store, read_keylog

    analyse = Analyzer(
        load_trust_store([str(CAPTURES / "observer-lab-ca.pem")], use_certifi=False), now=time.time()
    )
    keylog = read_keylog(str(CAPTURES / "observer-lab.keylog"))
    return read_flows(CAPTURES / "observer-lab.pcapng", keylog=keylog, analyse=analyse)


@pytest.mark.parametrize(("expr", "ids"), LAB_CASES)
def test_lab_capture(lab: list[Flow], expr: str, ids: list[int]) -> None:
    q = compile_query(expr)
    assert [f.id for f in lab if q(f)] == ids
