"""Handshake message parsers on real bytes from Python's ssl module (MemoryBIO pairs) and on crafted bodies.

Every parser: the whole body (exact values, cross-checked with scapy's TLS dissector where it has one),
trailing junk, truncation at every offset (value or DecodeError only), and a hypothesis fuzz test asserting
that nothing but DecodeError escapes.
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from memtls import converse, write_self_signed

from tlsinspect.errors import DecodeError
from tlsinspect.model import freeze
from tlsinspect.parse import tls_handshake as hs
from tlsinspect.parse.tls_handshake import (
    HRR_RANDOM,
    parse_certificate_list,
    parse_client_hello,
    parse_compressed_certificate,
    parse_new_session_ticket,
    parse_server_hello,
    parse_server_key_exchange,
    parse_sslv2_client_hello,
)

# ---------------------------------------------------------------------------------------------------------------
# Real handshakes, in memory
# ---------------------------------------------------------------------------------------------------------------


def _ffdhe2048_prime() -> int:
    """RFC 7919 ffdhe2048: p = 2^2048 - 2^1984 + (floor(2^1918 * e) + 560316) * 2^64 - 1."""
    guard = 64
    one = 1 << (1918 + guard)
    total, term, k = 0, one, 0
    while term:
        total += term
        k += 1
        term //= k
    return 2**2048 - 2**1984 + ((total >> guard) + 560316) * 2**64 - 1


FFDHE2048 = _ffdhe2048_prime()


def _der_int(v: int) -> bytes:
    raw = v.to_bytes(v.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_len(len(raw)) + raw


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def dh_params_pem() -> bytes:
    import base64

    body = _der_int(FFDHE2048) + _der_int(2)
    der = b"\x30" + _der_len(len(body)) + body
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN DH PARAMETERS-----\n" + "\n".join(lines) + "\n-----END DH PARAMETERS-----\n").encode()


@dataclass
class Pki:
    cert: str
    key: str
    der: bytes
    dh: str


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    cert, key, der = write_self_signed(
        d, rsa.generate_private_key(public_exponent=65537, key_size=2048), 4242
    )
    (d / "dh.pem").write_bytes(dh_params_pem())
    return Pki(cert, key, der, str(d / "dh.pem"))


def contexts(
    pki: Pki, *, tls13: bool, ciphers: str | None = None, dh: bool = False
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.cert, pki.key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    for ctx in (server, client):
        if tls13:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        else:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if ciphers:
            ctx.set_ciphers(ciphers)
    if dh:
        server.load_dh_params(pki.dh)
    client.set_alpn_protocols(["h2", "http/1.1"])
    server.set_alpn_protocols(["http/1.1"])
    return server, client


def records(stream: bytes) -> list[tuple[int, int, bytes]]:
    out, pos = [], 0
    while pos < len(stream):
        ct, ver, ln = (
            stream[pos],
            int.from_bytes(stream[pos + 1 : pos + 3], "big"),
            int.from_bytes(stream[pos + 3 : pos + 5], "big"),
        )
        out.append((ct, ver, stream[pos + 5 : pos + 5 + ln]))
        pos += 5 + ln
    assert pos == len(stream)
    return out


def cleartext_messages(stream: bytes) -> list[tuple[int, bytes]]:
    """Handshake messages before the first ChangeCipherSpec / application data record."""
    buf = b""
    for ct, _, body in records(stream):
        if ct != 22:
            break
        buf += body
    out, pos = [], 0
    while pos + 4 <= len(buf):
        n = int.from_bytes(buf[pos + 1 : pos + 4], "big")
        if pos + 4 + n > len(buf):
            break  # a TLS 1.3 stream: encrypted after the ServerHello
        out.append((buf[pos], buf[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    return out


@dataclass
class Conn:
    client: list[tuple[int, bytes]]
    server: list[tuple[int, bytes]]
    client_bytes: bytes
    server_bytes: bytes

    def first(self, side: str, msg_type: int) -> bytes:
        for t, body in self.client if side == "c" else self.server:
            if t == msg_type:
                return body
        raise AssertionError(f"no message {msg_type}")


def conn(server: ssl.SSLContext, client: ssl.SSLContext) -> Conn:
    cb, sb = converse(server, client)
    return Conn(cleartext_messages(cb), cleartext_messages(sb), cb, sb)


@pytest.fixture(scope="module")
def ecdhe12(pki: Pki) -> Conn:
    return conn(*contexts(pki, tls13=False, ciphers="ECDHE-RSA-AES128-GCM-SHA256"))


@pytest.fixture(scope="module")
def dhe12(pki: Pki) -> Conn:
    return conn(*contexts(pki, tls13=False, ciphers="DHE-RSA-AES256-GCM-SHA384", dh=True))


@pytest.fixture(scope="module")
def tls13(pki: Pki) -> Conn:
    return conn(*contexts(pki, tls13=True))


@pytest.fixture(scope="module")
def hrr13(pki: Pki) -> Conn:
    server, client = contexts(pki, tls13=True)
    server.set_ecdh_curve("prime256v1")  # the client's x25519 key share is refused: HelloRetryRequest
    return conn(server, client)


# ---------------------------------------------------------------------------------------------------------------
# ClientHello
# ---------------------------------------------------------------------------------------------------------------


def _scapy_client_hello(stream: bytes) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scapy.layers.tls.record import TLS

        return TLS(stream).msg[0]


def test_client_hello_tls12_exact(ecdhe12: Conn) -> None:
    body = ecdhe12.first("c", hs.HT_CLIENT_HELLO)
    ch = parse_client_hello(body, frame=3, record_version=0x0301)
    oracle = _scapy_client_hello(ecdhe12.client_bytes)
    assert ch.frame == 3
    assert ch.record_version == 0x0301
    assert ch.legacy_version == 0x0303
    assert ch.random == body[2:34]
    assert ch.session_id == b""
    assert ch.cipher_suites == (0xC02F, 0x00FF) == tuple(oracle.ciphers)  # type: ignore[attr-defined]
    assert ch.compression_methods == (0,)
    assert [e.type for e in ch.extensions] == [e.type for e in oracle.ext]  # type: ignore[attr-defined]
    assert ch.server_name == "localhost"
    assert ch.alpn == ("h2", "http/1.1")
    assert ch.supported_versions == ()
    assert 0x1D in ch.supported_groups and 0x17 in ch.supported_groups
    assert ch.ec_point_formats == (0, 1, 2)
    assert 0x0804 in ch.signature_algorithms
    assert ch.key_share_groups == ()
    assert ch.has_extensions_block
    assert not ch.sslv2
    ext = {e.type: e for e in ch.extensions}
    assert ext[0].value == {"names": ({"type": 0, "name": "localhost"},)}
    assert ext[16].data == bytes.fromhex("000c02683208687474702f312e31")


def test_client_hello_tls13_exact(tls13: Conn) -> None:
    body = tls13.first("c", hs.HT_CLIENT_HELLO)
    ch = parse_client_hello(body, frame=1, record_version=0x0301)
    oracle = _scapy_client_hello(tls13.client_bytes)
    assert ch.legacy_version == 0x0303
    assert len(ch.session_id) == 32  # middlebox compatibility mode
    assert ch.cipher_suites[:3] == (0x1302, 0x1303, 0x1301)
    assert ch.cipher_suites == tuple(oracle.ciphers)  # type: ignore[attr-defined]
    assert ch.supported_versions == (0x0304,)
    assert ch.key_share_groups == (0x1D,)
    assert ch.psk_key_exchange_modes == (1,)
    assert ch.server_name == "localhost"
    assert ch.alpn == ("h2", "http/1.1")
    assert all("error" not in (e.value or {}) for e in ch.extensions if isinstance(e.value, dict))


def test_small_extensions_are_decoded_once_and_shared(tls13: Conn) -> None:
    """`hs.extension` remembers small extensions by (type, bytes, context): two hellos of one client share them,
    per-connection ones (key share) are decoded each time, and every value is what a fresh decode gives."""
    from tlsinspect.parse import tls_extensions as te

    body = tls13.first("c", hs.HT_CLIENT_HELLO)
    hs._shared.cache_clear()
    first = parse_client_hello(body, frame=1, record_version=0x0301)
    again = parse_client_hello(body, frame=2, record_version=0x0301)
    shared = {a.type for a, b in zip(first.extensions, again.extensions, strict=True) if a is b}
    assert {10, 13, 43} <= shared  # supported_groups, signature_algorithms, supported_versions
    assert 51 not in shared  # key_share differs per connection
    for e in again.extensions:
        assert e.decoded == freeze(te.decode_extension(e.type, e.data, "ch"))
    hs._shared.cache_clear()  # decoded afresh: the same hello
    assert parse_client_hello(body, frame=2, record_version=0x0301) == again


def test_client_hello_without_extensions_block() -> None:
    body = b"\x03\x01" + b"R" * 32 + b"\x00" + b"\x00\x02\x00\x2f" + b"\x01\x00"
    ch = parse_client_hello(body, frame=0, record_version=0x0301)
    assert ch.has_extensions_block is False
    assert ch.extensions == ()
    assert ch.cipher_suites == (0x2F,)
    assert ch.server_name is None
    # An empty extensions block is a block.
    ch = parse_client_hello(body + b"\x00\x00", frame=0, record_version=0x0301)
    assert ch.has_extensions_block is True


def test_client_hello_malformed() -> None:
    base = b"\x03\x03" + b"R" * 32
    with pytest.raises(DecodeError, match="session_id of 33 bytes"):
        parse_client_hello(
            base + b"\x21" + b"S" * 33 + b"\x00\x02\x00\x2f\x01\x00", frame=0, record_version=0
        )
    with pytest.raises(DecodeError, match="odd length"):
        parse_client_hello(base + b"\x00\x00\x03\x00\x2f\x00\x01\x00", frame=0, record_version=0)
    with pytest.raises(DecodeError, match="extension data"):
        parse_client_hello(
            base + b"\x00\x00\x02\x00\x2f\x01\x00\x00\x04\x00\x00\x00\x05", frame=0, record_version=0
        )


def test_client_hello_bad_extension_body_does_not_fail_the_hello() -> None:
    sni_bad = b"\x00\x00\x00\x03\x00\x01\x00"  # server_name with a truncated list
    body = (
        b"\x03\x03" + b"R" * 32 + b"\x00\x00\x02\x13\x01\x01\x00" + len(sni_bad).to_bytes(2, "big") + sni_bad
    )
    ch = parse_client_hello(body, frame=0, record_version=0x0301)
    assert ch.server_name is None
    assert set(ch.extensions[0].value) == {"error"}


def _truncations(body: bytes, parse: object) -> list[str]:
    outcomes = []
    for cut in range(len(body)):
        try:
            parse(body[:cut])  # type: ignore[operator]
            outcomes.append("value")
        except DecodeError:
            outcomes.append("error")
    return outcomes


def test_client_hello_every_truncation_and_trailing(tls13: Conn, ecdhe12: Conn) -> None:
    for c in (tls13, ecdhe12):
        body = c.first("c", hs.HT_CLIENT_HELLO)

        def parse(b: bytes) -> object:
            return parse_client_hello(b, frame=0, record_version=0x0301)

        out = _truncations(body, parse)
        # Only the cut right after compression_methods leaves a complete (extension-less) hello.
        sid = body[34]
        ncs = int.from_bytes(body[35 + sid : 37 + sid], "big")
        end_of_compression = 37 + sid + ncs + 1 + body[37 + sid + ncs]
        assert [i for i, o in enumerate(out) if o == "value"] == [end_of_compression]
        with pytest.raises(DecodeError, match="1 bytes after the ClientHello extensions"):
            parse(body + b"\x00")


# ---------------------------------------------------------------------------------------------------------------
# ServerHello and HelloRetryRequest
# ---------------------------------------------------------------------------------------------------------------


def test_server_hello_tls12(ecdhe12: Conn) -> None:
    body = ecdhe12.first("s", hs.HT_SERVER_HELLO)
    sh = parse_server_hello(body, frame=5, record_version=0x0303)
    assert sh.frame == 5
    assert sh.legacy_version == 0x0303
    assert sh.cipher_suite == 0xC02F
    assert sh.compression_method == 0
    assert sh.selected_version is None
    assert sh.alpn == "http/1.1"
    assert sh.is_hrr is False
    assert sh.random == body[2:34]
    assert sh.random[24:] != b"DOWNGRD\x01"
    types = [e.type for e in sh.extensions]
    assert 0xFF01 in types and 16 in types
    assert sh.extensions[types.index(0xFF01)].value == {"renegotiated_connection": ""}


def test_server_hello_tls13(tls13: Conn) -> None:
    body = tls13.first("s", hs.HT_SERVER_HELLO)
    sh = parse_server_hello(body, frame=2, record_version=0x0303)
    assert sh.legacy_version == 0x0303
    assert sh.selected_version == 0x0304
    assert sh.cipher_suite == 0x1302
    assert sh.selected_group == 0x1D
    assert sh.is_hrr is False
    assert sh.alpn is None  # ALPN moves to EncryptedExtensions in 1.3
    ks = next(e for e in sh.extensions if e.type == 51)
    assert ks.value == {"group": 0x1D, "key_exchange_length": 32}
    ch = parse_client_hello(tls13.first("c", 1), frame=1, record_version=0x0301)
    assert sh.session_id == ch.session_id


def test_hello_retry_request(hrr13: Conn) -> None:
    hellos = [b for t, b in hrr13.server if t == hs.HT_SERVER_HELLO]
    hrr = parse_server_hello(hellos[0], frame=2, record_version=0x0303)
    assert hrr.is_hrr is True
    assert hrr.random == HRR_RANDOM
    assert hrr.selected_version == 0x0304
    assert hrr.selected_group == 0x17
    assert next(e for e in hrr.extensions if e.type == 51).value == {"group": 0x17}
    # The second ClientHello (after the HRR and a middlebox CCS) offers the group asked for.
    records_c = records(hrr13.client_bytes)
    second = [b for ct, _, b in records_c if ct == 22][1]
    ch2 = parse_client_hello(second[4:], frame=4, record_version=0x0303)
    assert ch2.key_share_groups == (0x17,)


def test_server_hello_truncations_and_trailing(tls13: Conn, ecdhe12: Conn, hrr13: Conn) -> None:
    for body in (tls13.first("s", 2), ecdhe12.first("s", 2), hrr13.first("s", 2)):

        def parse(b: bytes) -> object:
            return parse_server_hello(b, frame=0, record_version=0x0303)

        out = _truncations(body, parse)
        sid = body[34]
        assert [i for i, o in enumerate(out) if o == "value"] == [35 + sid + 3]
        with pytest.raises(DecodeError, match="2 bytes after the ServerHello extensions"):
            parse(body + b"\x00\x00")


def test_server_hello_session_id_too_long() -> None:
    body = b"\x03\x03" + b"R" * 32 + b"\x21" + b"S" * 33 + b"\x00\x2f\x00"
    with pytest.raises(DecodeError, match="session_id of 33 bytes"):
        parse_server_hello(body, frame=0, record_version=0x0303)


# ---------------------------------------------------------------------------------------------------------------
# Certificate, CompressedCertificate
# ---------------------------------------------------------------------------------------------------------------


def test_certificate_tls12_real(ecdhe12: Conn, pki: Pki) -> None:
    body = ecdhe12.first("s", hs.HT_CERTIFICATE)
    ders, ctx = parse_certificate_list(body, tls13=False)
    assert ders == [pki.der]
    assert ctx == b""
    out = _truncations(body, lambda b: parse_certificate_list(b, tls13=False))
    assert set(out) == {"error"}
    with pytest.raises(DecodeError, match="bytes after the certificate list"):
        parse_certificate_list(body + b"\x00", tls13=False)


def _v(n: int, b: bytes) -> bytes:
    return len(b).to_bytes(n, "big") + b


def test_certificate_tls13_layout(pki: Pki) -> None:
    second = b"0\x03\x02\x01\x00"
    entries = (
        _v(3, pki.der) + _v(2, b"\x00\x05" + _v(2, b"\x01" + _v(3, b"OCSP"))) + _v(3, second) + _v(2, b"")
    )
    body = _v(1, b"ctx!") + _v(3, entries)
    ders, ctx = parse_certificate_list(body, tls13=True)
    assert ders == [pki.der, second]
    assert ctx == b"ctx!"
    assert set(_truncations(body, lambda b: parse_certificate_list(b, tls13=True))) == {"error"}
    with pytest.raises(DecodeError):
        parse_certificate_list(body + b"\x00", tls13=True)
    # The same bytes read with the 1.2 layout do not parse.
    with pytest.raises(DecodeError):
        parse_certificate_list(body, tls13=False)
    # An empty 1.3 Certificate (client without a certificate).
    assert parse_certificate_list(b"\x00\x00\x00\x00", tls13=True) == ([], b"")


def test_certificate_entry_overruns_list() -> None:
    body = _v(3, b"\x00\x00\x10" + b"x" * 4)
    with pytest.raises(DecodeError, match="cert_data"):
        parse_certificate_list(body, tls13=False)


def test_compressed_certificate() -> None:
    body = b"\x00\x02" + b"\x00\x10\x00" + _v(3, b"Z" * 9)
    assert parse_compressed_certificate(body) == (2, 0x1000, b"Z" * 9)
    assert set(_truncations(body, parse_compressed_certificate)) == {"error"}
    with pytest.raises(DecodeError):
        parse_compressed_certificate(body + b"\x00")


# ---------------------------------------------------------------------------------------------------------------
# ServerKeyExchange
# ---------------------------------------------------------------------------------------------------------------


def test_server_key_exchange_ecdhe_real(ecdhe12: Conn) -> None:
    body = ecdhe12.first("s", hs.HT_SERVER_KEY_EXCHANGE)
    kx = parse_server_key_exchange(body, frame=7, kx="ECDHE", tls12=True)
    assert (kx.frame, kx.kind, kx.group, kx.dh_bits) == (7, "ecdhe", 0x1D, None)
    assert kx.signature_algorithm == int.from_bytes(body[4 + body[3] : 6 + body[3]], "big")
    assert kx.signature_algorithm == 0x0804
    # Before TLS 1.2 there is no signature scheme field.
    assert parse_server_key_exchange(body, frame=7, kx="ECDHE", tls12=False).signature_algorithm is None


def test_server_key_exchange_dhe_real(dhe12: Conn) -> None:
    body = dhe12.first("s", hs.HT_SERVER_KEY_EXCHANGE)
    assert body[:2] == b"\x01\x00" and int.from_bytes(body[2:258], "big") == FFDHE2048
    kx = parse_server_key_exchange(body, frame=9, kx="DHE", tls12=True)
    assert (kx.kind, kx.dh_bits, kx.group) == ("dhe", 2048, None)
    assert kx.signature_algorithm == 0x0804


@pytest.mark.parametrize(
    ("p", "bits"),
    [
        (b"\x00" + (2**1023 + 1).to_bytes(128, "big"), 1024),  # a leading zero byte does not count
        ((2**511 + 7).to_bytes(64, "big"), 512),
        (b"\x01", 1),
        (b"\x00\x00\x03", 2),
        (b"\x00", 0),
    ],
)
def test_server_key_exchange_dh_bits(p: bytes, bits: int) -> None:
    body = _v(2, p) + _v(2, b"\x02") + _v(2, b"Y" * 8) + b"\x04\x01" + _v(2, b"S" * 4)
    kx = parse_server_key_exchange(body, frame=0, kx="DHE", tls12=True)
    assert kx.dh_bits == bits
    assert kx.signature_algorithm == 0x0401
    anon = parse_server_key_exchange(_v(2, p) + _v(2, b"\x02") + _v(2, b"Y"), frame=0, kx="DH", tls12=True)
    assert (anon.kind, anon.dh_bits, anon.signature_algorithm) == ("dhe", bits, None)


def test_server_key_exchange_rsa_export_and_other_kinds() -> None:
    body = _v(2, (2**511 + 1).to_bytes(64, "big")) + _v(2, b"\x01\x00\x01") + _v(2, b"S" * 64)
    kx = parse_server_key_exchange(body, frame=0, kx="RSA", tls12=False)
    assert (kx.kind, kx.dh_bits) == ("rsa-export", 512)
    assert parse_server_key_exchange(b"\x00\x04hint", frame=0, kx="PSK", tls12=True).kind == "unknown"
    explicit = parse_server_key_exchange(b"\x01\x00\x00", frame=0, kx="ECDHE", tls12=True)
    assert (explicit.kind, explicit.group) == ("ecdhe", None)


def test_server_key_exchange_psk_variants_skip_the_identity_hint() -> None:
    """RFC 4279 / RFC 5489: (EC)DHE_PSK parameters follow a psk_identity_hint<0..2^16-1>."""
    hint = _v(2, b"hint")
    ec = hint + b"\x03\x00\x17" + _v(1, b"\x04" + b"P" * 64)
    kx = parse_server_key_exchange(ec, frame=0, kx="ECDHE_PSK", tls12=True)
    assert (kx.kind, kx.group, kx.signature_algorithm) == ("ecdhe", 0x17, None)
    dh = hint + _v(2, (2**1023 + 1).to_bytes(128, "big")) + _v(2, b"\x02") + _v(2, b"Y" * 128)
    kx = parse_server_key_exchange(dh, frame=0, kx="DHE_PSK", tls12=True)
    assert (kx.kind, kx.dh_bits, kx.signature_algorithm) == ("dhe", 1024, None)


def test_server_key_exchange_truncations(ecdhe12: Conn, dhe12: Conn) -> None:
    for body, kx in ((ecdhe12.first("s", 12), "ECDHE"), (dhe12.first("s", 12), "DHE")):
        out = _truncations(body, lambda b, kx=kx: parse_server_key_exchange(b, frame=0, kx=kx, tls12=True))
        assert out[0] == "error"
        assert "value" in out  # a cut inside the signature still names the group/prime


# ---------------------------------------------------------------------------------------------------------------
# NewSessionTicket
# ---------------------------------------------------------------------------------------------------------------


def test_new_session_ticket_tls12_real(pki: Pki) -> None:
    server, client = contexts(pki, tls13=False, ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    c = conn(server, client)
    body = c.first("s", hs.HT_NEW_SESSION_TICKET)
    assert parse_new_session_ticket(body, tls13=False) == {
        "lifetime": 7200,
        "ticket_length": int.from_bytes(body[4:6], "big"),
    }
    assert set(_truncations(body, lambda b: parse_new_session_ticket(b, tls13=False))) == {"error"}
    with pytest.raises(DecodeError):
        parse_new_session_ticket(body + b"\x00", tls13=False)


def test_new_session_ticket_tls13_layout() -> None:
    body = (
        b"\x00\x00\x1c\x20"
        + b"\x01\x02\x03\x04"
        + _v(1, b"\x00" * 8)
        + _v(2, b"T" * 100)
        + _v(2, b"\x00\x2a\x00\x04\x00\x00\x40\x00")
    )
    assert parse_new_session_ticket(body, tls13=True) == {"lifetime": 7200, "ticket_length": 100}
    assert set(_truncations(body, lambda b: parse_new_session_ticket(b, tls13=True))) == {"error"}
    with pytest.raises(DecodeError):
        parse_new_session_ticket(body + b"\x00", tls13=True)


# ---------------------------------------------------------------------------------------------------------------
# SSLv2-compatible CLIENT-HELLO
# ---------------------------------------------------------------------------------------------------------------

SSLV2_SPECS = bytes.fromhex("01008000002f00003500000a")
SSLV2_MSG = b"\x01\x03\x01" + b"\x00\x0c" + b"\x00\x00" + b"\x00\x10" + SSLV2_SPECS + bytes(range(16))


def test_sslv2_client_hello() -> None:
    ch = parse_sslv2_client_hello(SSLV2_MSG, frame=1)
    assert ch.sslv2 is True
    assert ch.record_version == 2
    assert ch.legacy_version == 0x0301
    assert ch.cipher_suites == (0x010080, 0x2F, 0x35, 0x0A)
    assert ch.random == b"\x00" * 16 + bytes(range(16))
    assert ch.session_id == b""
    assert ch.compression_methods == (0,)
    assert ch.extensions == ()
    assert ch.has_extensions_block is False
    assert set(_truncations(SSLV2_MSG, lambda b: parse_sslv2_client_hello(b, frame=0))) == {"error"}
    with pytest.raises(DecodeError):
        parse_sslv2_client_hello(SSLV2_MSG + b"\x00", frame=0)


def test_sslv2_client_hello_malformed() -> None:
    with pytest.raises(DecodeError, match="not a CLIENT-HELLO"):
        parse_sslv2_client_hello(b"\x04" + SSLV2_MSG[1:], frame=0)
    with pytest.raises(DecodeError, match="multiple of 3"):
        parse_sslv2_client_hello(b"\x01\x03\x01\x00\x02\x00\x00\x00\x10" + b"\x00" * 18, frame=0)
    short = b"\x01\x00\x02\x00\x03\x00\x00\x00\x08" + b"\x00\x00\x2f" + b"C" * 8
    with pytest.raises(DecodeError, match="challenge of 8 bytes"):
        parse_sslv2_client_hello(short, frame=0)
    long = b"\x01\x00\x02\x00\x03\x00\x00\x00\x21" + b"\x00\x00\x2f" + b"C" * 33
    with pytest.raises(DecodeError, match="challenge of 33 bytes"):
        parse_sslv2_client_hello(long, frame=0)


# ---------------------------------------------------------------------------------------------------------------
# Fuzz: nothing but DecodeError
# ---------------------------------------------------------------------------------------------------------------

PARSERS = {
    "ch": lambda b: parse_client_hello(b, frame=0, record_version=0x0301),
    "sh": lambda b: parse_server_hello(b, frame=0, record_version=0x0303),
    "cert12": lambda b: parse_certificate_list(b, tls13=False),
    "cert13": lambda b: parse_certificate_list(b, tls13=True),
    "ccert": parse_compressed_certificate,
    "ske-ecdhe": lambda b: parse_server_key_exchange(b, frame=0, kx="ECDHE", tls12=True),
    "ske-dhe": lambda b: parse_server_key_exchange(b, frame=0, kx="DHE", tls12=True),
    "ske-rsa": lambda b: parse_server_key_exchange(b, frame=0, kx="RSA", tls12=False),
    "ske-ecdhe-psk": lambda b: parse_server_key_exchange(b, frame=0, kx="ECDHE_PSK", tls12=True),
    "ske-dhe-psk": lambda b: parse_server_key_exchange(b, frame=0, kx="DHE_PSK", tls12=True),
    "nst12": lambda b: parse_new_session_ticket(b, tls13=False),
    "nst13": lambda b: parse_new_session_ticket(b, tls13=True),
    "sslv2": lambda b: parse_sslv2_client_hello(b, frame=0),
}

SEED_CH = b"\x03\x03" + b"R" * 32 + b"\x00\x00\x02\x13\x01\x01\x00"
SEEDS = [
    SEED_CH + _v(2, b"\x00\x00" + _v(2, _v(2, b"\x00" + _v(2, b"a.b"))) + b"\x00\x2b\x00\x03\x02\x03\x04"),
    b"\x03\x03" + HRR_RANDOM + b"\x00\x13\x01\x00" + _v(2, b"\x00\x33\x00\x02\x00\x17"),
    SSLV2_MSG,
    b"",
]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(PARSERS)), st.binary(max_size=200))
def test_fuzz_random_bytes(name: str, data: bytes) -> None:
    try:
        PARSERS[name](data)
    except DecodeError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(PARSERS)), st.sampled_from(SEEDS), st.integers(0, 120), st.binary(max_size=40))
def test_fuzz_valid_prefix(name: str, seed: bytes, cut: int, tail: bytes) -> None:
    try:
        PARSERS[name](seed[:cut] + tail)
    except DecodeError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SEEDS[:3]), st.integers(0, 200), st.integers(0, 255))
def test_fuzz_one_byte_flipped(seed: bytes, pos: int, value: int) -> None:
    data = bytearray(seed)
    if data:
        data[pos % len(data)] = value
    for parse in PARSERS.values():
        try:
            parse(bytes(data))
        except DecodeError:
            pass


def test_real_bodies_whole_are_values(ecdhe12: Conn, tls13: Conn, pki: Pki, tmp_path: Path) -> None:
    # Every cleartext message of the real handshakes is a known type with a parser that accepts it.
    seen = [t for t, _ in ecdhe12.server]
    assert seen == [2, 11, 12, 14, 4]  # the 1.2 NewSessionTicket precedes the CCS
    assert [t for t, _ in tls13.server] == [2]
    assert [t for t, _ in ecdhe12.client] == [1, 16]
