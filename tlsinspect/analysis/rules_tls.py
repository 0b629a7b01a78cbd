"""Rules on the TLS handshake itself (versions, cipher suites, key exchange, extensions, alerts).

| rule id                      | severity (default, and when it varies)                                     |
|------------------------------|----------------------------------------------------------------------------|
| tls.version-obsolete         | critical: SSL 2.0; high: SSL 3.0; medium: TLS 1.0, TLS 1.1, DTLS 1.0       |
| tls.cipher-null              | critical                                                                   |
| tls.cipher-export            | critical                                                                   |
| tls.cipher-anon              | high                                                                       |
| tls.cipher-rc4               | high                                                                       |
| tls.cipher-des               | high                                                                       |
| tls.cipher-3des              | medium                                                                     |
| tls.cipher-cbc-legacy        | low; info when encrypt_then_mac was negotiated                             |
| tls.no-forward-secrecy       | high: static RSA key exchange; medium: static (EC)DH, PSK, other           |
| tls.weak-dh                  | high: DHE group < 1024 bits; medium: < 2048 bits                           |
| tls.no-sni                   | low                                                                        |
| tls.no-secure-renegotiation  | medium                                                                     |
| tls.handshake-failed         | medium                                                                     |
| tls.client-offers-weak       | low                                                                        |
| tls.resumed                  | info                                                                       |

Negotiated-parameter rules need a ServerHello (no ServerHello, no finding); client rules need a ClientHello.
Cipher attributes come from the IANA registry row (`cipher_suite_info`), never from name patterns. Suite
findings are exclusive where one fact implies another: an export DES suite is reported as export and DES, a
CBC suite already reported as DES/3DES/export/NULL is not reported again as legacy CBC.
Thresholds are the module constants below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache

from tlsinspect.analysis.rules_common import Check, Rule, negotiated
from tlsinspect.model import Extension, Finding, Flow
from tlsinspect.registry import (
    CipherSuite,
    alert_name,
    cipher_suite_info,
    cipher_suite_name,
    is_grease,
    version_name,
)

__all__ = ["CHECKS"]

MIN_DH_BITS = 2048
"""Below this a DHE group is reported (Logjam; NIST SP 800-57 puts 2048 bits at ~112-bit security)."""
BROKEN_DH_BITS = 1024
"""Below this a DHE group is within reach of precomputation by a well-funded attacker: high."""

EXT_RENEGOTIATION_INFO = 0xFF01
EXT_ENCRYPT_THEN_MAC = 22
EXT_SESSION_TICKET = 35
EXT_PRE_SHARED_KEY = 41
SCSV_RENEGOTIATION = 0x00FF
SCSV_FALLBACK = 0x5600

TLS12 = 0x0303
_OBSOLETE_VERSION_SEVERITY: dict[int, str] = {
    0x0002: "critical",
    0x0300: "high",
    0x0301: "medium",
    0x0302: "medium",
    0xFEFF: "medium",  # DTLS 1.0 is TLS 1.1 underneath
}
_LEGACY_VERSIONS = frozenset({0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0xFEFF, 0xFEFD})
"""Versions where the TLS 1.2-and-earlier record layer and handshake apply (CBC, renegotiation, ...)."""


def _vname(version: int) -> str:
    return version_name(version) or f"0x{version:04x}"


def _sname(suite: int) -> str:
    return cipher_suite_name(suite) or f"0x{suite:04x}"


# --------------------------------------------------------------------------------------------- version

VERSION_OBSOLETE = Rule(
    id="tls.version-obsolete",
    severity="critical",
    title="Obsolete protocol version negotiated",
    explain=(
        "The connection was made with a protocol version that is no longer considered safe. SSL 2.0 and SSL 3.0 "
        "are broken outright (DROWN, POODLE): an attacker on the path can recover parts of the traffic. TLS 1.0 "
        "and TLS 1.1 were formally deprecated in 2021 (RFC 8996): they depend on SHA-1 and MD5 in the handshake, "
        "have only CBC and RC4 ciphers with known weaknesses (BEAST, Lucky 13), and current browsers refuse them. "
        "What to change: enable TLS 1.2 and TLS 1.3 on the server and disable everything older; if an old "
        "client forced the old version, update that client or its TLS library."
    ),
)


def check_version_obsolete(flow: Flow) -> list[Finding]:
    seen = negotiated(flow)
    # An SSL 2.0 server answers with an SSLv2 SERVER-HELLO, not a ServerHello: the version is all there is.
    version = seen[2] if seen is not None else (flow.tls.version if flow.tls is not None else None)
    if version is None:
        return []
    severity = _OBSOLETE_VERSION_SEVERITY.get(version)
    if severity is None:
        return []
    name = _vname(version)
    return [VERSION_OBSOLETE.finding(f"The server agreed to {name}.", name, severity=severity)]


# --------------------------------------------------------------------------------------------- suites

CIPHER_NULL = Rule(
    id="tls.cipher-null",
    severity="critical",
    title="No encryption (NULL cipher)",
    explain=(
        "The negotiated cipher suite has a NULL cipher: the records are authenticated but not encrypted, so "
        "everything sent over this connection is readable by anyone on the path, exactly as with plain HTTP. "
        "NULL suites exist for debugging and should never be enabled in production. What to change: remove "
        "NULL suites from the server's (and client's) cipher list; use AES-GCM or ChaCha20-Poly1305 suites."
    ),
)
CIPHER_EXPORT = Rule(
    id="tls.cipher-export",
    severity="critical",
    title="Export-grade cipher suite",
    explain=(
        "Export suites were deliberately weakened in the 1990s to 40- or 56-bit keys and 512-bit key exchange "
        "to meet US export rules. Such keys can be brute-forced in hours, and servers that still accept them "
        "can be attacked even by clients that do not ask for them (FREAK, Logjam). What to change: remove all "
        "EXPORT suites; any TLS library from the last decade can do this by default."
    ),
)
CIPHER_ANON = Rule(
    id="tls.cipher-anon",
    severity="high",
    title="Anonymous key exchange (no server authentication)",
    explain=(
        "The negotiated suite uses anonymous Diffie-Hellman: the server proves nothing about who it is and "
        "sends no certificate. Anyone on the path can pretend to be the server (a man-in-the-middle) and read "
        "or change everything, even though the traffic is encrypted. What to change: remove the anon/ADH/AECDH "
        "suites and give the server a certificate."
    ),
)
CIPHER_RC4 = Rule(
    id="tls.cipher-rc4",
    severity="high",
    title="RC4 stream cipher",
    explain=(
        "RC4 has statistical biases that let an attacker recover repeated secrets such as cookies from enough "
        "encrypted traffic. RFC 7465 prohibits RC4 in TLS and browsers removed it in 2016. What to change: "
        "remove RC4 suites; use AES-GCM or ChaCha20-Poly1305."
    ),
)
CIPHER_DES = Rule(
    id="tls.cipher-des",
    severity="high",
    title="Single DES cipher",
    explain=(
        "Single DES has a 56-bit key (40 bits in export variants) that can be searched exhaustively in hours "
        "with cheap hardware, so recorded traffic can be decrypted. What to change: remove DES suites; use "
        "AES-GCM or ChaCha20-Poly1305."
    ),
)
CIPHER_3DES = Rule(
    id="tls.cipher-3des",
    severity="medium",
    title="Triple-DES (64-bit block) cipher",
    explain=(
        "3DES has a 64-bit block size. After a few tens of gigabytes on one connection, block collisions leak "
        "plaintext (Sweet32, CVE-2016-2183), and it is slow. It is deprecated by NIST. What to change: remove "
        "3DES suites unless a very old client truly needs them, and prefer AES-GCM or ChaCha20-Poly1305."
    ),
)
CIPHER_CBC_LEGACY = Rule(
    id="tls.cipher-cbc-legacy",
    severity="low",
    title="CBC-mode cipher in TLS 1.2 or earlier",
    explain=(
        "Before TLS 1.3, CBC suites use MAC-then-encrypt, which has produced a long line of padding-oracle and "
        "timing attacks (Lucky 13, POODLE-TLS, and implementation bugs since). Most are fixed in current "
        "libraries, but the construction remains fragile; the encrypt_then_mac extension (RFC 7366) removes the "
        "root cause. What to change: prefer AEAD suites (AES-GCM, ChaCha20-Poly1305) in the server's order, "
        "or move to TLS 1.3, which has no CBC suites at all."
    ),
)

_DES = frozenset({"DES", "DES40", "DES_CBC", "DES_CBC_40"})


def _suite_rule(rule: Rule, predicate: str) -> Check:
    """A check firing when the negotiated suite has the attribute named `predicate` (see `_SUITE_TESTS`)."""

    def check(flow: Flow) -> list[Finding]:
        seen = negotiated(flow)
        if seen is None:
            return []
        info = cipher_suite_info(seen[3])
        if info is None or info.kx == "SCSV" or not _SUITE_TESTS[predicate](info):
            return []
        return [rule.finding(f"The server chose {info.name} ({info.cipher}).", info.name)]

    check.__name__ = f"check_{predicate}"
    check.__doc__ = f"Fires {rule.id} when the negotiated suite is {predicate}."
    return check


def _is_null(info: CipherSuite) -> bool:
    return info.cipher == "NULL"


def _is_export(info: CipherSuite) -> bool:
    return info.export


def _is_anon(info: CipherSuite) -> bool:
    return info.auth == "anon"


def _is_rc4(info: CipherSuite) -> bool:
    return info.cipher.startswith("RC4")


def _is_des(info: CipherSuite) -> bool:
    return info.cipher in _DES


def _is_3des(info: CipherSuite) -> bool:
    return info.cipher.startswith("3DES")


_SUITE_TESTS: dict[str, Callable[[CipherSuite], bool]] = {
    "null": _is_null,
    "export": _is_export,
    "anon": _is_anon,
    "rc4": _is_rc4,
    "des": _is_des,
    "3des": _is_3des,
}


def _has_ext(extensions: Iterable[Extension], ext_type: int) -> bool:
    return any(e.type == ext_type for e in extensions)


def check_cipher_cbc_legacy(flow: Flow) -> list[Finding]:
    seen = negotiated(flow)
    if seen is None:
        return []
    tls, hello, version, suite = seen
    info = cipher_suite_info(suite)
    if info is None or info.mode != "CBC" or version not in _LEGACY_VERSIONS:
        return []
    if _is_des(info) or _is_3des(info) or _is_export(info) or _is_null(info):
        return []  # already reported by a stronger rule
    etm = _has_ext(hello.extensions, EXT_ENCRYPT_THEN_MAC) and (
        tls.client_hello is None or _has_ext(tls.client_hello.extensions, EXT_ENCRYPT_THEN_MAC)
    )
    evidence = f"{info.name} in {_vname(version)}" + (" with encrypt_then_mac" if etm else "")
    detail = f"The server chose the CBC suite {info.name}" + (
        "; encrypt_then_mac was negotiated, which removes the padding-oracle root cause."
        if etm
        else " without encrypt_then_mac."
    )
    return [CIPHER_CBC_LEGACY.finding(detail, evidence, severity="info" if etm else None)]


# --------------------------------------------------------------------------------------------- key exchange

NO_FORWARD_SECRECY = Rule(
    id="tls.no-forward-secrecy",
    severity="high",
    title="No forward secrecy",
    explain=(
        "The key exchange is not ephemeral. With static RSA key exchange the client encrypts the session secret "
        "with the server's long-term RSA key, so anyone who later obtains the server's private key (a leaked "
        "backup, a compromised host, a legal order) can decrypt this recorded session and every other one. "
        "Static (EC)DH and plain PSK suites have the same property with their long-term keys. This is also why a "
        "tool given the server key can decrypt such a capture. What to change: prefer ECDHE (or DHE with a "
        "2048-bit+ group) suites, or TLS 1.3, where every full handshake is forward secret."
    ),
)
_NO_FS_SEVERITY = {"RSA": "high", "RSA_PSK": "high"}


def check_no_forward_secrecy(flow: Flow) -> list[Finding]:
    seen = negotiated(flow)
    if seen is None:
        return []
    info = cipher_suite_info(seen[3])
    if info is None or info.tls13 or info.forward_secrecy:
        return []
    if info.kx in ("SCSV", "NULL", "any") or info.auth == "anon" or info.export:
        return []  # signalling, no key exchange at all, or already reported as anon/export
    severity = _NO_FS_SEVERITY.get(info.kx, "medium")
    if info.kx == "RSA":
        detail = (
            f"The server chose {info.name} (static RSA key exchange): anyone who later obtains the server's "
            "private key can decrypt this recorded session."
        )
    else:
        detail = f"The server chose {info.name} ({info.kx} key exchange, not ephemeral)."
    return [NO_FORWARD_SECRECY.finding(detail, f"{info.name} (key exchange {info.kx})", severity=severity)]


WEAK_DH = Rule(
    id="tls.weak-dh",
    severity="high",
    title="Weak Diffie-Hellman group",
    explain=(
        "The server's ephemeral Diffie-Hellman group is smaller than 2048 bits. 512-bit groups are broken "
        "(Logjam), and 1024-bit groups, especially common shared ones, are within reach of a well-funded attacker "
        "who precomputes once and then breaks many connections. What to change: use ECDHE (X25519 or P-256), or "
        "configure a DH group of at least 2048 bits such as the RFC 7919 ffdhe2048 group."
    ),
)


def check_weak_dh(flow: Flow) -> list[Finding]:
    tls = flow.tls
    if tls is None or tls.key_exchange is None:
        return []
    kx = tls.key_exchange
    if kx.kind != "dhe" or kx.dh_bits is None or kx.dh_bits >= MIN_DH_BITS:
        return []
    severity = "high" if kx.dh_bits < BROKEN_DH_BITS else "medium"
    return [
        WEAK_DH.finding(
            f"The ServerKeyExchange (frame {kx.frame}) uses a {kx.dh_bits}-bit DH group.",
            f"DHE {kx.dh_bits} bits",
            severity=severity,
        )
    ]


# --------------------------------------------------------------------------------------------- extensions

NO_SNI = Rule(
    id="tls.no-sni",
    severity="low",
    title="ClientHello without server name (SNI)",
    explain=(
        "The client did not say which host name it wants (the server_name extension). A server hosting several "
        "sites then has to guess and may present the wrong certificate, and the client cannot expect a "
        "certificate for a particular name, which is often a sign that it does not check the name at all. "
        "Connections made to a bare IP address legitimately omit it. What to change: connect by host name and "
        "make sure the TLS client sets server_hostname/SNI (and verifies the certificate against it)."
    ),
)


def check_no_sni(flow: Flow) -> list[Finding]:
    tls = flow.tls
    if tls is None or tls.client_hello is None or tls.client_hello.server_name is not None:
        return []
    hello = tls.client_hello
    return [
        NO_SNI.finding(
            f"The ClientHello (frame {hello.frame}) has no server_name extension.",
            f"ClientHello frame {hello.frame} to {flow.server}",
        )
    ]


NO_SECURE_RENEGOTIATION = Rule(
    id="tls.no-secure-renegotiation",
    severity="medium",
    title="Secure renegotiation not negotiated",
    explain=(
        "TLS 1.2 and earlier allow renegotiating a connection. Without the renegotiation_info extension "
        "(RFC 5746) an attacker can splice their own request in front of the victim's (CVE-2009-3555). Secure "
        "renegotiation is in effect only when the client signals it (the extension or the "
        "TLS_EMPTY_RENEGOTIATION_INFO_SCSV suite) and the server answers with the extension. What to change: "
        "update the TLS library on the side that did not signal it; TLS 1.3 removes renegotiation entirely."
    ),
)


def check_no_secure_renegotiation(flow: Flow) -> list[Finding]:
    seen = negotiated(flow)
    if seen is None:
        return []
    tls, hello, version, _suite = seen
    if version not in _LEGACY_VERSIONS or version == 0x0002:
        return []
    server_ok = _has_ext(hello.extensions, EXT_RENEGOTIATION_INFO)
    client = tls.client_hello
    if client is None:
        if server_ok:
            return []
        client_ok: bool | None = None
    else:
        client_ok = (
            _has_ext(client.extensions, EXT_RENEGOTIATION_INFO) or SCSV_RENEGOTIATION in client.cipher_suites
        )
        if client_ok and server_ok:
            return []
    missing = []
    if client_ok is False:
        missing.append("client sent neither renegotiation_info nor the SCSV")
    if not server_ok:
        missing.append("server did not answer with renegotiation_info")
    evidence = "; ".join(missing)
    return [NO_SECURE_RENEGOTIATION.finding(f"In {_vname(version)}: {evidence}.", evidence)]


# --------------------------------------------------------------------------------------------- alerts

HANDSHAKE_FAILED = Rule(
    id="tls.handshake-failed",
    severity="medium",
    title="Handshake failed with a fatal alert",
    explain=(
        "One side ended the handshake with a fatal alert, so no application data was exchanged. The alert name "
        "and who sent it are the best clue: an alert sent by the client about the certificate (bad_certificate, "
        "unknown_ca, certificate_expired) means the client rejected the server's certificate; handshake_failure "
        "or protocol_version from the server usually means no cipher suite or version in common; "
        "certificate_required means the server wanted a client certificate. What to change: fix the side the "
        "alert points at (the server's chain, the client's trust store, or the enabled versions and suites)."
    ),
)
_ALERT_HINTS: dict[tuple[str, str], str] = {
    ("bad_certificate", "client"): "the client rejected the server's certificate",
    ("unknown_ca", "client"): "the client does not trust the certificate's issuer",
    ("certificate_expired", "client"): "the client considers the server's certificate expired",
    ("certificate_unknown", "client"): "the client rejected the server's certificate",
    ("bad_certificate", "server"): "the server rejected the client's certificate",
    ("unknown_ca", "server"): "the server does not trust the client certificate's issuer",
    ("certificate_required", "server"): "the server requires a client certificate",
    ("handshake_failure", "server"): "no cipher suite or parameters in common",
    ("protocol_version", "server"): "no protocol version in common",
    ("protocol_version", "client"): "the client refuses the version the server chose",
    ("insufficient_security", "server"): "the client's offer is below the server's minimum",
    ("unrecognized_name", "server"): "the server has no site for the requested name",
    ("decrypt_error", "client"): "the server's handshake signature did not verify",
    ("no_application_protocol", "server"): "no ALPN protocol in common",
}
_NOT_FAILURE = frozenset({0, 90, 100})  # close_notify, user_canceled, no_renegotiation (warnings)


def check_handshake_failed(flow: Flow) -> list[Finding]:
    tls = flow.tls
    if tls is None or not tls.alerts:
        return []
    if sum(tls.app_data_records) > 0:
        return []  # application data flowed: the handshake finished
    out: list[Finding] = []
    for alert in tls.alerts:
        if alert.description is None or alert.description in _NOT_FAILURE:
            continue  # an encrypted alert we cannot read says nothing we can name
        if alert.level is not None and alert.level != 2:
            continue
        name = alert_name(alert.description) or f"alert {alert.description}"
        evidence = f"{name} sent by the {alert.sender}"
        hint = _ALERT_HINTS.get((name, alert.sender))
        detail = f"Fatal alert {evidence} (frame {alert.frame})" + (f": {hint}." if hint else ".")
        out.append(HANDSHAKE_FAILED.finding(detail, evidence))
        break  # the first fatal alert ends the handshake; later ones are echoes
    return out


# --------------------------------------------------------------------------------------------- client offer

CLIENT_OFFERS_WEAK = Rule(
    id="tls.client-offers-weak",
    severity="low",
    title="Client still offers obsolete suites or versions",
    explain=(
        "The client's ClientHello lists cipher suites (NULL, export, anonymous, RC4, DES, 3DES) or protocol "
        "versions (below TLS 1.2) that are no longer safe. This connection may well have used something "
        "stronger, but a server that still accepts the weak option, or an attacker who can make the better "
        "options fail, could end up with it. A hello carrying TLS_FALLBACK_SCSV is a deliberate fallback "
        "retry with downgrade protection, so its lower version is not reported. What to change: update the "
        "client's TLS library or configure its cipher list and minimum version (TLS 1.2)."
    ),
)
_WEAK_OFFER_TESTS = ("null", "export", "anon", "rc4", "des", "3des")
_MAX_LISTED = 5


@lru_cache(maxsize=4096)
def _weak_suite_name(code: int) -> str | None:
    """The name of an offered suite that fails one of `_WEAK_OFFER_TESTS`, else None (GREASE and SCSV values
    are not suites). Remembered: every ClientHello offers tens of suites, mostly the same ones."""
    if is_grease(code):
        return None
    info = cipher_suite_info(code)
    if info is None or info.kx == "SCSV":
        return None
    return info.name if any(_SUITE_TESTS[test](info) for test in _WEAK_OFFER_TESTS) else None


def check_client_offers_weak(flow: Flow) -> list[Finding]:
    tls = flow.tls
    if tls is None or tls.client_hello is None:
        return []
    hello = tls.client_hello
    weak = [name for name in map(_weak_suite_name, hello.cipher_suites) if name is not None]
    out: list[Finding] = []
    if weak:
        listed = ", ".join(weak[:_MAX_LISTED]) + (
            f" (+{len(weak) - _MAX_LISTED} more)" if len(weak) > _MAX_LISTED else ""
        )
        out.append(
            CLIENT_OFFERS_WEAK.finding(
                f"The ClientHello (frame {hello.frame}) offers {len(weak)} obsolete cipher suite(s).", listed
            )
        )
    if SCSV_FALLBACK not in hello.cipher_suites:
        old = _old_versions_offered(hello.supported_versions, hello.legacy_version, hello.sslv2)
        if old:
            names = ", ".join(_vname(v) for v in old)
            out.append(
                CLIENT_OFFERS_WEAK.finding(
                    f"The ClientHello (frame {hello.frame}) offers versions below TLS 1.2.", f"offers {names}"
                )
            )
    return out


def _old_versions_offered(supported: tuple[int, ...], legacy_version: int, sslv2: bool) -> list[int]:
    """Versions below TLS 1.2 the client visibly offers (from supported_versions, else the hello's maximum)."""
    if supported:
        return [v for v in supported if not is_grease(v) and v in _OBSOLETE_VERSION_SEVERITY]
    if sslv2 or legacy_version < TLS12:
        return [legacy_version] if legacy_version else []
    return []


# --------------------------------------------------------------------------------------------- resumption

RESUMED = Rule(
    id="tls.resumed",
    severity="info",
    title="Session resumed",
    explain=(
        "This connection resumed an earlier session (by session id, session ticket or TLS 1.3 PSK) instead of "
        "doing a full handshake, so no certificate was sent and certificate checks do not apply to it; look at "
        "the connection that first established the session. Resumption is normal and saves a round trip. Note "
        "that TLS 1.2 resumption reuses the earlier secret, so it is only as forward secret as the ticket key "
        "handling on the server."
    ),
)
_RESUMPTION_WORDS = {"session-id": "session id", "ticket": "session ticket", "psk": "TLS 1.3 PSK"}


def check_resumed(flow: Flow) -> list[Finding]:
    tls = flow.tls
    if tls is None or not tls.resumed:
        return []
    how = _RESUMPTION_WORDS.get(tls.resumption or "", tls.resumption or "unknown means")
    return [RESUMED.finding(f"The session was resumed by {how}.", how)]


CHECKS: tuple[tuple[Rule, Check], ...] = (
    (VERSION_OBSOLETE, check_version_obsolete),
    (CIPHER_NULL, _suite_rule(CIPHER_NULL, "null")),
    (CIPHER_EXPORT, _suite_rule(CIPHER_EXPORT, "export")),
    (CIPHER_ANON, _suite_rule(CIPHER_ANON, "anon")),
    (CIPHER_RC4, _suite_rule(CIPHER_RC4, "rc4")),
    (CIPHER_DES, _suite_rule(CIPHER_DES, "des")),
    (CIPHER_3DES, _suite_rule(CIPHER_3DES, "3des")),
    (CIPHER_CBC_LEGACY, check_cipher_cbc_legacy),
    (NO_FORWARD_SECRECY, check_no_forward_secrecy),
    (WEAK_DH, check_weak_dh),
    (NO_SNI, check_no_sni),
    (NO_SECURE_RENEGOTIATION, check_no_secure_renegotiation),
    (HANDSHAKE_FAILED, check_handshake_failed),
    (CLIENT_OFFERS_WEAK, check_client_offers_weak),
    (RESUMED, check_resumed),
)
"""Every TLS rule with its check, in display order."""
