"""Names for TLS / DTLS / QUIC wire codes: IANA registries plus a few sourced non-IANA values.

Every lookup is a dict access on tables built once at import, so it is safe on hot paths. The IANA data lives in
the generated `_tables` module (regenerate with `python scripts/gen_registry.py`); hand-written non-IANA values
live in `extra`. Names are IANA's own spelling. Note that this IANA snapshot renamed extension 23 to
"extended_main_secret" (RFC 9846; formerly "extended_master_secret"), and that GREASE values (RFC 8701) answer
"GREASE" in every registry that GREASE applies to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tlsinspect.registry import _tables, extra

__all__ = [
    "CipherSuite",
    "KINDS",
    "alert_level_name",
    "alert_name",
    "alpn_name",
    "cert_compression_name",
    "certificate_type_name",
    "cipher_suite_info",
    "cipher_suite_name",
    "client_certificate_type_name",
    "content_type_name",
    "ec_point_format_name",
    "extension_name",
    "group_name",
    "handshake_type_name",
    "hash_algorithm_name",
    "is_grease",
    "is_grease_alpn",
    "is_grease_psk_mode",
    "is_grease_quic_transport_param",
    "is_grease_quic_version",
    "is_iana",
    "name_or_hex",
    "psk_mode_name",
    "quic_frame_type_name",
    "quic_transport_error_name",
    "quic_transport_param_name",
    "quic_version_name",
    "recommended",
    "signature_algorithm_name",
    "signature_scheme_name",
    "tls12_signature_pair_name",
    "version_name",
]

GREASE = "GREASE"


@dataclass(frozen=True, slots=True)
class CipherSuite:
    """Attributes of one IANA cipher suite, derived from its name by the generator."""

    code: int
    name: str
    kx: str
    """Key exchange: "RSA", "DHE", "ECDHE", "DH", "ECDH", "PSK", "DHE_PSK", "ECDHE_PSK", "RSA_PSK", "SRP", "KRB5",
    "ECCPWD", "GOSTR341112", "NULL", "SCSV", or "any" for TLS 1.3 suites."""
    auth: str
    """Authentication as the name says: "RSA", "DSS", "ECDSA", "anon", "PSK", "SHA" (SRP_SHA), "KRB5", "NULL", ...;
    "any" for TLS 1.3."""
    cipher: str
    """Bulk cipher: "AES_128", "CHACHA20", "3DES_EDE", "RC4_40", "NULL", "SM4", "AEGIS_256", "ASCON_AEAD128", ..."""
    mode: str
    """"GCM", "CCM", "CCM_8", "CBC", "POLY1305", "STREAM", "CTR", "CNT", "MGM", "AEGIS", "ASCON" or "NULL"."""
    mac: str
    """"AEAD" for AEAD suites, else the MAC token: "SHA" (HMAC-SHA1), "SHA256", "SHA384", "MD5", "OMAC", "IMIT", "NULL"."""
    export: bool
    forward_secrecy: bool
    """Ephemeral key exchange (DHE, ECDHE, DHE_PSK, ECDHE_PSK, SRP, ECCPWD) or TLS 1.3. Anonymous suites are False."""
    tls13: bool
    recommended: str
    """IANA Recommended column: "Y", "N", "D" (discouraged) or ""."""
    aead: bool
    key_bits: int | None
    """Nominal cipher key length (3DES_EDE = 168, NULL = 0); None for signalling values (SCSV)."""
    prf_hash: str | None
    """Hash of the TLS 1.2 PRF / TLS 1.3 HKDF: "sha256", "sha384", "sha512", "sm3", "streebog256", "ascon-hash256"."""
    dtls_ok: bool


_CIPHER_INFO: dict[int, CipherSuite] = {
    code: CipherSuite(code, *row) for code, row in _tables.CIPHER_SUITES.items()
}

_GREASE16: frozenset[int] = frozenset(0x0A0A | (n << 12) | (n << 4) for n in range(16))
_GREASE_PSK_MODES: frozenset[int] = frozenset({0x0B, 0x2A, 0x49, 0x68, 0x87, 0xA6, 0xC5, 0xE4})


def _with_grease(table: dict[int, str], grease: frozenset[int]) -> dict[int, str]:
    merged = dict(table)
    for g in grease:
        merged.setdefault(g, GREASE)
    return merged


def _merge(iana: dict[int, str], non_iana: dict[int, str]) -> dict[int, str]:
    merged = dict(non_iana)
    merged.update(iana)
    return merged


# IANA tables plus the GREASE values RFC 8701 reserves (some registries, e.g. SignatureScheme, do not list them).
_IANA: dict[str, dict[int, str]] = {
    "cipher": {**{c: s.name for c, s in _CIPHER_INFO.items()}, **_tables.CIPHER_SUITES_GREASE},
    "extension": _with_grease(_tables.EXTENSIONS, _GREASE16),
    "group": _with_grease(_tables.GROUPS, _GREASE16),
    "sigscheme": _with_grease(_tables.SIGNATURE_SCHEMES, _GREASE16),
    "version": _with_grease(_tables.VERSIONS, _GREASE16),
    "psk_mode": _with_grease(_tables.PSK_MODES, _GREASE_PSK_MODES),
    "alert": _tables.ALERTS,
    "handshake": _tables.HANDSHAKE_TYPES,
    "content_type": _tables.CONTENT_TYPES,
    "ec_point_format": _tables.EC_POINT_FORMATS,
    "cert_compression": _tables.CERT_COMPRESSION,
    "certificate_type": _tables.CERTIFICATE_TYPES,
    "client_certificate_type": _tables.CLIENT_CERTIFICATE_TYPES,
    "hash_algorithm": _tables.TLS12_HASH_ALGORITHMS,
    "signature_algorithm": _tables.TLS12_SIGNATURE_ALGORITHMS,
    "quic_version": _tables.QUIC_VERSIONS,
    "quic_transport_param": _tables.QUIC_TRANSPORT_PARAMS,
    "quic_frame_type": _tables.QUIC_FRAME_TYPES,
    "quic_transport_error": _tables.QUIC_TRANSPORT_ERRORS,
    "alert_level": {},
}

_NON_IANA: dict[str, dict[int, str]] = {
    "extension": extra.EXTENSIONS,
    "handshake": extra.HANDSHAKE_TYPES,
    "version": extra.VERSIONS,
    "quic_version": extra.QUIC_VERSIONS,
    "alert_level": extra.ALERT_LEVELS,
}

_NAMES: dict[str, dict[int, str]] = {k: _merge(v, _NON_IANA.get(k, {})) for k, v in _IANA.items()}

# Hex digits used by name_or_hex for each kind.
_HEX_WIDTH: dict[str, int] = {
    "cipher": 4,
    "extension": 4,
    "group": 4,
    "sigscheme": 4,
    "version": 4,
    "psk_mode": 2,
    "alert": 2,
    "alert_level": 2,
    "handshake": 2,
    "content_type": 2,
    "ec_point_format": 2,
    "cert_compression": 4,
    "certificate_type": 2,
    "client_certificate_type": 2,
    "hash_algorithm": 2,
    "signature_algorithm": 2,
    "quic_version": 8,
    "quic_transport_param": 4,
    "quic_frame_type": 2,
    "quic_transport_error": 2,
}

KINDS: frozenset[str] = frozenset(_NAMES)
"""Every `kind` accepted by name_or_hex, is_iana and recommended."""

_RECOMMENDED: dict[str, dict[int, str]] = {
    "cipher": {c: s.recommended for c, s in _CIPHER_INFO.items()},
    "extension": _tables.EXTENSIONS_RECOMMENDED,
    "group": _tables.GROUPS_RECOMMENDED,
    "sigscheme": _tables.SIGNATURE_SCHEMES_RECOMMENDED,
}

_CIPHERS = _NAMES["cipher"]
_EXTENSIONS = _NAMES["extension"]
_GROUPS = _NAMES["group"]
_SIGSCHEMES = _NAMES["sigscheme"]
_VERSIONS = _NAMES["version"]
_PSK_MODES = _NAMES["psk_mode"]
_ALERTS = _NAMES["alert"]
_ALERT_LEVELS = _NAMES["alert_level"]
_HANDSHAKES = _NAMES["handshake"]
_CONTENT_TYPES = _NAMES["content_type"]
_EC_POINT_FORMATS = _NAMES["ec_point_format"]
_CERT_COMPRESSION = _NAMES["cert_compression"]
_CERT_TYPES = _NAMES["certificate_type"]
_CLIENT_CERT_TYPES = _NAMES["client_certificate_type"]
_HASH_ALGS = _NAMES["hash_algorithm"]
_SIG_ALGS = _NAMES["signature_algorithm"]
_QUIC_VERSIONS = _NAMES["quic_version"]
_QUIC_TPS = _NAMES["quic_transport_param"]
_QUIC_FRAMES = _NAMES["quic_frame_type"]
_QUIC_ERRORS = _NAMES["quic_transport_error"]
_ALPN: dict[bytes, str] = _tables.ALPN


# ---------------------------------------------------------------------------------------------------------------
# GREASE
# ---------------------------------------------------------------------------------------------------------------


def is_grease(v: int) -> bool:
    """True for the RFC 8701 16-bit GREASE values 0x0A0A, 0x1A1A, ... 0xFAFA."""
    return v in _GREASE16


def is_grease_psk_mode(m: int) -> bool:
    """True for the RFC 8701 GREASE PskKeyExchangeMode values (0x0B, 0x2A, ... 0xE4)."""
    return m in _GREASE_PSK_MODES


def is_grease_alpn(proto_id: bytes | str) -> bool:
    """True for a two-byte RFC 8701 GREASE ALPN identifier such as b"\\x0a\\x0a"."""
    raw = _alpn_bytes(proto_id)
    return raw is not None and len(raw) == 2 and (raw[0] << 8 | raw[1]) in _GREASE16


def is_grease_quic_version(v: int) -> bool:
    """True for QUIC versions of the reserved form 0x?a?a?a?a (RFC 9000 §15)."""
    return (v & 0x0F0F0F0F) == 0x0A0A0A0A


def is_grease_quic_transport_param(p: int) -> bool:
    """True for reserved QUIC transport parameter ids 31 * N + 27 (RFC 9000 §18.1)."""
    return p >= 27 and (p - 27) % 31 == 0


# ---------------------------------------------------------------------------------------------------------------
# Lookups
# ---------------------------------------------------------------------------------------------------------------


def cipher_suite_name(code: int) -> str | None:
    """IANA name of a cipher suite ("GREASE" for RFC 8701 values), or None."""
    return _CIPHERS.get(code)


def cipher_suite_info(code: int) -> CipherSuite | None:
    """Derived attributes of a named cipher suite, or None (also for GREASE values)."""
    return _CIPHER_INFO.get(code)


def extension_name(t: int) -> str | None:
    """IANA (or sourced non-IANA) name of a TLS extension type, or None."""
    return _EXTENSIONS.get(t)


def group_name(g: int) -> str | None:
    """IANA name of a supported group / named curve, or None."""
    return _GROUPS.get(g)


def signature_scheme_name(s: int) -> str | None:
    """IANA SignatureScheme name (TLS 1.3 style) or "GREASE", or None; see tls12_signature_pair_name."""
    return _SIGSCHEMES.get(s)


def tls12_signature_pair_name(s: int) -> str | None:
    """Name a TLS 1.2 (hash, signature) pair from the IANA HashAlgorithm/SignatureAlgorithm registries, e.g. 0x0402 -> "dsa_sha256"."""
    h = _HASH_ALGS.get(s >> 8)
    sig = _SIG_ALGS.get(s & 0xFF)
    if h is None or sig is None:
        return None
    return f"{sig}_{h}"


def hash_algorithm_name(h: int) -> str | None:
    """IANA TLS 1.2 HashAlgorithm name (high byte of a sig/hash pair), or None."""
    return _HASH_ALGS.get(h)


def signature_algorithm_name(s: int) -> str | None:
    """IANA TLS 1.2 SignatureAlgorithm name (low byte of a sig/hash pair), or None."""
    return _SIG_ALGS.get(s)


def alert_name(d: int) -> str | None:
    """IANA alert description name, or None."""
    return _ALERTS.get(d)


def alert_level_name(level: int) -> str | None:
    """ "warning" (1) or "fatal" (2), or None."""
    return _ALERT_LEVELS.get(level)


def handshake_type_name(t: int) -> str | None:
    """IANA handshake message type name (plus NPN's next_protocol), or None."""
    return _HANDSHAKES.get(t)


def content_type_name(t: int) -> str | None:
    """IANA record content type name, or None."""
    return _CONTENT_TYPES.get(t)


def psk_mode_name(m: int) -> str | None:
    """IANA PskKeyExchangeMode name or "GREASE", or None."""
    return _PSK_MODES.get(m)


def ec_point_format_name(f: int) -> str | None:
    """IANA EC point format name, or None."""
    return _EC_POINT_FORMATS.get(f)


def cert_compression_name(a: int) -> str | None:
    """IANA certificate compression algorithm name, or None."""
    return _CERT_COMPRESSION.get(a)


def certificate_type_name(t: int) -> str | None:
    """IANA TLS Certificate Type name (client/server_certificate_type extensions), or None."""
    return _CERT_TYPES.get(t)


def client_certificate_type_name(t: int) -> str | None:
    """IANA ClientCertificateType name (TLS 1.2 CertificateRequest), or None."""
    return _CLIENT_CERT_TYPES.get(t)


def _alpn_bytes(proto_id: bytes | str) -> bytes | None:
    if isinstance(proto_id, bytes):
        return proto_id
    try:
        return proto_id.encode("latin-1")
    except UnicodeEncodeError:
        return proto_id.encode("utf-8", "surrogateescape")


def alpn_name(proto_id: str | bytes) -> str | None:
    """IANA protocol name for an ALPN id ("h2" -> "HTTP/2 over TLS"; GREASE -> "GREASE"), or None."""
    raw = _alpn_bytes(proto_id)
    return None if raw is None else _ALPN.get(raw)


def version_name(v: int) -> str | None:
    """Protocol version name ("TLS 1.2", "DTLS 1.3", "TLS 1.3 (draft 23)", "GREASE"), or None."""
    return _VERSIONS.get(v)


def quic_version_name(v: int) -> str | None:
    """QUIC version name ("QUIC v1", "QUIC draft-29", reserved 0x?a?a?a?a -> "GREASE"), or None."""
    name = _QUIC_VERSIONS.get(v)
    if name is None and is_grease_quic_version(v):
        return GREASE
    return name


def quic_transport_param_name(p: int) -> str | None:
    """IANA QUIC transport parameter name (reserved 31*N+27 -> "GREASE"), or None."""
    name = _QUIC_TPS.get(p)
    if name is None and is_grease_quic_transport_param(p):
        return GREASE
    return name


def quic_frame_type_name(t: int) -> str | None:
    """IANA QUIC frame type name (ranges such as STREAM 0x08-0x0f name every value), or None."""
    return _QUIC_FRAMES.get(t)


def quic_transport_error_name(code: int) -> str | None:
    """IANA QUIC transport error name (0x0100-0x01ff -> "CRYPTO_ERROR (<alert>)"), or None."""
    name = _QUIC_ERRORS.get(code)
    if name is None and 0x0100 <= code <= 0x01FF:
        alert = _ALERTS.get(code & 0xFF)
        return f"CRYPTO_ERROR ({alert})" if alert else "CRYPTO_ERROR"
    return name


_LOOKUP: dict[str, Callable[[int], str | None]] = {
    "cipher": cipher_suite_name,
    "extension": extension_name,
    "group": group_name,
    "sigscheme": signature_scheme_name,
    "version": version_name,
    "psk_mode": psk_mode_name,
    "alert": alert_name,
    "alert_level": alert_level_name,
    "handshake": handshake_type_name,
    "content_type": content_type_name,
    "ec_point_format": ec_point_format_name,
    "cert_compression": cert_compression_name,
    "certificate_type": certificate_type_name,
    "client_certificate_type": client_certificate_type_name,
    "hash_algorithm": hash_algorithm_name,
    "signature_algorithm": signature_algorithm_name,
    "quic_version": quic_version_name,
    "quic_transport_param": quic_transport_param_name,
    "quic_frame_type": quic_frame_type_name,
    "quic_transport_error": quic_transport_error_name,
}


def _check_kind(kind: str) -> None:
    if kind not in _NAMES:
        raise ValueError(f"unknown registry kind {kind!r}; expected one of {sorted(_NAMES)}")


def name_or_hex(kind: str, code: int) -> str:
    """Always-printable name for display: the registry name, else "unknown (0x1234)"; ValueError on a bad kind."""
    lookup = _LOOKUP.get(kind)
    if lookup is None:
        _check_kind(kind)
        raise AssertionError(kind)  # pragma: no cover - _LOOKUP and _NAMES list the same kinds
    name = lookup(code)
    if name is None and kind == "sigscheme":
        pair = tls12_signature_pair_name(code)
        if pair is not None:
            name = f"{pair} (TLS 1.2 pair)"
    if name is not None:
        return name
    return f"unknown (0x{code:0{_HEX_WIDTH[kind]}x})"


def is_iana(kind: str, code: int) -> bool:
    """True if the name for `code` comes from an IANA registry (GREASE counts), False for extra.py values or unknowns."""
    _check_kind(kind)
    return code in _IANA[kind]


def recommended(kind: str, code: int) -> str | None:
    """IANA Recommended column ("Y", "N", "D") for "cipher", "extension", "group" or "sigscheme", else None."""
    _check_kind(kind)
    table = _RECOMMENDED.get(kind)
    return None if table is None else table.get(code)
