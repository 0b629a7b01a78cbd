"""Rules on the server's certificate chain (`Flow.tls.certificates`, judged in `Flow.tls.validation`).

| rule id                 | severity                                                                |
|-------------------------|-------------------------------------------------------------------------|
| cert.expired            | high                                                                    |
| cert.not-yet-valid      | medium                                                                  |
| cert.expires-soon       | low (leaf expires within 30 days of the capture)                        |
| cert.self-signed        | medium                                                                  |
| cert.untrusted-issuer   | high                                                                    |
| cert.name-mismatch      | high                                                                    |
| cert.weak-key           | high (RSA/DSA < 2048 bits, EC < 256 bits)                               |
| cert.sha1-signature     | medium: SHA-1; high: MD5/MD2 (any certificate but a self-signed root)   |
| cert.chain-incomplete   | medium                                                                  |
| cert.chain-misordered   | low                                                                     |
| cert.ca-as-leaf         | medium                                                                  |
| cert.long-validity      | low (leaf valid > 398 days, issued on or after 2020-09-01)              |

No certificate visible (TLS 1.3 without keys, resumption, none captured) or an undecodable leaf: no cert.*
finding at all. Dates are judged at the capture time (`Flow.first_seen`), the time `validate_chain` is given
by the engine. Trust findings (untrusted issuer, self-signed, chain incomplete/misordered) read the error
strings of `validation`; they stay silent when validation was not run (all None).
"""

from __future__ import annotations

from tlsinspect.analysis.rules_common import Check, Rule, capture_time, fmt_time, leaf, not_after, not_before
from tlsinspect.analysis.validation import (
    ERR_CHAIN_INCOMPLETE,
    ERR_CHAIN_MISORDERED,
    ERR_HOSTNAME_MISMATCH,
    ERR_REJECTED,
    ERR_SELF_SIGNED,
    ERR_SELF_SIGNED_IN_CHAIN,
    ERR_UNKNOWN_ISSUER,
    hostname_matches,
)
from tlsinspect.model import Certificate, Finding, Flow

__all__ = ["CHECKS"]

EXPIRY_WARNING_DAYS = 30
"""A leaf expiring within this many days of the capture is reported (the usual renewal window)."""
MAX_VALIDITY_DAYS = 398
"""CA/Browser Forum ballot SC31 and the browsers' root programs: publicly trusted leaves issued on or after
2020-09-01 may be valid for at most 398 days."""
MAX_VALIDITY_SINCE = 1598918400.0  # 2020-09-01T00:00:00Z
MIN_KEY_BITS = {"RSA": 2048, "DSA": 2048, "EC": 256}
"""Smallest acceptable key per type (CA/B Baseline Requirements 6.1.5; Zeek's notify_minimal_key_length)."""
_WEAK_HASHES = {"sha1": "medium", "md5": "high", "md2": "high", "md4": "high"}
_DAY = 86400.0


def _errors(flow: Flow) -> tuple[str, ...]:
    return flow.tls.validation.errors if flow.tls is not None else ()


def _names(cert: Certificate) -> str:
    names = list(cert.san_dns) + list(cert.san_ip)
    if names:
        return ", ".join(names)
    return f"CN={cert.common_name}" if cert.common_name else cert.subject


# --------------------------------------------------------------------------------------------- dates

EXPIRED = Rule(
    id="cert.expired",
    severity="high",
    title="Certificate expired",
    explain=(
        "The server's certificate was past its 'not after' date when this connection was captured. Clients "
        "that verify certificates refuse the connection; clients that accept it anyway are not checking "
        "certificates at all, which also lets an attacker present any certificate. What to change: renew the "
        "certificate (and automate renewal, e.g. with ACME/certbot) and make sure the server loads the new one "
        "(a reload is often needed)."
    ),
)


