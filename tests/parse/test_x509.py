"""tlsinspect.parse.x509: real certificates built with cryptography, every field asserted; broken DER never raises."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtensionOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.model import Certificate
from tlsinspect.parse.x509 import decode_certificate, decode_certificate_chain

UTC = dt.UTC
NOT_BEFORE = dt.datetime(2019, 3, 1, tzinfo=UTC)
NOT_AFTER = dt.datetime(2021, 3, 1, 12, 30, 5, tzinfo=UTC)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


_KEYS: dict[str, Any] = {}


def _key(kind: str) -> Any:
    """Keys are slow to make (RSA, DSA): one per kind per test run."""
    if kind not in _KEYS:
        makers = {
            "rsa2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "rsa2048b": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "rsa1024": lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
            "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
            "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
            "ed25519": ed25519.Ed25519PrivateKey.generate,
            "ed448": ed448.Ed448PrivateKey.generate,
            "dsa": lambda: dsa.generate_private_key(key_size=2048),
        }
        _KEYS[kind] = makers[kind]()
    return _KEYS[kind]


def make_cert(
    *,
    key: Any,
    subject: x509.Name,
    issuer: x509.Name | None = None,
    signer: Any = None,
    hash_alg: hashes.HashAlgorithm | None = None,
    serial: int = 0x1234,
    not_before: dt.datetime = NOT_BEFORE,
    not_after: dt.datetime = NOT_AFTER,
    extensions: list[tuple[x509.ExtensionType, bool]] = (),  # type: ignore[assignment]
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    cert = builder.sign(signer if signer is not None else key, hash_alg)
    return cert.public_bytes(serialization.Encoding.DER)


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(value)) + value


_OID_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b")
_OID_SHA1_RSA = bytes.fromhex("06092a864886f70d010105")


def make_sha1_rsa_cert(**kwargs: Any) -> bytes:
    """cryptography >= 48 refuses to sign with SHA-1, so re-sign a SHA-256 certificate's TBS by hand.

    The two AlgorithmIdentifier OIDs have the same length, so the TBS is patched in place and signed with
    PKCS#1 v1.5 / SHA-1, then wrapped as Certificate ::= SEQUENCE { tbs, sha1WithRSAEncryption, BIT STRING }.
    """
    signer = kwargs.get("signer") or kwargs["key"]
    der = make_cert(hash_alg=hashes.SHA256(), **kwargs)
    tbs = x509.load_der_x509_certificate(der).tbs_certificate_bytes
    assert tbs.count(_OID_SHA256_RSA) == 1
    tbs = tbs.replace(_OID_SHA256_RSA, _OID_SHA1_RSA)
    signature = signer.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    algorithm = _tlv(0x30, _OID_SHA1_RSA + b"\x05\x00")
    return _tlv(0x30, tbs + algorithm + _tlv(0x03, b"\x00" + signature))


def sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


# --------------------------------------------------------------------------------------------- whole certificates


def test_rsa2048_self_signed_ca_with_san() -> None:
    key = _key("rsa2048")
    der = make_cert(
        key=key,
        subject=_name("Example Root", org="Example CA"),
        hash_alg=hashes.SHA256(),
        serial=0x0A1B2C,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("example.com"),
                        x509.DNSName("*.example.com"),
                        x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
                        x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
                        x509.RFC822Name("ops@example.com"),
                    ]
                ),
                False,
            ),
        ],
    )
    cert = decode_certificate(der)
    assert cert == Certificate(
        der=der,
        subject="CN=Example Root,O=Example CA,C=US",
        issuer="CN=Example Root,O=Example CA,C=US",
        serial="0a1b2c",
        not_before="2019-03-01T00:00:00Z",
        not_after="2021-03-01T12:30:05Z",
        san_dns=("example.com", "*.example.com"),
        san_ip=("192.0.2.7", "2001:db8::1"),
        sha256=sha256(der),
        key_type="RSA",
        key_bits=2048,
        signature_algorithm="sha256WithRSAEncryption",
        is_ca=True,
        self_signed=True,
        common_name="Example Root",
        not_before_ts=1551398400.0,
        not_after_ts=1614601805.0,
        signature_hash="sha256",
        error=None,
    )


def test_rsa1024_leaf_sha1_signed_by_ca() -> None:
    ca_key = _key("rsa2048")
    ca_name = _name("Example Root", org="Example CA")
    der = make_sha1_rsa_cert(
        key=_key("rsa1024"),
        subject=_name("old.example.net"),
        issuer=ca_name,
        signer=ca_key,
        serial=0xFF,
        extensions=[(x509.BasicConstraints(ca=False, path_length=None), True)],
    )
    cert = decode_certificate(der)
    assert cert.subject == "CN=old.example.net,C=US"
    assert cert.issuer == "CN=Example Root,O=Example CA,C=US"
    assert cert.serial == "ff"
    assert cert.key_type == "RSA"
    assert cert.key_bits == 1024
    assert cert.signature_algorithm == "sha1WithRSAEncryption"
    assert cert.signature_hash == "sha1"
    assert cert.is_ca is False
    assert cert.self_signed is False
    assert cert.san_dns == () and cert.san_ip == ()
    assert cert.common_name == "old.example.net"
    assert cert.error is None


@pytest.mark.parametrize(
    ("kind", "hash_alg", "bits", "sig_name", "sig_hash"),
    [
        ("p256", hashes.SHA256(), 256, "ecdsa-with-SHA256", "sha256"),
        ("p384", hashes.SHA384(), 384, "ecdsa-with-SHA384", "sha384"),
    ],
)
def test_ec_keys(kind: str, hash_alg: hashes.HashAlgorithm, bits: int, sig_name: str, sig_hash: str) -> None:
    der = make_cert(key=_key(kind), subject=_name(f"{kind}.example"), hash_alg=hash_alg)
    cert = decode_certificate(der)
    assert (cert.key_type, cert.key_bits) == ("EC", bits)
    assert (cert.signature_algorithm, cert.signature_hash) == (sig_name, sig_hash)
    assert cert.self_signed is True
    assert cert.is_ca is False  # no BasicConstraints at all
    assert cert.error is None


@pytest.mark.parametrize(
    ("kind", "key_type", "bits", "sig_name"),
    [("ed25519", "Ed25519", 256, "ed25519"), ("ed448", "Ed448", 456, "ed448")],
)
def test_edwards_keys(kind: str, key_type: str, bits: int, sig_name: str) -> None:
    der = make_cert(key=_key(kind), subject=_name(f"{kind}.example"))
    cert = decode_certificate(der)
    assert (cert.key_type, cert.key_bits) == (key_type, bits)
    assert cert.signature_algorithm == sig_name
    assert cert.signature_hash is None
    assert cert.self_signed is True
    assert cert.error is None


def test_dsa_key() -> None:
    der = make_cert(key=_key("dsa"), subject=_name("dsa.example"), hash_alg=hashes.SHA256())
    cert = decode_certificate(der)
    assert (cert.key_type, cert.key_bits) == ("DSA", 2048)
    assert (cert.signature_algorithm, cert.signature_hash) == ("dsa-with-sha256", "sha256")
    assert cert.self_signed is True


def test_same_names_but_signed_by_another_key_is_not_self_signed() -> None:
    name = _name("Impostor Root")
    der = make_cert(
        key=_key("rsa2048"), subject=name, issuer=name, signer=_key("rsa2048b"), hash_alg=hashes.SHA256()
    )
    cert = decode_certificate(der)
    assert cert.subject == cert.issuer
    assert cert.self_signed is False


def test_pre_1970_and_year_9999_validity() -> None:
    der = make_cert(
        key=_key("p256"),
        subject=_name("timeless.example"),
        hash_alg=hashes.SHA256(),
        not_before=dt.datetime(1960, 1, 1, tzinfo=UTC),
        not_after=dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    )
    cert = decode_certificate(der)
    assert cert.not_before == "1960-01-01T00:00:00Z"
    assert cert.not_before_ts == -315619200.0
    assert cert.not_after == "9999-12-31T23:59:59Z"
    assert cert.not_after_ts == 253402300799.0
    assert cert.error is None


def test_serial_is_lowercase_even_length_hex() -> None:
    big = 0x00C0FFEE_DEADBEEF_0123456789ABCDEF
    der = make_cert(key=_key("p256"), subject=_name("serial.example"), hash_alg=hashes.SHA256(), serial=big)
    assert decode_certificate(der).serial == "c0ffeedeadbeef0123456789abcdef"
    der = make_cert(key=_key("p256"), subject=_name("serial.example"), hash_alg=hashes.SHA256(), serial=1)
    assert decode_certificate(der).serial == "01"


def test_no_common_name() -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "No CN Inc")])
    der = make_cert(key=_key("p256"), subject=subject, hash_alg=hashes.SHA256())
    cert = decode_certificate(der)
    assert cert.common_name is None
    assert cert.subject == "O=No CN Inc"


def test_malformed_san_extension_keeps_other_fields() -> None:
    bogus_san = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x82\x05a")
    der = make_cert(
        key=_key("p256"),
        subject=_name("broken-san.example"),
        hash_alg=hashes.SHA256(),
        extensions=[(bogus_san, False)],
    )
    cert = decode_certificate(der)
    assert cert.san_dns == () and cert.san_ip == ()
    assert cert.subject == "CN=broken-san.example,C=US"
    assert cert.key_type == "EC" and cert.key_bits == 256
    assert cert.not_before == "2019-03-01T00:00:00Z"
    assert cert.sha256 == sha256(der)
    assert cert.error is not None and cert.error.startswith("partly undecodable: ")
    assert "san: " in cert.error


# --------------------------------------------------------------------------------------------- API behaviour


def test_chain_keeps_order_and_cache_returns_same_object() -> None:
    a = make_cert(key=_key("p256"), subject=_name("a.example"), hash_alg=hashes.SHA256())
    b = make_cert(key=_key("p384"), subject=_name("b.example"), hash_alg=hashes.SHA384())
    chain = decode_certificate_chain([a, b, b"\x00"])
    assert [c.common_name for c in chain] == ["a.example", "b.example", None]
    assert chain[2].error is not None
    assert decode_certificate(a) is chain[0]
    assert decode_certificate(bytearray(a)) is chain[0]
    assert decode_certificate_chain([]) == ()


# --------------------------------------------------------------------------------------------- broken input


def _assert_placeholder(cert: Certificate, der: bytes) -> None:
    assert cert.error is not None and cert.error.startswith("undecodable DER: ")
    assert "\n" not in cert.error
    assert cert.sha256 == sha256(der)
    assert cert.der == der
    assert (cert.subject, cert.issuer, cert.serial, cert.not_before, cert.not_after) == ("", "", "", "", "")
    assert (cert.san_dns, cert.san_ip, cert.key_type, cert.key_bits) == ((), (), "unknown", None)
    assert (cert.signature_algorithm, cert.is_ca, cert.self_signed) == ("", False, False)


@pytest.mark.parametrize("der", [b"", b"\x00", b"garbage bytes, not DER", b"\x30\x82\xff\xff" + b"\x00" * 8])
def test_garbage_gives_placeholder(der: bytes) -> None:
    _assert_placeholder(decode_certificate(der), der)


def test_truncated_der_at_many_offsets() -> None:
    der = make_cert(key=_key("rsa2048"), subject=_name("trunc.example"), hash_alg=hashes.SHA256())
    offsets = sorted({1, 2, 4, 10, 50, 100, len(der) // 2, len(der) - 100, len(der) - 1})
    for cut in offsets:
        _assert_placeholder(decode_certificate(der[:cut]), der[:cut])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_any_bytes_never_raise(data: bytes) -> None:
    cert = decode_certificate(data)
    assert isinstance(cert, Certificate)
    assert cert.sha256 == sha256(data)


_FUZZ_BASE: list[bytes] = []


def _fuzz_base() -> bytes:
    if not _FUZZ_BASE:
        _FUZZ_BASE.append(
            make_cert(
                key=_key("p256"),
                subject=_name("fuzz.example", org="Fuzz"),
                hash_alg=hashes.SHA256(),
                extensions=[
                    (x509.BasicConstraints(ca=True, path_length=0), True),
                    (x509.SubjectAlternativeName([x509.DNSName("fuzz.example")]), False),
                ],
            )
        )
    return _FUZZ_BASE[0]


@pytest.mark.filterwarnings("error")  # cryptography's warnings about peer mistakes must not escape
@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_certificate_never_raises(data: st.DataObject) -> None:
    der = bytearray(_fuzz_base())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(der) - 1))
        der[pos] = data.draw(st.integers(0, 255))
    cert = decode_certificate(bytes(der))
    assert isinstance(cert, Certificate)
    assert cert.sha256 == sha256(bytes(der))
