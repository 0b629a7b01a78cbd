"""Which other flows of the capture belong with this one (pure; the TUI's HTTP tab shows them side by side).

`related_flows(flow, flows)` looks over the flows a front end holds (any iterable: the TUI passes its store's
flows) and returns `Related` rows, each naming the other flow and why it is related:

- the same host reached over cleartext HTTP and as a TLS server name (what `http.mixed-host` reports);
- a secret value or a distinctive request seen inside TLS here and in cleartext there, or the reverse: the
  cleartext hop behind a TLS-terminating proxy (what `http.cleartext-hop` reports);
- any flow a cross-flow finding of either flow names in its evidence ("TLS flows 9", "inside TLS on flow 9").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from tlsinspect.analysis.exposures import SECRET_KINDS
from tlsinspect.model import Flow

MAX_RELATED = 20
_FLOW_REF = re.compile(r"\b(?:TLS )?flows? (\d+(?:, \d+)*)")
_TRIVIAL = ("/", "*", "/favicon.ico", "/robots.txt", "")
_CROSS_RULES = ("http.mixed-host", "http.cleartext-hop", "http.insecure-subresource")


class FlowLookup(Protocol):
    """What the related-flows search needs of a store: the flows it holds, by id."""

    @property
    def flows(self) -> Mapping[int, Flow]: ...


@dataclass(frozen=True, slots=True)
class Related:
    flow_id: int
    why: tuple[str, ...]


def strip_port(host: str) -> str:
    """A Host header's name, lower case, without the port ("[::1]:80" -> "::1")."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host.rstrip(".")


def _sni(f: Flow) -> str | None:
    ch = f.tls.client_hello if f.tls is not None else None
    return ch.server_name.lower().rstrip(".") if ch is not None and ch.server_name else None


def _cleartext_hosts(f: Flow) -> set[str]:
    return {strip_port(h.host) for h in f.http if not h.inside_tls and h.host}


def _secrets(f: Flow, inside: bool) -> set[str]:
    return {
        e.value
        for e in f.exposures
        if e.inside_tls == inside and e.kind in SECRET_KINDS and len(e.value) >= 6
    }


def _requests(f: Flow, inside: bool) -> dict[str, str]:
    """Request lines ("GET /a/b?c") seen inside TLS or not, each with its host."""
    out = {}
    for h in f.http:
        if h.inside_tls == inside and h.method and h.uri and h.uri.split("?")[0] not in _TRIVIAL:
            out[f"{h.method} {h.uri}"] = strip_port(h.host or "")
    return out


def _is_distinctive(uri: str) -> bool:
    path, _, query = uri.partition("?")
    return bool(query) or len([seg for seg in path.split("/") if seg]) >= 3


def _same_request(a: dict[str, str], b: dict[str, str]) -> bool:
    """A request in both: on the same host, or distinctive enough that two sites would not share it (as the
    http.cleartext-hop rule judges)."""
    return any(k in b and (b[k] == host or _is_distinctive(k.partition(" ")[2])) for k, host in a.items())


def _named(f: Flow) -> dict[int, str]:
    """The flows the cross-flow findings of `f` name, each with the rule that names it."""
    ids: dict[int, str] = {}
    for x in f.findings:
        if x.rule in _CROSS_RULES:
            for m in _FLOW_REF.finditer(x.evidence):
                for n in m.group(1).split(", "):
                    ids.setdefault(int(n), x.rule)
    return ids


def related_flows(flow: Flow, flows: Iterable[Flow], *, limit: int = MAX_RELATED) -> tuple[Related, ...]:
    """The flows related to `flow` among `flows` (itself excluded), by id, at most `limit`."""
    sni, hosts = _sni(flow), _cleartext_hosts(flow)
    in_secrets, out_secrets = _secrets(flow, True), _secrets(flow, False)
    in_requests, out_requests = _requests(flow, True), _requests(flow, False)
    named = _named(flow)
    found: dict[int, list[str]] = {}
    for o in flows:
        if o.id == flow.id:
            continue
        why: list[str] = []
        if sni is not None and sni in _cleartext_hosts(o):
            why.append(f"the same host {sni} over cleartext HTTP")
        other_sni = _sni(o)
        if other_sni is not None and other_sni in hosts:
            why.append(f"the same host {other_sni} over TLS")
        if in_secrets and in_secrets & _secrets(o, False):
            why.append("a secret sent inside TLS here travels there in cleartext (a proxy's backend hop)")
        if out_secrets and out_secrets & _secrets(o, True):
            why.append("a secret sent in cleartext here was sent inside TLS there (the proxy's TLS leg)")
        if in_requests and _same_request(in_requests, _requests(o, False)):
            why.append("the same request in cleartext there (a proxy's backend hop)")
        if out_requests and _same_request(out_requests, _requests(o, True)):
            why.append("the same request inside TLS there (the proxy's TLS leg)")
        if o.id in named:
            why.append(f"named by this flow's {named[o.id]} finding")
        by = _named(o).get(flow.id)
        if by is not None:
            why.append(f"its {by} finding names this flow")
        if why:
            found[o.id] = why
            if len(found) >= limit:
                break
    return tuple(Related(i, tuple(w)) for i, w in sorted(found.items()))
