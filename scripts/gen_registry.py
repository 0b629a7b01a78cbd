"""Generate `tlsinspect/registry/_tables.py` from the IANA CSVs in `data/iana/`.

Run `python scripts/gen_registry.py` from anywhere; `--check` exits 1 when the committed file is stale.
The output is deterministic (sorted keys, no timestamps), so a test can regenerate it and compare bytes.

Cipher-suite attributes (key exchange, cipher, mode, MAC, ...) are derived here, by a table-driven parser of
the IANA names, so the generated module holds plain data only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data" / "iana"
OUT_PATH = ROOT / "tlsinspect" / "registry" / "_tables.py"

# --------------------------------------------------------------------------------------------------------------
# Generic CSV handling
# --------------------------------------------------------------------------------------------------------------

_RENAMED = re.compile(r'\s*\(renamed from "[^"]*"\)$')
_GREASE_REF = "[RFC8701]"


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV record: its first value, the lower/upper code it covers, and its cells by header name."""

    file: str
    lo: int
    hi: int
    cells: dict[str, str]


def read_csv(name: str) -> list[dict[str, str]]:
    """Read one CSV from data/iana as a list of header->cell dicts (cells whitespace-normalised)."""
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as fh:
        return [{k: " ".join(v.split()) for k, v in rec.items()} for rec in csv.DictReader(fh)]


def parse_int_range(text: str) -> tuple[int, int]:
    """Parse `23`, `42-255`, `0x0804`, `0x0000-0x0200` or `0x02-0x03` into (lo, hi)."""
    base = 16 if text.lower().startswith("0x") else 10
    lo_s, _, hi_s = text.partition("-")
    lo = int(lo_s, base)
    hi = int(hi_s, base) if hi_s else lo
    if hi < lo:
        raise ValueError(f"bad range {text!r}")
    return lo, hi


def parse_cipher_value(text: str) -> tuple[int, int]:
    """Parse cipher-suite values: `0xHH,0xHH`, `0x00,0x1C-1D`, `0x01-09,*`, `0x0A,0x0B-FF`, `0xCB,*`."""
    first, second = (p.strip() for p in text.split(","))
    a_lo, a_hi = _hex_byte_range(first)
    if second == "*":
        b_lo, b_hi = 0x00, 0xFF
    else:
        b_lo, b_hi = _hex_byte_range(second)
    if a_lo != a_hi and (b_lo, b_hi) != (0, 0xFF):
        raise ValueError(f"unsupported cipher range {text!r}")
    return (a_lo << 8) | b_lo, (a_hi << 8) | b_hi


def _hex_byte_range(part: str) -> tuple[int, int]:
    if not part.lower().startswith("0x"):
        raise ValueError(f"bad cipher byte {part!r}")
    lo_s, _, hi_s = part[2:].partition("-")
    lo = int(lo_s, 16)
    hi = int(hi_s, 16) if hi_s else lo
    return lo, hi


def is_placeholder(description: str) -> bool:
    """True for rows that name nothing: Unassigned / Reserved ... / Reserved for Private Use."""
    return description.startswith(("Unassigned", "Reserved"))


def clean_name(description: str) -> str:
    """Strip IANA's `(renamed from "...")` history suffix; other suffixes (OBSOLETE, deprecated) stay."""
    return _RENAMED.sub("", description)


def is_grease_row(rec: dict[str, str]) -> bool:
    """A `Reserved` row citing RFC 8701 is a GREASE code point."""
    return rec.get("Description", rec.get("Extension Name", "")).startswith("Reserved") and (
        _GREASE_REF in rec.get("Reference", "") or "(GREASE)" in rec.get("Description", "")
    )


def simple_table(file: str, value_col: str, name_col: str, *, grease: bool = False) -> dict[int, str]:
    """Map single-value named rows of one CSV to their names (GREASE rows to "GREASE" when `grease`)."""
    out: dict[int, str] = {}
    for rec in read_csv(file):
        lo, hi = parse_int_range(rec[value_col])
        desc = rec[name_col]
        if grease and is_grease_row({"Description": desc, "Reference": rec.get("Reference", "")}):
            name = "GREASE"
        elif is_placeholder(desc):
            continue
        else:
            name = clean_name(desc)
        if lo != hi:
            raise ValueError(f"{file}: named range row {rec[value_col]!r} {desc!r}")
        if lo in out:
            raise ValueError(f"{file}: duplicate value {lo:#x}")
        out[lo] = name
    return out


