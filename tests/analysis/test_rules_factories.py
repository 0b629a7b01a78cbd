"""Factories for the analysis tests: a small real PKI built with cryptography, and hand-made flows.

Imported by test_validation.py, test_findings.py and test_rules_*.py (``from test_rules_factories import ...``);
the tests at the bottom only check that the factories build what they claim.

The PKI: a private root CA, an intermediate, and leaves for "django-devops" in the variants the rules need
(expired, not yet valid, self-signed, RSA 1024, CA used as leaf, 5-year validity, wildcard, no SAN).
EC P-256 keys keep it fast; certificates are cached per process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlsinspect.analysis.validation import TrustStore
from tlsinspect.model import (
    Alert,
    Certificate,
    ClientHello,
    Extension,
    Flow,
    KeyExchange,
    ServerHello,
    TlsInfo,
)
from tlsinspect.parse.x509 import decode_certificate

UTC = dt.UTC
AT_DT = dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
AT = AT_DT.timestamp()
"""The capture time most tests judge at."""
DAY = dt.timedelta(days=1)

Key = CertificateIssuerPrivateKeyTypes


def name(cn: str, org: str = "tlsinspect tests") -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


@cache
def ec_key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def make_cert(
    cn: str,
    *,
    key: Any,
    issuer: tuple[x509.Name, Key] | None = None,
    ca: bool = False,
    san_dns: tuple[str, ...] = (),
    san_ip: tuple[str, ...] = (),
    not_before: dt.datetime = AT_DT - 30 * DAY,
    not_after: dt.datetime = AT_DT + 60 * DAY,
    eku: tuple[x509.ObjectIdentifier, ...] | None = (ExtendedKeyUsageOID.SERVER_AUTH,),
) -> x509.Certificate:
    """One certificate; `issuer=None` makes it self-signed."""
    subject = name(cn)
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    usage["digital_signature"] = True
    if ca:
        usage["key_cert_sign"] = usage["crl_sign"] = True
    else:
        usage["key_encipherment"] = isinstance(key, rsa.RSAPrivateKey)
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in san_dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in san_ip]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class Pki:
    """root -> intermediate -> leaves. Attributes are cryptography certificates; `model()` decodes them."""

    def __init__(self, label: str = "main") -> None:
        self.root_key = ec_key(f"{label}-root")
        self.inter_key = ec_key(f"{label}-inter")
        self.leaf_key = ec_key(f"{label}-leaf")
        self.root = make_cert(
            f"Demo Root CA ({label})",
            key=self.root_key,
            ca=True,
            not_before=AT_DT - 3650 * DAY,
            not_after=AT_DT + 3650 * DAY,
        )
        self.inter = make_cert(
            f"Demo Intermediate CA ({label})",
            key=self.inter_key,
            issuer=(self.root.subject, self.root_key),
            ca=True,
            not_before=AT_DT - 3000 * DAY,
            not_after=AT_DT + 1000 * DAY,
        )
        self.leaf = self.issue(
            "django-devops", san_dns=("django-devops", "www.django-devops"), san_ip=("127.0.0.1",)
        )

    @property
    def inter_issuer(self) -> tuple[x509.Name, Key]:
        return (self.inter.subject, self.inter_key)

    def issue(self, cn: str, **kwargs: Any) -> x509.Certificate:
        kwargs.setdefault("key", self.leaf_key)
        return make_cert(cn, issuer=self.inter_issuer, **kwargs)

    def trust(self) -> TrustStore:
        return TrustStore.from_certificates([self.root], source="demo root")


@cache
def pki(label: str = "main") -> Pki:
    return Pki(label)


def model(*certs: x509.Certificate) -> tuple[Certificate, ...]:
    """Decode cryptography certificates into the model, as the parser does for a captured chain."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return tuple(decode_certificate(c.public_bytes(Encoding.DER)) for c in certs)


def with_fields(cert: Certificate, **changes: Any) -> Certificate:
    """A decoded certificate with some fields replaced (for facts cryptography cannot sign, e.g. SHA-1)."""
    return dataclasses.replace(cert, **changes)


# --------------------------------------------------------------------------------------------- flows


