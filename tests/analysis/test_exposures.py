"""tlsinspect.analysis.exposures: masking, what the writers show, and the names a TLS handshake exposes."""

from __future__ import annotations

from tlsinspect.analysis.exposures import mask, redact_uri, shown_value, tls_exposures
from tlsinspect.model import Certificate, ClientHello, ServerHello, TlsInfo


def test_mask_rules() -> None:
    assert mask("flagtheuntil") == "fl****il"
    assert mask("alice:wonderland1") == "al****d1"
    assert mask("secret1") == "s****1"
    assert mask("hunter") == "****"
    assert mask("a") == "****"
    assert mask("") == ""
    for n in range(1, 40):
        shown = mask("z" * n).replace("****", "")
        assert len(shown) <= 4 and len(shown) <= n // 3 + (n >= 12)


def test_shown_value_masks_all_but_public_names() -> None:
    assert shown_value("cookie", "sid=abcdefghijkl", False) == "si****kl"
    assert shown_value("cookie", "sid=abcdefghijkl", True) == "sid=abcdefghijkl"
    assert shown_value("sni", "www.example.com", False) == "www.example.com"
    assert (
        shown_value("http-request", "GET h /a?token=abcdefghijkl&x=1", False) == "GET h /a?token=ab****kl&x=1"
    )
    assert redact_uri("/p?q=1") == "/p?q=1" and redact_uri("/p") == "/p"


def cert(**kw: object) -> Certificate:
    base: dict[str, object] = dict(
        der=b"",
        subject="CN=www.example.com",
        issuer="CN=CA",
        serial="01",
        not_before="",
        not_after="",
        san_dns=("www.example.com", "example.com"),
        san_ip=(),
        sha256="",
        key_type="EC",
        key_bits=256,
        signature_algorithm="ecdsa-with-SHA256",
        is_ca=False,
        self_signed=False,
        common_name="www.example.com",
    )
    base.update(kw)
    return Certificate(**base)  # type: ignore[arg-type]


def hello(**kw: object) -> ClientHello:
    base: dict[str, object] = dict(
        frame=4,
        record_version=0x0301,
        legacy_version=0x0303,
        random=b"",
        session_id=b"",
        cipher_suites=(),
        compression_methods=(0,),
        extensions=(),
        server_name="www.example.com",
        alpn=("h2", "http/1.1"),
    )
    base.update(kw)
    return ClientHello(**base)  # type: ignore[arg-type]


def test_tls_exposures_tls12_cleartext_certificate() -> None:
    sh = ServerHello(
        frame=6,
        record_version=0x0303,
        legacy_version=0x0303,
        random=b"",
        session_id=b"",
        cipher_suite=0xC02F,
        compression_method=0,
        extensions=(),
        alpn="h2",
    )
    tls = TlsInfo(
        client_hello=hello(),
        server_hello=sh,
        version=0x0303,
        certificates=(cert(),),
        certificates_visibility="cleartext",
    )
    got = [(e.kind, e.where, e.value, e.frame) for e in tls_exposures(tls)]
    assert got == [
        ("sni", "ClientHello server_name", "www.example.com", 4),
        ("alpn", "ClientHello application_layer_protocol_negotiation", "h2,http/1.1", 4),
        ("alpn", "ServerHello application_layer_protocol_negotiation", "h2", 6),
        ("certificate-name", "Certificate subject CN", "www.example.com", 6),
        ("certificate-name", "Certificate subjectAltName dNSName", "www.example.com", 6),
        ("certificate-name", "Certificate subjectAltName dNSName", "example.com", 6),
    ]


def test_tls_exposures_tls13_hides_certificate() -> None:
    tls = TlsInfo(
        client_hello=hello(alpn=()),
        version=0x0304,
        certificates=(cert(),),
        certificates_visibility="encrypted",
    )
    assert [e.kind for e in tls_exposures(tls)] == ["sni"]
    assert tls_exposures(TlsInfo(client_hello=hello(server_name=None, alpn=()))) == ()
    assert all(e.inside_tls for e in tls_exposures(TlsInfo(client_hello=hello()), inside=True))
