"""The HTTP/WebSocket findings that need one or more flows, seen as a passive observer would (pure functions).

What the observer reads on one connection, item by item, is a presentation matter: `tlsinspect.present.observer`.

`cross_flow_findings(flows)` runs the rules below over a whole capture and returns extra findings per flow id.
Evidence never carries a full secret unless ``show_secrets=True`` (values go through `mask`).

| rule id | severity | when |
|---|---|---|
| http.cleartext-credentials | high | Basic/Digest auth, a bearer token, an API key header, a password field or a token in a URL sent outside TLS |
| http.cookie-without-secure | medium (cleartext) / low (inside TLS) | a Set-Cookie without the Secure flag |
| http.mixed-host | medium | a host reached over cleartext HTTP is also a TLS server name (SNI) in the capture |
| http.insecure-subresource | medium | a cleartext HTTP request from a client within `subresource_window_s` after that client opened a TLS connection (OCSP/CRL/AIA fetches excluded) |
| http.login-form-cleartext | high | a cleartext page with a password input, or a cleartext POST with a password field |
| http.cleartext-hop | high (secret) / medium (path) | a secret value or request path seen inside (decrypted) TLS on one flow and in cleartext on another: a TLS-terminating proxy leaves a cleartext hop behind it |
| http.no-https-redirect | low | a cleartext GET answered by anything but a redirect to https:// (OCSP/CRL excluded) |
| http.redirects-to-https | info | a cleartext GET answered 301/302/307/308 with an https:// Location |
| websocket.cleartext | medium | WebSocket messages outside TLS (ws://) |
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence

from tlsinspect.analysis.exposures import CREDENTIAL_KINDS, SECRET_KINDS, mask, shown_value
from tlsinspect.model import Exposure, Finding, Flow, HttpExchange

SUBRESOURCE_WINDOW_S = 10.0
"""How soon after a TLS connection a cleartext request from the same client counts as a page's subresource."""

_PASSWORD_INPUT_RE = re.compile(rb"<input\b[^>]*\btype\s*=\s*[\"']?password", re.IGNORECASE)
_REDIRECTS = (301, 302, 303, 307, 308)


# ----------------------------------------------------------------------------------------------- findings


def _show(e: Exposure, show_secrets: bool) -> str:
    return shown_value(e.kind, e.value, show_secrets)