def check_expired(flow: Flow) -> list[Finding]:
    cert = leaf(flow)
    if cert is None:
        return []
    end, at = not_after(cert), capture_time(flow)
    if end is None or end >= at:
        return []
    evidence = f"not after {fmt_time(end)}, captured {fmt_time(at)}"
    days = int((at - end) // _DAY)
    return [EXPIRED.finding(f"{cert.subject} expired {days} day(s) before the capture.", evidence)]


NOT_YET_VALID = Rule(
    id="cert.not-yet-valid",
    severity="medium",
    title="Certificate not yet valid",
    explain=(
        "The server's certificate starts being valid after the time of this capture. Either the certificate was "
        "issued with a future start date, or a clock is wrong (often the client's, or the capturing machine's: "
        "check it before blaming the server). Clients that verify certificates refuse it. What to change: fix "
        "the clock, or issue the certificate with a 'not before' date in the past."
    ),
)


def check_not_yet_valid(flow: Flow) -> list[Finding]:
    cert = leaf(flow)
    if cert is None:
        return []
    start, at = not_before(cert), capture_time(flow)
    if start is None or start <= at:
        return []
    evidence = f"not before {fmt_time(start)}, captured {fmt_time(at)}"
    return [NOT_YET_VALID.finding(f"{cert.subject} is not valid until {fmt_time(start)}.", evidence)]


EXPIRES_SOON = Rule(
    id="cert.expires-soon",
    severity="low",
    title="Certificate expires soon",
    explain=(
        "The server's certificate expires within 30 days of this capture. Nothing is wrong yet, but an expired "
        "certificate takes the service down for every client that verifies certificates. What to change: renew "
        "now, and automate renewal so that it happens well before the end date."
    ),
)


def check_expires_soon(flow: Flow) -> list[Finding]:
    cert = leaf(flow)
    if cert is None:
        return []
    end, at = not_after(cert), capture_time(flow)
    if end is None or end < at or end - at > EXPIRY_WARNING_DAYS * _DAY:
        return []
    days = int((end - at) // _DAY)
    return [EXPIRES_SOON.finding(f"{cert.subject} expires in {days} day(s).", f"not after {fmt_time(end)}")]


LONG_VALIDITY = Rule(
    id="cert.long-validity",
    severity="low",
    title="Certificate validity longer than 398 days",
    explain=(
        "The leaf certificate was issued after 1 September 2020 with a validity period longer than 398 days. "
        "Browsers reject such certificates from public CAs, so this is usually a private or self-made "
        "certificate. Long-lived certificates stay valid long after a key may have leaked and make renewal a "
        "rare, forgotten chore. What to change: issue certificates for a year or less (90 days with automated "
        "renewal is common practice), even from a private CA."
    ),
)


def check_long_validity(flow: Flow) -> list[Finding]:
    cert = leaf(flow)
    if cert is None:
        return []
    start, end = not_before(cert), not_after(cert)
    if start is None or end is None or start < MAX_VALIDITY_SINCE:
        return []
    days = (end - start) / _DAY
    if days <= MAX_VALIDITY_DAYS:
        return []
    evidence = f"{fmt_time(start)} to {fmt_time(end)} ({int(days)} days)"
    return [LONG_VALIDITY.finding(f"{cert.subject} is valid for {int(days)} days.", evidence)]


# --------------------------------------------------------------------------------------------- trust

SELF_SIGNED = Rule(
    id="cert.self-signed",
    severity="medium",
    title="Self-signed certificate",
    explain=(
        "The server's certificate is signed by its own key: nobody vouches for it, so a client cannot tell it "
        "from one an attacker made, unless the exact certificate was installed on the client beforehand. "
        "Clients that accept it without such pinning accept any certificate. What to change: use a certificate "
        "from a public CA (e.g. Let's Encrypt) or from a private CA whose root is installed on the clients "
        "(for tlsinspect, pass it with --ca-file)."
    ),
)


def check_self_signed(flow: Flow) -> list[Finding]:
    cert = leaf(flow)
    if cert is None or flow.tls is None:
        return []
    if ERR_SELF_SIGNED not in _errors(flow) and not (
        cert.self_signed and flow.tls.validation.trusted is None
    ):
        return []
    return [
        SELF_SIGNED.finding(f"{cert.subject} is signed by its own key.", f"{ERR_SELF_SIGNED}: {cert.subject}")
    ]


UNTRUSTED_ISSUER = Rule(
    id="cert.untrusted-issuer",
    severity="high",
    title="Certificate issuer not trusted",
    explain=(
        "The chain the server sent does not lead to a root certificate this analysis trusts (Mozilla's roots via "
        "certifi, plus any --ca-file). For a public site this means clients will refuse the connection or the "
        "certificate was made by someone else (an intercepting proxy, an attacker). For a private or demo CA it "
        "means the CA's root was not given: pass it with --ca-file. What to change: use a certificate from a "
        "trusted CA, or install the private CA's root on the clients that should trust it."
    ),
)


def check_untrusted_issuer(flow: Flow) -> list[Finding]:
    cert = leaf(flow)
    if cert is None or flow.tls is None:
        return []
    errors = _errors(flow)
    if ERR_CHAIN_INCOMPLETE in errors:
        return []  # a missing intermediate is cert.chain-incomplete, the more useful diagnosis
    top = flow.tls.certificates[-1]
    if ERR_SELF_SIGNED_IN_CHAIN in errors:
        evidence = f"{ERR_SELF_SIGNED_IN_CHAIN}: {top.subject}"
    elif ERR_UNKNOWN_ISSUER in errors:
        evidence = f"{ERR_UNKNOWN_ISSUER}: {top.issuer}"
    elif flow.tls.validation.trusted is False and len(errors) == 1 and errors[0].startswith(ERR_REJECTED):
        # The path builder refused the chain for a reason none of the specific rules names (a CA certificate
        # without the extensions the Web PKI requires, a key usage that forbids server authentication...).
        evidence = errors[0]
    else:
        return []
    return [
        UNTRUSTED_ISSUER.finding(
            f"The chain for {cert.subject} ends at an issuer that is not trusted.", evidence
        )
    ]


CHAIN_INCOMPLETE = Rule(
    id="cert.chain-incomplete",
    severity="medium",
    title="Certificate chain incomplete",
    explain=(
        "The server sent its certificate without the intermediate CA certificate that issued it, and that "
        "issuer is not a trusted root either. Browsers sometimes paper over this by fetching or caching the "
        "intermediate, so the site may look fine in one browser and fail in curl, Python, Java or a phone app "
        "('unable to get local issuer certificate'). What to change: configure the server with the full chain "
        "file (leaf followed by intermediates, e.g. fullchain.pem from certbot). If the leaf was issued "
        "directly by a private root, give that root to the client (--ca-file here)."
    ),
)


def check_chain_incomplete(flow: Flow) -> list[Finding]:
    cert = leaf(flow)
    if cert is None or ERR_CHAIN_INCOMPLETE not in _errors(flow):
        return []
    return [
        CHAIN_INCOMPLETE.finding(
            f"The server did not send the certificate of {cert.issuer}, which issued its certificate.",
            f"{ERR_UNKNOWN_ISSUER}: {cert.issuer}",
        )
    ]


CHAIN_MISORDERED = Rule(
    id="cert.chain-misordered",
    severity="low",
    title="Certificate chain out of order",
    explain=(
        "The server sent its chain in the wrong order: each certificate should be followed by the one that "
        "issued it (leaf first, then its intermediate, and so on). TLS 1.3 clients and most modern libraries "
        "reorder it, but some older or embedded clients fail. What to change: put the certificates in the "
        "server's chain file in order, leaf first."
    ),
)


def check_chain_misordered(flow: Flow) -> list[Finding]:
    if leaf(flow) is None or ERR_CHAIN_MISORDERED not in _errors(flow) or flow.tls is None:
        return []
    order = " > ".join(c.subject for c in flow.tls.certificates)
    return [CHAIN_MISORDERED.finding("The certificates are not in issuing order.", f"sent: {order}")]


# --------------------------------------------------------------------------------------------- name

NAME_MISMATCH = Rule(
    id="cert.name-mismatch",
    severity="high",
    title="Certificate does not match the requested name",
    explain=(
        "The client asked for one host name (SNI) and the server's certificate is for other names. Clients "
        "that verify names refuse the connection; a client that carries on is not checking names, so any valid "
        "certificate for any site would do for an attacker. Usually the server presents its default "
        "certificate because the name is not configured on it (a missing virtual host or server_name), or the "
        "certificate lacks a subjectAltName entry. What to change: add the name to the certificate's "
        "subjectAltName, or configure the server to present the right certificate for that name."
    ),
)


def check_name_mismatch(flow: Flow) -> list[Finding]:
    cert = leaf(flow)
    tls = flow.tls
    if cert is None or tls is None or tls.client_hello is None or not tls.client_hello.server_name:
        return []
    asked = tls.client_hello.server_name
    if tls.validation.hostname_matches is None:
        ok, errors = hostname_matches(asked, cert)  # validation was not run: the name check needs no roots
    else:
        ok, errors = tls.validation.hostname_matches, list(tls.validation.errors)
    if ok:
        return []
    prefix = ERR_HOSTNAME_MISMATCH + ": "
    evidence = next(
        (e.removeprefix(prefix) for e in errors if e.startswith(prefix)),
        f"asked for {asked}, certificate is for {_names(cert)}",
    )
    return [NAME_MISMATCH.finding(f"The certificate does not cover {asked}.", evidence)]


# --------------------------------------------------------------------------------------------- keys, signatures


WEAK_KEY = Rule(
    id="cert.weak-key",
    severity="high",
    title="Weak certificate key",
    explain=(
        "A certificate in the chain has a key that is too small: RSA or DSA below 2048 bits, or an elliptic "
        "curve below 256 bits. 1024-bit RSA is within reach of well-funded attackers and all public CAs stopped "
        "issuing such keys in 2013. Whoever factors the key can impersonate the server (and, with static RSA "
        "key exchange, decrypt recorded traffic). What to change: generate a new key (RSA 2048+ or ECDSA P-256) "
        "and get a new certificate for it."
    ),
)


def check_weak_key(flow: Flow) -> list[Finding]:
    if leaf(flow) is None or flow.tls is None:
        return []
    out: list[Finding] = []
    for index, cert in enumerate(flow.tls.certificates):
        minimum = MIN_KEY_BITS.get(cert.key_type)
        if minimum is None or cert.key_bits is None or cert.key_bits >= minimum:
            continue
        where = "leaf" if index == 0 else f"chain certificate {index}"
        out.append(
            WEAK_KEY.finding(
                f"The {where} {cert.subject} has a {cert.key_bits}-bit {cert.key_type} key (minimum {minimum}).",
                f"{cert.key_type} {cert.key_bits} bits: {cert.subject}",
            )
        )
    return out


SHA1_SIGNATURE = Rule(
    id="cert.sha1-signature",
    severity="high",
    title="Certificate signed with SHA-1 or MD5",
    explain=(
        "A certificate in the chain is signed with SHA-1 (or MD5). Collisions for both have been demonstrated "
        "(SHAttered 2017, and an MD5 collision was used to forge a CA certificate in 2008), so a signature over "
        "them no longer proves the CA signed this exact certificate. Browsers and current libraries reject "
        "them. Self-signed roots are not reported: their own signature is not checked by anyone. What to "
        "change: reissue the certificate with a SHA-256 signature."
    ),
)


def check_sha1_signature(flow: Flow) -> list[Finding]:
    if leaf(flow) is None or flow.tls is None:
        return []
    out: list[Finding] = []
    for cert in flow.tls.certificates:
        severity = _WEAK_HASHES.get((cert.signature_hash or "").lower())
        if severity is None or cert.self_signed:
            continue
        out.append(
            SHA1_SIGNATURE.finding(
                f"{cert.subject} is signed with {cert.signature_algorithm}.",
                f"{cert.signature_algorithm}: {cert.subject}",
                severity=severity,
            )
        )
    return out


CA_AS_LEAF = Rule(
    id="cert.ca-as-leaf",
    severity="medium",
    title="CA certificate used as server certificate",
    explain=(
        "The server presents a certificate marked as a certificate authority (BasicConstraints CA=true) as its "
        "own. Whoever holds its key can issue certificates for any name that chain to the same root, and strict "
        "clients reject a CA certificate as a server certificate. This usually comes from a quick self-made "
        "setup that used the CA certificate directly. What to change: make a separate server certificate "
        "(CA=false, with subjectAltName) signed by the CA, and keep the CA key off the server."
    ),
)


def check_ca_as_leaf(flow: Flow) -> list[Finding]:
    cert = leaf(flow)
    if cert is None or not cert.is_ca:
        return []
    return [CA_AS_LEAF.finding(f"{cert.subject} has BasicConstraints CA=true.", f"CA=true: {cert.subject}")]


CHECKS: tuple[tuple[Rule, Check], ...] = (
    (EXPIRED, check_expired),
    (NOT_YET_VALID, check_not_yet_valid),
    (EXPIRES_SOON, check_expires_soon),
    (SELF_SIGNED, check_self_signed),
    (UNTRUSTED_ISSUER, check_untrusted_issuer),
    (NAME_MISMATCH, check_name_mismatch),
    (WEAK_KEY, check_weak_key),
    (SHA1_SIGNATURE, check_sha1_signature),
    (CHAIN_INCOMPLETE, check_chain_incomplete),
    (CHAIN_MISORDERED, check_chain_misordered),
    (CA_AS_LEAF, check_ca_as_leaf),
    (LONG_VALIDITY, check_long_validity),
)
"""Every certificate rule with its check, in display order."""