def range_named_table(file: str, value_col: str, name_col: str) -> dict[int, str]:
    """Like simple_table, but named range rows (QUIC frame types `0x08-0x0f STREAM`) name every value."""
    out: dict[int, str] = {}
    for rec in read_csv(file):
        desc = rec[name_col]
        if not desc or is_placeholder(desc):
            continue
        lo, hi = parse_int_range(rec[value_col])
        if hi - lo > 0x1000:
            raise ValueError(f"{file}: range too wide to expand: {rec[value_col]!r}")
        for v in range(lo, hi + 1):
            if v in out:
                raise ValueError(f"{file}: duplicate value {v:#x}")
            out[v] = desc
    return out


def recommended_table(file: str, value_col: str, name_col: str) -> dict[int, str]:
    """Map named single-value rows to their Recommended cell (Y/N/D)."""
    out: dict[int, str] = {}
    for rec in read_csv(file):
        desc = rec[name_col]
        if is_placeholder(desc):
            continue
        lo, _ = parse_int_range(rec[value_col])
        out[lo] = rec["Recommended"]
    return out


# --------------------------------------------------------------------------------------------------------------
# Cipher-suite name parser (table-driven)
# --------------------------------------------------------------------------------------------------------------

# Key-exchange part (between "TLS_" and "_WITH_", after removing EXPORT / EXPORT1024): (kx, auth).
KX_TABLE: dict[str, tuple[str, str]] = {
    "NULL": ("NULL", "NULL"),
    "RSA": ("RSA", "RSA"),
    "DH_DSS": ("DH", "DSS"),
    "DH_RSA": ("DH", "RSA"),
    "DHE_DSS": ("DHE", "DSS"),
    "DHE_RSA": ("DHE", "RSA"),
    "DH_anon": ("DH", "anon"),
    "ECDH_ECDSA": ("ECDH", "ECDSA"),
    "ECDH_RSA": ("ECDH", "RSA"),
    "ECDHE_ECDSA": ("ECDHE", "ECDSA"),
    "ECDHE_RSA": ("ECDHE", "RSA"),
    "ECDH_anon": ("ECDH", "anon"),
    "KRB5": ("KRB5", "KRB5"),
    "PSK": ("PSK", "PSK"),
    "DHE_PSK": ("DHE_PSK", "PSK"),
    "PSK_DHE": ("DHE_PSK", "PSK"),  # IANA spells 0xC0AA/0xC0AB "TLS_PSK_DHE_WITH_..." (RFC 6655)
    "RSA_PSK": ("RSA_PSK", "RSA"),
    "ECDHE_PSK": ("ECDHE_PSK", "PSK"),
    "SRP_SHA": ("SRP", "SHA"),
    "SRP_SHA_RSA": ("SRP", "RSA"),
    "SRP_SHA_DSS": ("SRP", "DSS"),
    "ECCPWD": ("ECCPWD", "ECCPWD"),
    "GOSTR341112_256": ("GOSTR341112", "GOSTR341112"),
}

# Key exchanges with per-connection (ephemeral) secrets. SRP and ECCPWD (RFC 8492) use fresh private values per
# handshake, so a later password/key leak does not expose recorded sessions. Anonymous DH/ECDH are left out: they are
# unauthenticated, which is the finding that matters. TLS 1.3 suites are always forward secret.
FORWARD_SECRET_KX = frozenset({"DHE", "ECDHE", "DHE_PSK", "ECDHE_PSK", "SRP", "ECCPWD"})


@dataclass(frozen=True, slots=True)
class CipherSpec:
    """What a run of name tokens says about the bulk cipher."""

    cipher: str
    mode: str
    key_bits: int
    aead: bool
    tls13: bool = False
    """True when the cipher only exists in TLS 1.3 suites even though the name has _WITH_ (RFC 9367 GOST MGM)."""
    prf_hash: str | None = None
    """PRF/HKDF hash implied by the cipher itself (GOST MGM suites carry no hash token)."""


