"""TLS fingerprints computed from parsed hellos: JA3, JA3S and JA4 (the client fingerprint only).

Pure functions of a parsed ClientHello/ServerHello, no I/O. Each returns a pair (the full/raw string, the hashed
form). They live in parse, beside the hello parsers, because the engine computes them once per connection as the
hellos arrive (engine/tls_conn.py), and the engine must not import analysis.

JA3 / JA3S (salesforce/ja3), matched value for value against tshark 4.0's ``tls.handshake.ja3_full`` and
``ja3s_full`` over the whole shared corpus:

* ``JA3  = legacy_version,ciphers,extensions,supported_groups,ec_point_formats``
* ``JA3S = legacy_version,cipher,extensions``

Numbers are decimal, lists dash-joined, in wire order. GREASE values (RFC 8701, ``0x?a?a``) are dropped from the
cipher, extension and group lists (tshark and salesforce/ja3 both do this); point formats are one byte and never
GREASE. The version is always the hello's ``legacy_version`` (never ``supported_versions``), as tshark does. A
hello without an extensions block and one with an empty block give the same string (``"768,57-47,,,"``), which is
also what tshark writes. Supported groups come from ``supported_groups`` (extension 10) only.

SSLv2-compatible CLIENT-HELLOs (``ch.sslv2``): tshark computes no JA3 for them and salesforce/ja3 skips them (it
reads only TLS handshake records). We still return a value: the v2 hello's version field, then those cipher specs
that are representable in two bytes (``spec <= 0xffff``, i.e. the SSLv3/TLS suites a v2-compatible hello carries
as ``00 xx yy``), with the SSLv2-only 3-byte kinds (``0x010080`` ...) left out, and empty extension, group and
point-format fields. Treat it as a best effort; no reference tool produces it.

JA4 (FoxIO, BSD-3-Clause; ``technical_details/JA4.md``). Only JA4, never JA4S/JA4H/JA4X/... (FoxIO License).
We follow the written spec. The reference implementations (FoxIO Rust ``ja4`` and Python ``ja4.py``, the FoxIO
Wireshark plugin) differ from it in a few corners; here is each, and what we do:

1. ALPN whose first or last byte is not ASCII alphanumeric. Spec: the first and last characters of the *hex* of
   the first ALPN value (``ba ad`` -> ``"bd"``). Rust replaces each non-ASCII character with ``'9'``, Python and
   the Wireshark plugin write ``"99"`` when the first character is non-ASCII. We follow the spec, so
   ``foxio-ja4/pcap/tls-non-ascii-alpn.pcapng`` gives ``t13d1516bd_8daaf6152771_e5627efa2ab1`` where the
   upstream snapshot says ``t13d151699_...`` (the two hashes agree). The spec rule needs the raw bytes, so we
   read the ALPN extension body, not the U+FFFD-decoded ``ch.alpn``.
2. ALPN whose first value is one character. Spec: that character twice (``"a"`` -> ``"aa"``). Rust gives
   ``"a0"``, Python ``"a"`` (a 9-character prefix). We follow the spec.
3. Version for DTLS. Spec: "the highest value" in supported_versions. DTLS numbers count down (DTLS 1.2 =
   0xfefd, DTLS 1.3 = 0xfefc), so the numeric maximum (what the Wireshark plugin takes) names the *oldest*
   version. When every offered value is a DTLS one (0xfexx) we take the newest (DTLS 1.3 -> ``"d3"``), which is
   the spec's intent. Otherwise the numeric maximum, as spec and references do: a TLS 1.3 draft (0x7f17) beats
   0x0303 and gives ``"00"`` (Arkime and FoxIO agree, e.g. ``t00d1815h2``). Rust and Python have no DTLS
   mapping at all (``"00"``). We fall back to legacy_version when supported_versions holds only GREASE (Rust
   gives no fingerprint there).
4. GREASE in signature_algorithms. Spec: ignore GREASE "anywhere". Rust, Python and the plugin keep whatever
   the signature_algorithms list holds. We drop GREASE there too. (Browsers do not GREASE this list in a
   ClientHello, so no capture in the corpus tells the two apart.)
5. SNI flag. Spec: ``d`` when the server_name extension is present, else ``i``. Some tools (nDPI) print ``d``
   even without SNI, some check the name is not an IP literal. We look at extension presence only, like the
   spec and the FoxIO tools.
6. Empty lists. Spec: ``000000000000`` for an empty cipher list or an empty (post SNI/ALPN removal) extension
   list. Rust/Python agree; older Suricata and nDPI hash the empty string (``e3b0c44298fc``). We follow the spec.
   With no signature algorithms the extension string has no trailing ``_`` (spec, Rust, Python agree).

The transport letter is the caller's: ``"t"`` TLS over TCP, ``"q"`` QUIC, ``"d"`` DTLS. The extension count
includes SNI and ALPN; both counts exclude GREASE and are capped at 99. Unknown versions map to ``"00"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache

from tlsinspect.model import ClientHello, ServerHello
from tlsinspect.registry import is_grease

__all__ = ["is_grease", "ja3", "ja3s", "ja4", "ja4_alpn_chars", "ja4_version"]

EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_ALPN = 16

_JA4_VERSIONS: dict[int, str] = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
_TRANSPORTS = frozenset({"t", "q", "d"})
_EMPTY_HASH = "000000000000"


def _no_grease(values: Iterable[int]) -> list[int]:
    return [v for v in values if not is_grease(v)]


def _dash(values: Iterable[int]) -> str:
    return "-".join(str(v) for v in values)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("ascii"), usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------------------------------------- JA3


def ja3(ch: ClientHello) -> tuple[str, str]:
    """(ja3_full, md5 hex) of a ClientHello, as tshark 4.0 computes them."""
    if ch.sslv2:
        ciphers = [c for c in ch.cipher_suites if c <= 0xFFFF]
    else:
        ciphers = list(ch.cipher_suites)
    full = ",".join(
        (
            str(ch.legacy_version),
            _dash(_no_grease(ciphers)),
            _dash(_no_grease(e.type for e in ch.extensions)),
            _dash(_no_grease(ch.supported_groups)),
            _dash(ch.ec_point_formats),
        )
    )
    return full, _md5(full)


def ja3s(sh: ServerHello) -> tuple[str, str]:
    """(ja3s_full, md5 hex) of a ServerHello (or HelloRetryRequest), as tshark 4.0 computes them."""
    return _ja3s(sh.legacy_version, sh.cipher_suite, tuple(e.type for e in sh.extensions))


@lru_cache(maxsize=1024)  # a server answers every client the same way: a handful of distinct inputs
def _ja3s(version: int, suite: int, extension_types: tuple[int, ...]) -> tuple[str, str]:
    full = ",".join((str(version), str(suite), _dash(_no_grease(extension_types))))
    return full, _md5(full)


# --------------------------------------------------------------------------------------------------------- JA4


def ja4_version(ch: ClientHello) -> str:
    """The two-character JA4 version: highest non-GREASE supported_versions entry, else legacy_version.

    "Highest" is the numeric maximum, as the spec says and the FoxIO tools do (so a TLS 1.3 draft such as 0x7f17
    wins over 0x0303 and gives "00"), except for DTLS, whose numbers count down: there the newest version is taken.
    """
    offered = _no_grease(ch.supported_versions)
    if not offered:
        version = ch.legacy_version
    elif all(v >= 0xFE00 for v in offered):
        version = min(offered)
    else:
        version = max(offered)
    return _JA4_VERSIONS.get(version, "00")


def first_alpn_bytes(ch: ClientHello) -> bytes | None:
    """The first ALPN protocol id as raw bytes, or None when there is no ALPN extension / no value."""
    for ext in ch.extensions:
        if ext.type != EXT_ALPN:
            continue
        data = ext.data
        if len(data) >= 3:
            first_len = data[2]
            if first_len and 3 + first_len <= len(data):
                return bytes(data[3 : 3 + first_len])
        break
    # Extension body unusable (or the parser left it empty): fall back to the decoded names.
    if ch.alpn:
        return ch.alpn[0].encode("utf-8")
    return None


def _is_alnum_byte(b: int) -> bool:
    return 0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A


def ja4_alpn_chars(first_alpn: bytes | None) -> str:
    """The two ALPN characters of JA4_a for the first ALPN value (spec rules, see the module docstring)."""
    if not first_alpn:
        return "00"
    first, last = first_alpn[0], first_alpn[-1]
    if _is_alnum_byte(first) and _is_alnum_byte(last):
        return chr(first) + chr(last)
    hexed = first_alpn.hex()
    return hexed[0] + hexed[-1]


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12] if text else _EMPTY_HASH


def ja4(ch: ClientHello, transport: str = "t") -> tuple[str, str]:
    """(ja4, ja4_r) of a ClientHello. `transport`: "t" (TLS over TCP), "q" (QUIC) or "d" (DTLS)."""
    if transport not in _TRANSPORTS:
        raise ValueError(f"transport must be one of 't', 'q', 'd', not {transport!r}")
    ciphers = _no_grease(c for c in ch.cipher_suites if c <= 0xFFFF)
    ext_types = _no_grease(e.type for e in ch.extensions)
    sig_algs = _no_grease(ch.signature_algorithms)

    sni = "d" if EXT_SERVER_NAME in ext_types else "i"
    prefix = (
        f"{transport}{ja4_version(ch)}{sni}{min(len(ciphers), 99):02d}{min(len(ext_types), 99):02d}"
        f"{ja4_alpn_chars(first_alpn_bytes(ch))}"
    )

    cipher_list = ",".join(f"{c:04x}" for c in sorted(ciphers))
    ext_list = ",".join(
        f"{e:04x}" for e in sorted(e for e in ext_types if e not in (EXT_SERVER_NAME, EXT_ALPN))
    )
    sig_list = ",".join(f"{s:04x}" for s in sig_algs)
    ext_part = f"{ext_list}_{sig_list}" if sig_list else ext_list

    cipher_hash = _hash12(cipher_list)
    ext_hash = _hash12(ext_part) if ext_list else _EMPTY_HASH
    return f"{prefix}_{cipher_hash}_{ext_hash}", f"{prefix}_{cipher_list}_{ext_part}"