def _strip_port(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def _is_cleartext_http(flow: Flow) -> bool:
    return any(not ex.inside_tls for ex in flow.http)


def _is_revocation_fetch(ex: HttpExchange) -> bool:
    uri = (ex.uri or "").lower()
    host = (ex.host or "").lower()
    ctype = " ".join(
        v.lower() for n, v in ex.request_headers + ex.response_headers if n.lower() == "content-type"
    )
    return (
        "ocsp" in ctype
        or "pkix" in ctype
        or "ocsp" in host
        or "crl" in host
        or uri.split("?")[0].endswith((".crl", ".crt", ".cer", ".p7c"))
    )


def _sni_names(flows: Iterable[Flow]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in flows:
        if f.tls is None:
            continue
        for ch in (f.tls.client_hello, f.tls.client_hello_after_hrr):
            if ch is not None and ch.server_name:
                out.setdefault(ch.server_name.lower().rstrip("."), []).append(f.id)
    return out


def _evidence(exposures: Sequence[Exposure], show_secrets: bool, limit: int = 5) -> str:
    parts = [f"{e.kind} in {e.where} (frame {e.frame}): {_show(e, show_secrets)}" for e in exposures[:limit]]
    if len(exposures) > limit:
        parts.append(f"+{len(exposures) - limit} more")
    return "; ".join(parts)


def _rule_cleartext_credentials(flow: Flow, show_secrets: bool) -> list[Finding]:
    creds = [e for e in flow.exposures if not e.inside_tls and e.kind in CREDENTIAL_KINDS]
    if not creds:
        return []
    kinds = sorted({e.kind for e in creds})
    return [
        Finding(
            rule="http.cleartext-credentials",
            severity="high",
            title="Credentials sent without TLS",
            detail=f"Anyone on the path can read and reuse them ({', '.join(kinds)}). Serve the site over HTTPS only.",
            evidence=_evidence(creds, show_secrets),
        )
    ]


def _rule_cookie_without_secure(flow: Flow, show_secrets: bool) -> list[Finding]:
    out: list[Finding] = []
    for inside in (False, True):
        hits = [
            e
            for e in flow.exposures
            if e.kind == "set-cookie" and "without Secure" in e.where and e.inside_tls == inside
        ]
        if not hits:
            continue
        out.append(
            Finding(
                rule="http.cookie-without-secure",
                severity="low" if inside else "medium",
                title="Cookie set without the Secure flag"
                + (" (inside TLS)" if inside else " over cleartext HTTP"),
                detail=(
                    "The browser will also send this cookie over plain http://, where an observer reads it."
                    if inside
                    else "The cookie was readable on the path when it was set, and will be sent in cleartext again."
                ),
                evidence=_evidence(hits, show_secrets),
            )
        )
    return out


def _rule_login_form(flow: Flow, show_secrets: bool) -> list[Finding]:
    hits: list[str] = []
    for ex in flow.http:
        if ex.inside_tls:
            continue
        if ex.response_body_sample and _PASSWORD_INPUT_RE.search(ex.response_body_sample):
            hits.append(
                f"password input in the page {ex.host or ''}{ex.uri or ''} (frame {ex.response_frame})"
            )
    for e in flow.exposures:
        if not e.inside_tls and e.kind == "password-field" and e.where.startswith("request body"):
            hits.append(f"POST field (frame {e.frame}): {_show(e, show_secrets)}")
    if not hits:
        return []
    return [
        Finding(
            rule="http.login-form-cleartext",
            severity="high",
            title="Login form served or submitted over cleartext HTTP",
            detail="A password typed into this form crosses the network unencrypted.",
            evidence="; ".join(hits[:5]),
        )
    ]


def _rule_redirects(flow: Flow) -> list[Finding]:
    redirect: HttpExchange | None = None
    plain: HttpExchange | None = None
    for ex in flow.http:
        if ex.inside_tls or ex.method != "GET" or ex.status is None or ex.status < 200:
            continue
        if _is_revocation_fetch(ex):
            continue
        location = next((v for n, v in ex.response_headers if n.lower() == "location"), "")
        if ex.status in _REDIRECTS and location.lower().startswith("https://"):
            redirect = redirect or ex
        else:
            plain = plain or ex
    out: list[Finding] = []
    if plain is not None:
        out.append(
            Finding(
                rule="http.no-https-redirect",
                severity="low",
                title="Cleartext HTTP answered without a redirect to HTTPS",
                detail="The server serves content over http:// instead of sending the client to https://.",
                evidence=f"GET {plain.host or ''}{plain.uri or ''} -> {plain.status} (frame {plain.response_frame})",
            )
        )
    if redirect is not None:
        location = next((v for n, v in redirect.response_headers if n.lower() == "location"), "")
        out.append(
            Finding(
                rule="http.redirects-to-https",
                severity="info",
                title="Cleartext HTTP redirects to HTTPS",
                detail="The first request still went in cleartext; HSTS (preload) avoids even that one.",
                evidence=f"GET {redirect.host or ''}{redirect.uri or ''} -> {redirect.status} {location}",
            )
        )
    return out


def _rule_websocket(flow: Flow, show_secrets: bool) -> list[Finding]:
    msgs = [e for e in flow.exposures if e.kind == "websocket-message" and not e.inside_tls]
    upgraded = any(ex.protocol == "websocket" and not ex.inside_tls for ex in flow.http)
    if not msgs and not (upgraded and flow.app_protocol == "websocket"):
        return []
    evidence = "; ".join(
        f"frame {e.frame}: {e.value[:40] if show_secrets else mask(e.value)}" for e in msgs[:3]
    )
    return [
        Finding(
            rule="websocket.cleartext",
            severity="medium",
            title="WebSocket over cleartext (ws://)",
            detail="Every message on this WebSocket is readable and changeable on the path; use wss://.",
            evidence=evidence or "upgrade to websocket without TLS",
        )
    ]


def _rule_mixed_host(flow: Flow, snis: dict[str, list[int]]) -> list[Finding]:
    hosts = sorted({_strip_port(ex.host) for ex in flow.http if not ex.inside_tls and ex.host})
    both = [h for h in hosts if h in snis]
    if not both:
        return []
    return [
        Finding(
            rule="http.mixed-host",
            severity="medium",
            title="Host reached both over HTTP and HTTPS",
            detail="The same host name is used with and without TLS; the cleartext requests leak what TLS protects elsewhere.",
            evidence="; ".join(f"{h} (TLS flows {', '.join(map(str, snis[h][:5]))})" for h in both[:5]),
        )
    ]


def _rule_insecure_subresource(
    flow: Flow, tls_by_client: dict[str, tuple[list[Flow], list[float]]], window: float
) -> list[Finding]:
    """`tls_by_client`: per client address, its TLS flows sorted by first_seen and their first_seen values, to
    look only at the TLS flows of this flow's client that began in the window before this one (a generous
    slice by bisection; the test below is the exact one)."""
    requests = [ex for ex in flow.http if not ex.inside_tls and ex.method and not _is_revocation_fetch(ex)]
    if not requests:
        return []
    tls_flows, starts = tls_by_client.get(flow.client_ip, ([], []))
    lo = bisect_left(starts, flow.first_seen - window - 1.0)
    hi = bisect_right(starts, flow.first_seen + 1.0)
    for t in tls_flows[lo:hi]:
        if t.id == flow.id:
            continue
        if t.first_seen <= flow.first_seen <= t.first_seen + window:
            ex = requests[0]
            sni = t.tls.client_hello.server_name if t.tls and t.tls.client_hello else None
            if sni and ex.host and _strip_port(ex.host) == sni.lower():
                continue  # same host: http.mixed-host says it
            return [
                Finding(
                    rule="http.insecure-subresource",
                    severity="medium",
                    title="Cleartext request right after an HTTPS connection",
                    detail=(
                        "Looks like an https:// page loading a resource over http:// (mixed content): an observer "
                        "can read and replace it, and scripts replaced this way take over the page."
                    ),
                    evidence=(
                        f"{ex.method} http://{ex.host or flow.server}{ex.uri or ''} "
                        f"{flow.first_seen - t.first_seen:.2f} s after TLS flow {t.id} ({sni or t.server})"
                    ),
                )
            ]
    return []


def _is_distinctive(uri: str) -> bool:
    path, _, query = uri.partition("?")
    return bool(query) or len([seg for seg in path.split("/") if seg]) >= 3


def _rule_cleartext_hop(
    flow: Flow,
    inside_secrets: dict[str, int],
    inside_paths: dict[str, int],
    inside_hosts: dict[str, str],
    show_secrets: bool,
) -> list[Finding]:
    secret_hits = [
        e
        for e in flow.exposures
        if not e.inside_tls and e.kind in SECRET_KINDS and inside_secrets.get(e.value, flow.id) != flow.id
    ]
    if secret_hits:
        e = secret_hits[0]
        return [
            Finding(
                rule="http.cleartext-hop",
                severity="high",
                title="A secret protected by TLS elsewhere travels here in cleartext",
                detail=(
                    "The same value was sent inside TLS on another connection: a TLS-terminating proxy or load "
                    "balancer forwards it in cleartext on this hop."
                ),
                evidence=f"{e.kind} {_show(e, show_secrets)} (frame {e.frame}), inside TLS on flow {inside_secrets[e.value]}",
            )
        ]
    for ex in flow.http:
        if ex.inside_tls or not ex.uri or not ex.method:
            continue
        key = f"{ex.method} {ex.uri}"
        other = inside_paths.get(key)
        # A short common path ("/account") on two unrelated sites is not a proxy hop: across different hosts
        # only a distinctive request (a query string, or three or more path segments) counts.
        same_host = inside_hosts.get(key) == _strip_port(ex.host or "")
        if other is not None and other != flow.id and (same_host or _is_distinctive(ex.uri)):
            return [
                Finding(
                    rule="http.cleartext-hop",
                    severity="medium",
                    title="A request sent inside TLS elsewhere travels here in cleartext",
                    detail="The same request was seen inside TLS on another connection: a cleartext hop behind a TLS-terminating proxy.",
                    evidence=f"{ex.method} {ex.uri} (frame {ex.frame}), inside TLS on flow {other}",
                )
            ]
    return []


def _is_trivial_path(uri: str) -> bool:
    path = uri.split("?")[0]
    return path in ("/", "*", "/favicon.ico", "/robots.txt", "") or len(uri) < 4


def cross_flow_findings(
    flows: Sequence[Flow],
    *,
    subresource_window_s: float = SUBRESOURCE_WINDOW_S,
    show_secrets: bool = False,
    targets: Sequence[Flow] | None = None,
) -> dict[int, tuple[Finding, ...]]:
    """HTTP and WebSocket findings for every flow that has some (flow id -> findings, deduplicated).

    `flows` is the context every relation is looked for in; `targets` (default: all of `flows`) are the flows
    whose findings are wanted, so a caller that releases part of a window judges only that part.
    """
    snis = _sni_names(flows)
    tls_by_client: dict[str, tuple[list[Flow], list[float]]] = {}
    for f in sorted(
        (f for f in flows if f.tls is not None and f.tls.client_hello is not None), key=lambda f: f.first_seen
    ):
        by_time, starts = tls_by_client.setdefault(f.client_ip, ([], []))
        by_time.append(f)
        starts.append(f.first_seen)
    inside_secrets: dict[str, int] = {}
    inside_paths: dict[str, int] = {}
    inside_hosts: dict[str, str] = {}
    for f in flows:
        for e in f.exposures:
            if e.inside_tls and e.kind in SECRET_KINDS and len(e.value) >= 6:
                inside_secrets.setdefault(e.value, f.id)
        for ex in f.http:
            if ex.inside_tls and ex.method and ex.uri and not _is_trivial_path(ex.uri):
                inside_paths.setdefault(f"{ex.method} {ex.uri}", f.id)
                inside_hosts.setdefault(f"{ex.method} {ex.uri}", _strip_port(ex.host or ""))
    out: dict[int, tuple[Finding, ...]] = {}
    for flow in flows if targets is None else targets:
        found: list[Finding] = []
        found += _rule_cleartext_credentials(flow, show_secrets)
        found += _rule_cookie_without_secure(flow, show_secrets)
        found += _rule_login_form(flow, show_secrets)
        found += _rule_websocket(flow, show_secrets)
        if _is_cleartext_http(flow):
            found += _rule_redirects(flow)
            found += _rule_mixed_host(flow, snis)
            found += _rule_insecure_subresource(flow, tls_by_client, subresource_window_s)
        found += _rule_cleartext_hop(flow, inside_secrets, inside_paths, inside_hosts, show_secrets)
        unique: dict[tuple[str, str], Finding] = {}
        for finding in found:
            unique.setdefault((finding.rule, finding.evidence), finding)
        if unique:
            out[flow.id] = tuple(unique.values())
    return out