def _aes_like(
    family: str, sizes: tuple[int, ...], modes: tuple[str, ...]
) -> dict[tuple[str, ...], CipherSpec]:
    out: dict[tuple[str, ...], CipherSpec] = {}
    for bits in sizes:
        for mode in modes:
            toks = (family, str(bits), *mode.split("_"))
            out[toks] = CipherSpec(f"{family}_{bits}", mode, bits, mode != "CBC")
    return out


CIPHER_TABLE: dict[tuple[str, ...], CipherSpec] = {
    ("NULL",): CipherSpec("NULL", "NULL", 0, False),
    ("RC4", "128"): CipherSpec("RC4_128", "STREAM", 128, False),
    ("RC4", "40"): CipherSpec("RC4_40", "STREAM", 40, False),
    ("RC2", "CBC", "40"): CipherSpec("RC2_40", "CBC", 40, False),
    ("IDEA", "CBC"): CipherSpec("IDEA", "CBC", 128, False),
    ("DES40", "CBC"): CipherSpec("DES40", "CBC", 40, False),
    ("DES", "CBC", "40"): CipherSpec("DES40", "CBC", 40, False),
    ("DES", "CBC"): CipherSpec("DES", "CBC", 56, False),
    ("3DES", "EDE", "CBC"): CipherSpec("3DES_EDE", "CBC", 168, False),
    ("SEED", "CBC"): CipherSpec("SEED", "CBC", 128, False),
    **_aes_like("AES", (128, 256), ("CBC", "GCM", "CCM", "CCM_8")),
    **_aes_like("CAMELLIA", (128, 256), ("CBC", "GCM")),
    **_aes_like("ARIA", (128, 256), ("CBC", "GCM")),
    ("CHACHA20", "POLY1305"): CipherSpec("CHACHA20", "POLY1305", 256, True),
    ("SM4", "GCM"): CipherSpec("SM4", "GCM", 128, True),
    ("SM4", "CCM"): CipherSpec("SM4", "CCM", 128, True),
    ("AEGIS", "256"): CipherSpec("AEGIS_256", "AEGIS", 256, True),
    ("AEGIS", "128L"): CipherSpec("AEGIS_128L", "AEGIS", 128, True),
    ("ASCONAEAD128",): CipherSpec("ASCON_AEAD128", "ASCON", 128, True),
    # RFC 9189 (TLS 1.2): CTR-OMAC / CNT-IMIT; the MAC token follows.
    ("KUZNYECHIK", "CTR"): CipherSpec("KUZNYECHIK", "CTR", 256, False),
    ("MAGMA", "CTR"): CipherSpec("MAGMA", "CTR", 256, False),
    ("28147", "CNT"): CipherSpec("GOST28147", "CNT", 256, False),
    # RFC 9367 (TLS 1.3): MGM AEAD, _L / _S = light / strong re-keying profile; hash Streebog-256.
    ("KUZNYECHIK", "MGM", "L"): CipherSpec("KUZNYECHIK", "MGM", 256, True, True, "streebog256"),
    ("KUZNYECHIK", "MGM", "S"): CipherSpec("KUZNYECHIK", "MGM", 256, True, True, "streebog256"),
    ("MAGMA", "MGM", "L"): CipherSpec("MAGMA", "MGM", 256, True, True, "streebog256"),
    ("MAGMA", "MGM", "S"): CipherSpec("MAGMA", "MGM", 256, True, True, "streebog256"),
    # RFC 9150 integrity-only TLS 1.3 suites: TLS_SHA256_SHA256 has no cipher at all.
    ("SHA256",): CipherSpec("NULL", "NULL", 0, False),
    ("SHA384",): CipherSpec("NULL", "NULL", 0, False),
}