def client_hello(
    *,
    server_name: str | None = "django-devops",
    cipher_suites: tuple[int, ...] = (0x1301, 0x1302, 0xC02F, 0xC030, 0x00FF),
    extensions: tuple[int, ...] = (0, 10, 11, 13, 43, 51, 0xFF01),
    supported_versions: tuple[int, ...] = (0x0304, 0x0303),
    legacy_version: int = 0x0303,
    frame: int = 4,
) -> ClientHello:
    return ClientHello(
        frame=frame,
        record_version=0x0301,
        legacy_version=legacy_version,
        random=bytes(32),
        session_id=b"",
        cipher_suites=cipher_suites,
        compression_methods=(0,),
        extensions=tuple(Extension(type=t, data=b"") for t in extensions),
        server_name=server_name,
        supported_versions=supported_versions,
    )


def server_hello(
    *,
    cipher_suite: int = 0xC02F,
    version: int = 0x0303,
    extensions: tuple[int, ...] = (0xFF01, 11),
    frame: int = 6,
) -> ServerHello:
    return ServerHello(
        frame=frame,
        record_version=0x0303,
        legacy_version=0x0303 if version >= 0x0303 else version,
        random=bytes(32),
        session_id=b"",
        cipher_suite=cipher_suite,
        compression_method=0,
        extensions=tuple(Extension(type=t, data=b"") for t in extensions),
        selected_version=version if version == 0x0304 else None,
    )


def tls_info(
    *,
    ch: ClientHello | None = None,
    sh: ServerHello | None = None,
    certificates: tuple[Certificate, ...] = (),
    **kwargs: Any,
) -> TlsInfo:
    version = sh.selected_version or sh.legacy_version if sh is not None else None
    return TlsInfo(
        client_hello=ch,
        server_hello=sh,
        version=version,
        cipher_suite=sh.cipher_suite if sh is not None else None,
        certificates=certificates,
        certificates_visibility="cleartext" if certificates else "none",
        **kwargs,
    )


def flow(tls: TlsInfo | None, *, first_seen: float = AT, **kwargs: Any) -> Flow:
    return Flow(
        id=1,
        transport="tcp",
        client_ip="192.0.2.10",
        client_port=51234,
        server_ip="198.51.100.7",
        server_port=443,
        first_frame=1,
        last_frame=20,
        first_seen=first_seen,
        last_seen=first_seen + 1,
        app_protocol="tls",
        tls=tls,
        **kwargs,
    )


def tls12_flow(
    *,
    cipher_suite: int = 0xC02F,
    version: int = 0x0303,
    sh_extensions: tuple[int, ...] = (0xFF01, 11),
    ch: ClientHello | None = None,
    **kwargs: Any,
) -> Flow:
    """A completed TLS 1.2-style handshake with the given suite (defaults: ECDHE-RSA-AES128-GCM, secure)."""
    sh = server_hello(cipher_suite=cipher_suite, version=version, extensions=sh_extensions)
    kwargs.setdefault("app_data_records", (3, 3))
    return flow(tls_info(ch=ch or client_hello(), sh=sh, **kwargs))


__all__ = [
    "AT",
    "AT_DT",
    "DAY",
    "Alert",
    "KeyExchange",
    "Pki",
    "client_hello",
    "ec_key",
    "flow",
    "make_cert",
    "model",
    "pki",
    "rsa_key",
    "server_hello",
    "tls12_flow",
    "tls_info",
    "with_fields",
]


# --------------------------------------------------------------------------------------------- sanity


def test_pki_chain_links_and_decodes() -> None:
    p = pki()
    leaf, inter, root = model(p.leaf, p.inter, p.root)
    assert leaf.issuer == inter.subject and inter.issuer == root.subject
    assert leaf.san_dns == ("django-devops", "www.django-devops") and leaf.san_ip == ("127.0.0.1",)
    assert root.self_signed and root.is_ca and not leaf.is_ca and leaf.error is None


def test_default_flows_are_complete() -> None:
    f = tls12_flow()
    assert f.tls is not None and f.tls.version == 0x0303 and f.tls.cipher_suite == 0xC02F
    assert f.tls.client_hello is not None and f.tls.client_hello.server_name == "django-devops"
