"""Decode X.509 certificates (DER, as a TLS Certificate message carries them) into the model's `Certificate`.

`decode_certificate` never raises. Certificates are peer data, and `cryptography` raises many exception types
(ValueError, TypeError, UnsupportedAlgorithm, ...), some only when a field is read. So:

* DER that does not load at all gives a `Certificate` with placeholder fields (empty strings, empty tuples,
  ``key_type="unknown"``, ``key_bits=None``, booleans False), the real ``sha256`` of the bytes, and
  ``error="undecodable DER: ..."``.
* A certificate that loads but has a field that cannot be read (a malformed or duplicate extension, a name with
  an invalid string, an unsupported key) keeps every other field. The field that failed gets its placeholder and
  ``error`` names it, ``"partly undecodable: san: ...; is_ca: ..."``. Use ``error.startswith("undecodable")`` to
  tell a total loss from a partial one.

The same chain repeats across many connections, so decoding is cached by DER bytes (LRU, 4096 entries). The
result is frozen, so sharing it is safe.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dh, dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from tlsinspect.model import Certificate

__all__ = ["decode_certificate", "decode_certificate_chain"]

_T = TypeVar("_T")

CACHE_SIZE = 4096

# SPKI algorithm OIDs for keys that cryptography may not load (older versions, or no backend support).
_KEY_TYPE_BY_OID: dict[str, str] = {
    "1.2.840.113549.1.1.1": "RSA",
    "1.2.840.113549.1.1.10": "RSA",  # RSASSA-PSS keys
    "1.2.840.10045.2.1": "EC",
    "1.2.840.10040.4.1": "DSA",
    "1.2.840.10046.2.1": "DH",
    "1.2.840.113549.1.3.1": "DH",
    "1.3.101.110": "X25519",
    "1.3.101.111": "X448",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    "2.16.840.1.101.3.4.3.17": "ML-DSA",
    "2.16.840.1.101.3.4.3.18": "ML-DSA",
    "2.16.840.1.101.3.4.3.19": "ML-DSA",
    "2.16.840.1.101.3.4.4.1": "ML-KEM",
    "2.16.840.1.101.3.4.4.2": "ML-KEM",
    "2.16.840.1.101.3.4.4.3": "ML-KEM",
    **{f"2.16.840.1.101.3.4.3.{n}": "SLH-DSA" for n in range(20, 32)},
}


def decode_certificate(der: bytes | bytearray | memoryview) -> Certificate:
    """Decode one DER certificate. Never raises; see the module docstring for how failures are recorded."""
    return _decode_cached(bytes(der))


def decode_certificate_chain(ders: Sequence[bytes | bytearray | memoryview]) -> tuple[Certificate, ...]:
    """Decode a chain in the order given (leaf first, as the server sent it)."""
    return tuple(decode_certificate(der) for der in ders)


@lru_cache(maxsize=CACHE_SIZE)
def _decode_cached(der: bytes) -> Certificate:
    sha256 = hashlib.sha256(der).hexdigest()
    # cryptography warns (CryptographyDeprecationWarning) about peer mistakes such as a non-positive serial;
    # those are facts about the capture, not about our code, so they must not reach the user's stderr.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            cert = x509.load_der_x509_certificate(der)
        except Exception as exc:  # any failure to load is "undecodable", never a crash
            return _placeholder(der, sha256, f"undecodable DER: {_one_line(exc)}")
        return _decode_loaded(cert, der, sha256)


def _placeholder(der: bytes, sha256: str, error: str) -> Certificate:
    return Certificate(
        der=der,
        subject="",
        issuer="",
        serial="",
        not_before="",
        not_after="",
        san_dns=(),
        san_ip=(),
        sha256=sha256,
        key_type="unknown",
        key_bits=None,
        signature_algorithm="",
        is_ca=False,
        self_signed=False,
        error=error,
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _decode_loaded(cert: x509.Certificate, der: bytes, sha256: str) -> Certificate:
    problems: list[str] = []

    def attempt(what: str, fn: Callable[[], _T], default: _T) -> _T:
        try:
            return fn()
        except Exception as exc:  # record and keep going, per field
            problems.append(f"{what}: {_one_line(exc)}")
            return default

    subject = attempt("subject", lambda: cert.subject.rfc4514_string(), "")
    issuer = attempt("issuer", lambda: cert.issuer.rfc4514_string(), "")
    serial = attempt("serial", lambda: _serial_hex(cert.serial_number), "")
    not_before_dt = attempt("not_before", lambda: cert.not_valid_before_utc, None)
    not_after_dt = attempt("not_after", lambda: cert.not_valid_after_utc, None)
    not_before, not_before_ts = _time_fields(not_before_dt)
    not_after, not_after_ts = _time_fields(not_after_dt)
    no_san: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    san_dns, san_ip = attempt("san", lambda: _san(cert), no_san)
    no_key: tuple[str, int | None] = ("unknown", None)
    key_type, key_bits = attempt("key", lambda: _key(cert), no_key)
    signature_algorithm = attempt("signature_algorithm", lambda: _signature_name(cert), "")
    signature_hash = attempt("signature_hash", lambda: _signature_hash(cert), None)
    is_ca = attempt("is_ca", lambda: _is_ca(cert), False)
    self_signed = attempt("self_signed", lambda: _self_signed(cert), False)
    common_name = attempt("common_name", lambda: _common_name(cert), None)

    return Certificate(
        der=der,
        subject=subject,
        issuer=issuer,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        san_dns=san_dns,
        san_ip=san_ip,
        sha256=sha256,
        key_type=key_type,
        key_bits=key_bits,
        signature_algorithm=signature_algorithm,
        is_ca=is_ca,
        self_signed=self_signed,
        common_name=common_name,
        not_before_ts=not_before_ts,
        not_after_ts=not_after_ts,
        signature_hash=signature_hash,
        error=("partly undecodable: " + "; ".join(problems)) if problems else None,
    )


def _serial_hex(serial: int) -> str:
    """Lowercase hex of the serial's magnitude, an even number of digits (openssl's digits, lower-cased)."""
    digits = format(abs(serial), "x")
    if len(digits) % 2:
        digits = "0" + digits
    return ("-" if serial < 0 else "") + digits


def _time_fields(when: _dt.datetime | None) -> tuple[str, float | None]:
    """RFC 3339 UTC text (``2019-03-01T00:00:00Z``, four-digit year even before 1000) and epoch seconds."""
    if when is None:
        return "", None
    when = when.astimezone(_dt.UTC)
    text = f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}Z"
    return text, when.timestamp()


def _san(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return (), ()
    san = ext.value
    dns = tuple(str(name) for name in san.get_values_for_type(x509.DNSName))
    ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return dns, ips


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    try:
        key = cert.public_key()
    except Exception:  # UnsupportedAlgorithm, ValueError (odd EC parameters), ...: name the key by its OID
        return _key_type_from_oid(cert), None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, dh.DHPublicKey):
        return "DH", key.key_size
    if isinstance(key, x25519.X25519PublicKey):
        return "X25519", 256
    if isinstance(key, x448.X448PublicKey):
        return "X448", 448
    return _key_type_from_oid(cert), None


def _key_type_from_oid(cert: x509.Certificate) -> str:
    oid = cert.public_key_algorithm_oid
    return _KEY_TYPE_BY_OID.get(oid.dotted_string, oid.dotted_string)


def _signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", None)
    if isinstance(name, str) and name and name != "Unknown OID":
        return name
    return oid.dotted_string


def _signature_hash(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    return algorithm.name if algorithm is not None else None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    verify = getattr(cert, "verify_directly_issued_by", None)
    if verify is None:  # cryptography < 40
        return True
    try:
        verify(cert)
    except InvalidSignature:
        return False
    except ValueError:
        # Raised for a name mismatch (ruled out above) and for malformed signature parameters.
        return False
    except (TypeError, UnsupportedAlgorithm):
        # A key or signature type cryptography cannot verify: fall back to the name check.
        return True
    return True


def _common_name(cert: x509.Certificate) -> str | None:
    attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return None
    value = attributes[0].value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
