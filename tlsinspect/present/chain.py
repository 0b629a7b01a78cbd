"""The server's certificate chain as a tree from the leaf to the root, each node with its verdict in plain words.

`chain_view(flow) -> ChainView`: one `ChainNode` per certificate the server sent (leaf first), each with its
names, validity and days left *at the capture's time* (not today's: a capture of last year judged today
would show every certificate expired), SAN, key, signature and the reasons it fails, if any. Reasons come
from the model (`Validation.errors`, filled by the analyser against the trust store) and from the node's own
dates, key and signature; the chain-level errors are attributed to the node they are about (a name mismatch
to the leaf, an unknown issuer or a self-signed top to the last node sent). `note` says why there is no
chain to show (TLS 1.3 without keys, no Certificate message). Nothing here renders or escapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlsinspect.model import Certificate, Flow, Validation

MAX_NODES = 16
"""Certificates listed before "N more" (a chain longer than this is itself a finding)."""
DAY = 86400.0
WEAK_HASHES = frozenset({"md5", "sha1", "md2", "md4"})


@dataclass(frozen=True, slots=True)
class ChainNode:
    """One certificate of the chain.

    Attributes:
        role: "leaf", "intermediate", "root" (self-signed top) or "self-signed leaf".
        days_left: whole days from the capture's time to notAfter (negative: expired), None if unknown.
        ok: False when `reasons` says what is wrong, True when nothing is, None when the chain was not checked.
        reasons: what is wrong with this certificate, in plain words.
    """

    index: int
    role: str
    subject: str
    issuer: str
    not_before: str
    not_after: str
    days_left: int | None
    san: tuple[str, ...]
    key: str
    signature: str
    sha256: str
    ok: bool | None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChainView:
    nodes: tuple[ChainNode, ...]
    verdict: str
    """One line: "trusted, name matches, valid at capture time" or what fails."""
    ok: bool | None
    errors: tuple[str, ...] = ()
    """The validator's own words, as the report prints them."""
    anchor: str = ""
    """What is above the last node sent: "root not sent (found in the trust store)", ..."""
    note: str = ""
    omitted: int = 0
    client: tuple[ChainNode, ...] = ()
    """The client's certificate chain (mutual TLS), when one was sent in the clear or decrypted."""


def chain_view(flow: Flow, *, max_nodes: int = MAX_NODES) -> ChainView:
    tls = flow.tls
    if tls is None:
        return ChainView((), "no TLS on this flow", None, note="no TLS on this flow")
    certs, v, when = tls.certificates, tls.validation, flow.first_seen
    sni = tls.client_hello.server_name if tls.client_hello is not None else None
    note = ""
    if not certs:
        if tls.certificates_visibility == "encrypted":
            note = "the chain was sent encrypted (TLS 1.3): give a key log to see it"
        elif tls.resumed:
            note = "resumed session: no certificate is sent"
        else:
            note = "no Certificate message was seen"
    nodes = tuple(_node(i, c, len(certs), v, when, sni) for i, c in enumerate(certs[:max_nodes]))
    client = tuple(
        _node(i, c, len(tls.client_certificates), Validation(), when, None)
        for i, c in enumerate(tls.client_certificates[:max_nodes])
    )
    return ChainView(
        nodes,
        _verdict(v) if certs else note,
        _chain_ok(v) if certs else None,
        v.errors,
        _anchor(certs, v),
        note,
        max(0, len(certs) - max_nodes),
        client,
    )


def _chain_ok(v: Validation) -> bool | None:
    if v.trusted is None and v.hostname_matches is None and v.expired is None and not v.errors:
        return None
    return bool(v.trusted) and v.hostname_matches is not False and not v.expired and not v.errors