# Trailing MAC/hash token -> hash name. "SHA" is HMAC-SHA1; OMAC/IMIT are the RFC 9189 GOST MACs.
HASH_TOKENS: dict[str, str] = {
    "MD5": "md5",
    "SHA": "sha1",
    "SHA256": "sha256",
    "SHA384": "sha384",
    "SHA512": "sha512",
    "SM3": "sm3",
    "ASCONHASH256": "ascon-hash256",
}
GOST_MAC_TOKENS = frozenset({"OMAC", "IMIT"})
SCSV_NAMES = frozenset({"TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "TLS_FALLBACK_SCSV"})

# Field order of the generated CIPHER_SUITES tuples (mirrors registry.CipherSuite after `code`).
CIPHER_FIELDS = (
    "name",
    "kx",
    "auth",
    "cipher",
    "mode",
    "mac",
    "export",
    "forward_secrecy",
    "tls13",
    "recommended",
    "aead",
    "key_bits",
    "prf_hash",
    "dtls_ok",
)

CipherTuple = tuple[str, str, str, str, str, str, bool, bool, bool, str, bool, int | None, str | None, bool]


def _match_cipher(tokens: list[str]) -> tuple[CipherSpec, list[str]]:
    """Longest-prefix match of `tokens` against CIPHER_TABLE; returns the spec and the leftover tokens."""
    for n in range(len(tokens), 0, -1):
        spec = CIPHER_TABLE.get(tuple(tokens[:n]))
        if spec is not None:
            return spec, tokens[n:]
    raise ValueError(f"unknown cipher tokens {tokens}")


def parse_cipher_suite(name: str, recommended: str, dtls_ok: bool) -> CipherTuple:
    """Derive the CipherSuite attributes from an IANA (or legacy SSL_) cipher-suite name; raises on anything new."""
    if name in SCSV_NAMES:
        return (
            name,
            "SCSV",
            "SCSV",
            "NULL",
            "NULL",
            "NULL",
            False,
            False,
            False,
            recommended,
            False,
            None,
            None,
            dtls_ok,
        )
    prefix, _, rest = name.partition("_")
    if prefix not in ("TLS", "SSL"):
        raise ValueError(f"unknown prefix in {name!r}")
    if "_WITH_" in rest:
        kx_part, _, bulk = rest.partition("_WITH_")
        kx_tokens = kx_part.split("_")
        export = any(t in ("EXPORT", "EXPORT1024") for t in kx_tokens)
        kx_key = "_".join(t for t in kx_tokens if t not in ("EXPORT", "EXPORT1024"))
        if kx_key not in KX_TABLE:
            raise ValueError(f"unknown key exchange {kx_key!r} in {name!r}")
        kx, auth = KX_TABLE[kx_key]
        spec, leftover = _match_cipher(bulk.split("_"))
        tls13 = spec.tls13
    else:
        export = False
        kx, auth = "any", "any"
        spec, leftover = _match_cipher(rest.split("_"))
        tls13 = True
        if not leftover:
            raise ValueError(f"TLS 1.3 suite without hash: {name!r}")
    if tls13:
        kx, auth = "any", "any"
    mac_token = "_".join(leftover)
    prf_hash: str | None
    if mac_token == "NULL":  # TLS_NULL_WITH_NULL_NULL, the initial "no protection" state
        mac, prf_hash = "NULL", None
    elif mac_token in GOST_MAC_TOKENS:
        mac, prf_hash = mac_token, "streebog256"
    elif mac_token == "":
        if not spec.aead:
            raise ValueError(f"non-AEAD suite without MAC: {name!r}")
        # TLS 1.2 CCM suites (RFC 6655/7251) use the default SHA-256 PRF; MGM suites carry their own hash.
        mac, prf_hash = "AEAD", spec.prf_hash or "sha256"
    elif mac_token in HASH_TOKENS:
        hash_name = HASH_TOKENS[mac_token]
        mac = "AEAD" if spec.aead else mac_token
        if tls13:
            prf_hash = hash_name
        elif kx == "GOSTR341112":
            prf_hash = "streebog256"
        else:
            # TLS 1.2: SHA-384 suites use a SHA-384 PRF, everything else the default SHA-256 PRF (RFC 5246 §5).
            prf_hash = "sha384" if mac_token == "SHA384" else "sha256"
    else:
        raise ValueError(f"unknown MAC/hash {mac_token!r} in {name!r}")
    fs = tls13 or kx in FORWARD_SECRET_KX
    key_bits: int | None = spec.key_bits
    return (
        name,
        kx,
        auth,
        spec.cipher,
        spec.mode,
        mac,
        export,
        fs,
        tls13,
        recommended,
        spec.aead,
        key_bits,
        prf_hash,
        dtls_ok,
    )


def cipher_suites() -> tuple[dict[int, CipherTuple], dict[int, str]]:
    """Return (named suites with attributes, GREASE code points -> "GREASE") from tls-parameters-4.csv."""
    suites: dict[int, CipherTuple] = {}
    grease: dict[int, str] = {}
    for rec in read_csv("tls-parameters-4.csv"):
        lo, hi = parse_cipher_value(rec["Value"])
        desc = rec["Description"]
        if is_grease_row(rec):
            grease[lo] = "GREASE"
            continue
        if is_placeholder(desc):
            continue
        if lo != hi:
            raise ValueError(f"named cipher range {rec['Value']!r}")
        suites[lo] = parse_cipher_suite(desc, rec["Recommended"], rec["DTLS-OK"] == "Y")
    return suites, grease


# --------------------------------------------------------------------------------------------------------------
# Special-format tables
# --------------------------------------------------------------------------------------------------------------

_ALPN_SEQ = re.compile(r'^((?:0x[0-9A-Fa-f]{2}\s*)+)(?:\("(.*)"\))?$')


def alpn_table() -> dict[bytes, str]:
    """Map ALPN protocol-id bytes to IANA's Protocol name (GREASE ids to "GREASE")."""
    out: dict[bytes, str] = {}
    for rec in read_csv("alpn-protocol-ids.csv"):
        m = _ALPN_SEQ.match(rec["Identification Sequence"])
        if m is None:
            raise ValueError(f"bad ALPN sequence {rec['Identification Sequence']!r}")
        raw = bytes(int(h, 16) for h in m.group(1).split())
        if m.group(2) is not None and m.group(2).encode("ascii") != raw:
            raise ValueError(f"ALPN hex and string disagree: {rec['Identification Sequence']!r}")
        if rec["Protocol"] == "Reserved" and _GREASE_REF in rec["Reference"]:
            out[raw] = "GREASE"
        elif not is_placeholder(rec["Protocol"]):
            out[raw] = rec["Protocol"]
    return out


# QUIC Versions has no name column: Notes when present, else a name for the RFC that defines the version.
QUIC_VERSION_NAMES_BY_SPEC: dict[str, str] = {"[RFC9000]": "QUIC v1", "[RFC9369]": "QUIC v2"}


def quic_versions() -> dict[int, str]:
    """Map QUIC version numbers to a display name (0 -> "Version Negotiation", RFC 9000 §17.2.1)."""
    out: dict[int, str] = {}
    for rec in read_csv("quic-versions.csv"):
        lo, _ = parse_int_range(rec["Value"])
        if rec["Notes"] == "Reserved for Version Negotiation":
            out[lo] = "Version Negotiation"
        elif rec["Notes"]:
            out[lo] = rec["Notes"]
        else:
            out[lo] = QUIC_VERSION_NAMES_BY_SPEC[rec["Specification"]]
    return out


def quic_transport_errors() -> dict[int, str]:
    """Map QUIC transport error codes to their Code column; CRYPTO_ERROR's range is not expanded."""
    out: dict[int, str] = {}
    for rec in read_csv("quic-transport-error-codes.csv"):
        lo, hi = parse_int_range(rec["Value"])
        if lo == hi:
            out[lo] = rec["Code"]
    return out


def versions() -> dict[int, str]:
    """Map protocol versions (tls-versions.csv, written from the RFCs) to names; GREASE rows to "GREASE"."""
    out: dict[int, str] = {}
    for rec in read_csv("tls-versions.csv"):
        lo, _ = parse_int_range(rec["Value"])
        out[lo] = "GREASE" if rec["Description"] == "Reserved (GREASE)" else rec["Description"]
    return out


# --------------------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------------------

# (table name, CSV file, value column, name column, grease?) for the plain code -> name registries.
SIMPLE_TABLES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("CONTENT_TYPES", "tls-parameters-5.csv", "Value", "Description", False),
    ("ALERTS", "tls-parameters-6.csv", "Value", "Description", False),
    ("HANDSHAKE_TYPES", "tls-parameters-7.csv", "Value", "Description", False),
    ("GROUPS", "tls-parameters-8.csv", "Value", "Description", True),
    ("EC_POINT_FORMATS", "tls-parameters-9.csv", "Value", "Description", False),
    ("CLIENT_CERTIFICATE_TYPES", "tls-parameters-2.csv", "Value", "Description", False),
    ("TLS12_SIGNATURE_ALGORITHMS", "tls-parameters-16.csv", "Value", "Description", False),
    ("TLS12_HASH_ALGORITHMS", "tls-parameters-18.csv", "Value", "Description", False),
    ("SIGNATURE_SCHEMES", "tls-signaturescheme.csv", "Value", "Description", False),
    ("PSK_MODES", "tls-pskkeyexchangemode.csv", "Value", "Description", False),
    ("EXTENSIONS", "tls-extensiontype-values-1.csv", "Value", "Extension Name", True),
    ("CERTIFICATE_TYPES", "tls-extensiontype-values-3.csv", "Value", "Description", False),
    (
        "CERT_COMPRESSION",
        "tls-certificate-compression-algorithm-ids.csv",
        "Algorithm Number",
        "Description",
        False,
    ),
    ("QUIC_TRANSPORT_PARAMS", "quic-transport.csv", "Value", "Parameter Name", False),
)

RECOMMENDED_TABLES: tuple[tuple[str, str, str, str], ...] = (
    ("EXTENSIONS_RECOMMENDED", "tls-extensiontype-values-1.csv", "Value", "Extension Name"),
    ("GROUPS_RECOMMENDED", "tls-parameters-8.csv", "Value", "Description"),
    ("SIGNATURE_SCHEMES_RECOMMENDED", "tls-signaturescheme.csv", "Value", "Description"),
)

SOURCE_FILES: tuple[str, ...] = tuple(
    sorted(
        {f for _, f, _, _, _ in SIMPLE_TABLES}
        | {
            "tls-parameters-4.csv",
            "alpn-protocol-ids.csv",
            "quic-versions.csv",
            "quic-frame-types.csv",
            "quic-transport-error-codes.csv",
            "tls-versions.csv",
        }
    )
)

HEADER = '''\
"""IANA lookup tables. GENERATED by scripts/gen_registry.py from data/iana/*.csv: do not edit by hand.

Sources (see data/iana/README.md): IANA registry XML, byte-exact copies in valkyoth/brynja
standards/snapshots/iana/ (HEAD 4ecaf2c4f5208a56e7ae3c469de2766423f5751c):
  tls-parameters.xml          updated 2026-07-20  sha256 cd7ecaf748a08430cd1dbc76ec292c88fa44ac713c80a657298ed85cb11a3ffc
  tls-extensiontype-values.xml updated 2026-07-23 sha256 d6fca9de288e8ca54c0d832ef1e2e0baa5e67e2b240c5db7144e76354b502305
  quic.xml                    updated 2026-05-04  sha256 8867dffa0213139187ea9bb358ab907b746f47918a6ed713c38a322580232536
  tls-versions.csv is not an IANA registry: written by hand from the RFCs.

CSV inputs (sha256):
{inputs}
"""

# fmt: off
'''


def _emit_dict(name: str, type_: str, table: Mapping[Any, str], hex_width: int | None) -> str:
    lines = [f"{name}: {type_} = {{"]
    for key in sorted(table):
        k = f"0x{key:0{hex_width}x}" if isinstance(key, int) and hex_width else repr(key)
        lines.append(f"    {k}: {table[key]!r},")
    lines.append("}")
    return "\n".join(lines)


def render() -> str:
    """Return the full text of _tables.py."""
    inputs = "\n".join(
        f"  {f:<48} {hashlib.sha256((DATA_DIR / f).read_bytes()).hexdigest()}" for f in SOURCE_FILES
    )
    parts = [HEADER.replace("{inputs}", inputs)]
    suites, grease = cipher_suites()
    parts.append("# code: (" + ", ".join(CIPHER_FIELDS) + ")")
    lines = [
        "CIPHER_SUITES: dict[int, tuple[str, str, str, str, str, str, bool, bool, bool, str, bool, int | None, str | None, bool]] = {"
    ]
    for code in sorted(suites):
        lines.append(f"    0x{code:04x}: {suites[code]!r},")
    lines.append("}")
    parts.append("\n".join(lines))
    parts.append(_emit_dict("CIPHER_SUITES_GREASE", "dict[int, str]", grease, 4))
    widths = {
        "CONTENT_TYPES": 2,
        "ALERTS": 2,
        "HANDSHAKE_TYPES": 2,
        "EC_POINT_FORMATS": 2,
        "CLIENT_CERTIFICATE_TYPES": 2,
        "TLS12_SIGNATURE_ALGORITHMS": 2,
        "TLS12_HASH_ALGORITHMS": 2,
        "PSK_MODES": 2,
        "CERTIFICATE_TYPES": 2,
    }
    for name, file, vcol, ncol, grease_rows in SIMPLE_TABLES:
        table = simple_table(file, vcol, ncol, grease=grease_rows)
        parts.append(_emit_dict(name, "dict[int, str]", table, widths.get(name, 4)))
    for name, file, vcol, ncol in RECOMMENDED_TABLES:
        parts.append(_emit_dict(name, "dict[int, str]", recommended_table(file, vcol, ncol), 4))
    parts.append(_emit_dict("ALPN", "dict[bytes, str]", alpn_table(), None))
    parts.append(_emit_dict("VERSIONS", "dict[int, str]", versions(), 4))
    parts.append(_emit_dict("QUIC_VERSIONS", "dict[int, str]", quic_versions(), 8))
    parts.append(
        _emit_dict(
            "QUIC_FRAME_TYPES",
            "dict[int, str]",
            range_named_table("quic-frame-types.csv", "Value", "Frame Type Name"),
            2,
        )
    )
    parts.append(_emit_dict("QUIC_TRANSPORT_ERRORS", "dict[int, str]", quic_transport_errors(), 2))
    return "\n\n".join(parts) + "\n"


def named_rows() -> Iterator[tuple[str, int | bytes, str]]:
    """Yield (kind, code, name) for every named row of every CSV, as the API must answer it (used by tests)."""
    suites, grease = cipher_suites()
    for code, row in suites.items():
        yield "cipher", code, row[0]
    for code, name in grease.items():
        yield "cipher", code, name
    kinds = {
        "CONTENT_TYPES": "content_type",
        "ALERTS": "alert",
        "HANDSHAKE_TYPES": "handshake",
        "GROUPS": "group",
        "EC_POINT_FORMATS": "ec_point_format",
        "CLIENT_CERTIFICATE_TYPES": "client_certificate_type",
        "TLS12_SIGNATURE_ALGORITHMS": "signature_algorithm",
        "TLS12_HASH_ALGORITHMS": "hash_algorithm",
        "SIGNATURE_SCHEMES": "sigscheme",
        "PSK_MODES": "psk_mode",
        "EXTENSIONS": "extension",
        "CERTIFICATE_TYPES": "certificate_type",
        "CERT_COMPRESSION": "cert_compression",
        "QUIC_TRANSPORT_PARAMS": "quic_transport_param",
    }
    for name, file, vcol, ncol, grease_rows in SIMPLE_TABLES:
        for code, n in simple_table(file, vcol, ncol, grease=grease_rows).items():
            yield kinds[name], code, n
    for raw, n in alpn_table().items():
        yield "alpn", raw, n
    for code, n in versions().items():
        yield "version", code, n
    for code, n in quic_versions().items():
        yield "quic_version", code, n
    for code, n in range_named_table("quic-frame-types.csv", "Value", "Frame Type Name").items():
        yield "quic_frame_type", code, n
    for code, n in quic_transport_errors().items():
        yield "quic_transport_error", code, n


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) tlsinspect/registry/_tables.py."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        current = OUT_PATH.read_text(encoding="utf-8") if OUT_PATH.exists() else ""
        if current != text:
            print(f"{OUT_PATH} is stale: run python scripts/gen_registry.py", file=sys.stderr)
            return 1
        return 0
    OUT_PATH.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {OUT_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
