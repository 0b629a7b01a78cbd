"""The server's certificate chain as a tree from leaf to root: each node says who it is, who signed it, when it
is valid and how many days are left (at the capture's time), its names, key and signature, and the verdict
with its reasons in plain words. Pure: computed from a `Flow`."""

from __future__ import annotations

from dataclasses import dataclass

from tlsinspect.model import Certificate, Flow
from tlsinspect.present.values import visible

DAY = 86_400.0
MAX_NODES = 12
"""Certificates drawn at most (a hostile chain can hold thousands)."""
WEAK_HASHES = frozenset({"md5", "sha1"})


@dataclass(frozen=True, slots=True)
class ChainNode:
    title: str
    """"leaf", "intermediate 1", "root (sent by the server)" ..."""
    subject: str
    issuer: str
    validity: str
    days_left: int | None
    """At the capture's time; negative when already expired, None when unknown."""
    names: str
    key: str
    signature: str
    verdict: str
    """"ok" or the problems of this certificate in words."""
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChainView:
    nodes: tuple[ChainNode, ...]
    verdict: str
    """One line for the whole chain: "trusted, name matches" or what is wrong."""
    reasons: tuple[str, ...]
    """The validation's errors, as the analysis wrote them."""
    visibility: str
    """Whether an observer saw the chain: "cleartext", "encrypted" (TLS 1.3) ..."""
    left_out: int = 0


def _node(c: Certificate, index: int, count: int, at: float) -> ChainNode:
    if index == 0:
        title = "leaf"
    elif c.self_signed:
        title = "root (sent by the server)"
    else:
        title = f"intermediate {index}"
    problems: list[str] = []
    days = None
    if c.not_after_ts is not None:
        days = int((c.not_after_ts - at) // DAY)
        if c.not_after_ts < at:
            problems.append(f"expired {-days} days before the capture")
    if c.not_before_ts is not None and c.not_before_ts > at:
        problems.append("not yet valid at the capture's time")
    if c.signature_hash in WEAK_HASHES:
        problems.append(f"signed with {c.signature_hash.upper()}, which is broken")
    if index == 0 and c.is_ca:
        problems.append("the leaf is a CA certificate")
    if c.self_signed and index == 0:
        problems.append("self-signed: nobody vouches for it")
    if c.error:
        problems.append(f"could not be decoded: {visible(c.error)}")
    names = ", ".join(visible(n) for n in (*c.san_dns, *c.san_ip)) or "(no subject alternative names)"
    key = f"{c.key_type} {c.key_bits} bits" if c.key_bits else c.key_type
    return ChainNode(
        title=title,
        subject=visible(c.subject),
        issuer=visible(c.issuer),
        validity=f"{c.not_before} .. {c.not_after}",
        days_left=days,
        names=names,
        key=key,
        signature=visible(c.signature_algorithm),
        verdict="ok" if not problems else "; ".join(problems),
        problems=tuple(problems),
    )


def chain_view(flow: Flow) -> ChainView | None:
    """None when the flow has no certificates."""
    tls = flow.tls
    if tls is None or not tls.certificates:
        return None
    certs = tls.certificates
    nodes = tuple(_node(c, i, len(certs), flow.first_seen) for i, c in enumerate(certs[:MAX_NODES]))
    v = tls.validation
    words = []
    words.append({True: "trusted", False: "NOT trusted", None: "trust unknown"}[v.trusted])
    words.append(
        {True: "name matches", False: "name does NOT match", None: "name not checked"}[v.hostname_matches]
    )
    if v.expired:
        words.append("expired at the capture's time")
    elif v.expired_now:
        words.append("expired since")
    return ChainView(
        nodes=nodes,
        verdict=", ".join(words),
        reasons=tuple(visible(e) for e in v.errors),
        visibility=tls.certificates_visibility,
        left_out=max(0, len(certs) - MAX_NODES),
    )