def _verdict(v: Validation) -> str:
    if _chain_ok(v) is None:
        return "not checked (no trust store was given)"
    parts = [
        {True: "trusted", False: "NOT TRUSTED", None: "trust unknown"}[v.trusted],
        {True: "name matches", False: "NAME MISMATCH", None: "name not checked"}[v.hostname_matches],
        {True: "EXPIRED at capture time", False: "valid at capture time", None: "dates not checked"}[
            v.expired
        ],
    ]
    if v.expired_now and not v.expired:
        parts.append("expired since")
    return ", ".join(parts)


def _anchor(certs: tuple[Certificate, ...], v: Validation) -> str:
    if not certs:
        return ""
    top = certs[-1]
    if top.self_signed:
        return ""
    if v.trusted:
        return f"root not sent: {top.issuer} (found in the trust store)"
    if any(e.startswith("unable to get local issuer") or e.startswith("chain incomplete") for e in v.errors):
        return f"root not sent and not in the trust store: {top.issuer}"
    return f"root not sent: {top.issuer}"


def _role(i: int, c: Certificate, n: int) -> str:
    if i == 0:
        return "self-signed leaf" if c.self_signed else "leaf"
    if c.self_signed:
        return "root"
    return "intermediate"


def days_left(c: Certificate, when: float) -> int | None:
    """Whole days from `when` to the certificate's notAfter (negative once expired)."""
    if c.not_after_ts is None:
        return None
    return int((c.not_after_ts - when) // DAY)


def _node(i: int, c: Certificate, n: int, v: Validation, when: float, sni: str | None) -> ChainNode:
    reasons: list[str] = []
    if c.error:
        reasons.append(f"could not be decoded: {c.error}")
    left = days_left(c, when)
    if left is not None and left < 0:
        reasons.append(f"expired: it was {-left} days past its notAfter ({c.not_after[:10]}) when captured")
    if c.not_before_ts is not None and c.not_before_ts > when:
        reasons.append(f"not yet valid when captured (valid from {c.not_before[:10]})")
    if i == 0 and v.hostname_matches is False:
        names = ", ".join(c.san_dns[:6]) or (f"CN={c.common_name}" if c.common_name else "no name")
        reasons.append(f"name mismatch: the client asked for {sni or '?'}, the certificate is for {names}")
    if i == 0 and any(e.startswith("certificate has no subjectAltName") for e in v.errors):
        reasons.append("no subjectAltName: modern clients refuse a name found only in the CN")
    last = i == n - 1
    if last and v.trusted is False:
        errs = v.errors
        if c.self_signed and i == 0:
            reasons.append(
                "self-signed: no certificate authority vouches for it, and it is not in the trust store"
            )
        elif c.self_signed:
            reasons.append("untrusted root: this self-signed root is not in the trust store")
        elif any(e.startswith("unable to get local issuer") for e in errs):
            reasons.append(f"untrusted issuer: {c.issuer} is neither sent nor in the trust store")
        elif any(e.startswith("chain misordered") for e in errs):
            reasons.append("the chain was sent out of order")
    if (
        i > 0
        and any(e.startswith("self-signed certificate in certificate chain") for e in v.errors)
        and c.self_signed
    ):
        reasons.append("self-signed certificate in the chain that the trust store does not know")
    if c.signature_hash in WEAK_HASHES and not c.self_signed:
        reasons.append(f"signed with {c.signature_hash.upper()}, which can be forged")
    if c.key_type == "RSA" and c.key_bits is not None and c.key_bits < 2048:
        reasons.append(f"RSA key of {c.key_bits} bits is too short (2048 at least)")
    checked = v.trusted is not None or v.hostname_matches is not None or v.expired is not None
    ok: bool | None = (not reasons) if (checked or reasons) else None
    key = f"{c.key_type} {c.key_bits} bits" if c.key_bits else c.key_type
    san = tuple(c.san_dns) + tuple(c.san_ip)
    return ChainNode(
        i,
        _role(i, c, n),
        c.subject,
        c.issuer,
        c.not_before,
        c.not_after,
        left,
        san,
        key,
        c.signature_algorithm,
        c.sha256,
        ok,
        tuple(reasons),
    )
