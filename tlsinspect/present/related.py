"""Flows related to a flow by name: the cleartext flows to the host a TLS flow names in its SNI (the same site
over http://, a terminating proxy's backend hop carrying the same Host), and the TLS flows to the host a
cleartext flow names. What the TUI's HTTP tab shows side by side. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from tlsinspect.model import Flow

MAX_RELATED = 20


def host_of(name: str | None) -> str:
    """ "shop.example:8080" -> "shop.example"; "[::1]:80" -> "::1"; lowercase."""
    if not name:
        return ""
    name = name.strip().lower()
    if name.startswith("["):
        return name[1:].split("]", 1)[0]
    return name.rsplit(":", 1)[0] if name.count(":") == 1 else name


def _sni(f: Flow) -> str:
    ch = f.tls.client_hello if f.tls is not None else None
    return host_of(ch.server_name) if ch is not None else ""


def _cleartext_hosts(f: Flow) -> set[str]:
    return {host_of(h.host) for h in f.http if h.host and not h.inside_tls}


def related_flows(flow: Flow, flows: Iterable[Flow]) -> tuple[Flow, ...]:
    """Up to MAX_RELATED other flows that name the same host on the other side of TLS, in id order."""
    sni = _sni(flow)
    hosts = _cleartext_hosts(flow)
    out = []
    for f in flows:
        if f.id == flow.id:
            continue
        if (sni and sni in _cleartext_hosts(f)) or (hosts and _sni(f) in hosts):
            out.append(f)
            if len(out) >= MAX_RELATED:
                break
    return tuple(sorted(out, key=lambda f: f.id))
