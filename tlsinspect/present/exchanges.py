"""The HTTP exchanges of one flow as a front end lists them, every secret masked as the reports mask it, and
the endpoint's view (what the two ends read once TLS is removed) beside the observer's.

`exchanges_view(flow, show_secrets=False)` -> `ExchangesView`: at most `MAX_EXCHANGES` `ExchangeView`
(request line, status line, headers and the start of each body), and how many were left out. A header
whose name says it carries a credential (Authorization, Cookie, Set-Cookie, an API key or token) is masked
whole; anywhere else, every secret value the analysis found on the flow (a password field, a token) is
masked where it occurs. Each masked value is a `Shown`, so a front end can reveal it on request.

`endpoint_view(flow, show_secrets=False)` -> `EndpointView`: what the endpoints read (the decrypted
requests and the secrets inside TLS) and whether the observer reads the same. Nothing here renders or
escapes; front ends pass every string through `visible()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlsinspect.analysis.exposures import SECRET_KINDS, mask
from tlsinspect.model import Flow, HttpExchange
from tlsinspect.present.values import Reveal, Shown, exposure_value, uri_value

MAX_EXCHANGES = 50
"""Exchanges listed per flow before "N more" (a keep-alive flow can carry thousands)."""
MAX_HEADERS = 40
MAX_BODY = 1200
"""Characters of a body sample shown."""
SECRET_HEADER_WORDS = (
    "authorization",
    "cookie",
    "token",
    "api-key",
    "apikey",
    "secret",
    "password",
    "session",
)


@dataclass(frozen=True, slots=True)
class Header:
    name: str
    value: Shown


@dataclass(frozen=True, slots=True)
class ExchangeView:
    frame: int | None
    response_frame: int | None
    inside_tls: bool
    protocol: str
    request: str
    """ "POST www.lab.test:47080" (the URI is in `uri`, masked apart)."""
    uri: Shown
    status: str
    """ "303 See Other", or "(no response)"."""
    request_headers: tuple[Header, ...]
    response_headers: tuple[Header, ...]
    request_body: Shown | None
    response_body: Shown | None
    request_body_len: int
    response_body_len: int

    @property
    def secrets(self) -> tuple[Shown, ...]:
        """Every masked (or revealed) value of the exchange."""
        values = [self.uri, *(h.value for h in self.request_headers + self.response_headers)]
        values += [b for b in (self.request_body, self.response_body) if b is not None]
        return tuple(v for v in values if v.reveal is not Reveal.PUBLIC)


@dataclass(frozen=True, slots=True)
class ExchangesView:
    exchanges: tuple[ExchangeView, ...]
    omitted: int = 0
    total: int = 0


def _secret_values(flow: Flow) -> list[str]:
    out: set[str] = set()
    for e in flow.exposures:
        if e.kind not in SECRET_KINDS:
            continue
        name, eq, value = e.value.partition("=")
        # "password=..." and "session=...": the value masked, its name kept; else the whole and what follows ":"
        parts = (value,) if eq and name and len(value) >= 6 else (e.value, e.value.partition(":")[2])
        out.update(p for p in parts if len(p) >= 6)
    return sorted(out, key=len, reverse=True)


def masked_text(text: str, secrets: list[str], show_secrets: bool) -> Shown:
    """`text` with every occurrence of each secret masked (longest first), or revealed with `show_secrets`."""
    hidden = text
    for s in secrets:
        if s in hidden:
            hidden = hidden.replace(s, mask(s))
    if hidden == text:
        return Shown(text, Reveal.PUBLIC, text)
    if show_secrets:
        return Shown(text, Reveal.REVEALED, text)
    return Shown(hidden, Reveal.MASKED, text)


def _header_value(name: str, value: str, secrets: list[str], show_secrets: bool) -> Shown:
    lname = name.lower()
    found = masked_text(value, secrets, show_secrets)
    if found.reveal is not Reveal.PUBLIC:
        return (
            found  # the secret the analysis found, masked in place (a cookie keeps its name and attributes)
        )
    if any(w in lname for w in SECRET_HEADER_WORDS) and value:
        if show_secrets:
            return Shown(value, Reveal.REVEALED, value)
        scheme, sep, rest = value.partition(" ")
        if sep and scheme.isalpha() and rest and lname.endswith("authorization"):
            return Shown(f"{scheme} {mask(rest)}", Reveal.MASKED, value)
        return Shown(mask(value), Reveal.MASKED, value)
    return found


def _body(sample: bytes, secrets: list[str], show_secrets: bool) -> Shown | None:
    if not sample:
        return None
    text = sample[:MAX_BODY].decode("utf-8", errors="replace")
    if len(sample) > MAX_BODY:
        text += "…"
    return masked_text(text, secrets, show_secrets)


def exchange_view(h: HttpExchange, secrets: list[str], show_secrets: bool) -> ExchangeView:
    def headers(hs: tuple[tuple[str, str], ...]) -> tuple[Header, ...]:
        return tuple(Header(n, _header_value(n, v, secrets, show_secrets)) for n, v in hs[:MAX_HEADERS])

    status = f"{h.status} {h.reason or ''}".strip() if h.status is not None else "(no response)"
    return ExchangeView(
        frame=h.frame,
        response_frame=h.response_frame,
        inside_tls=h.inside_tls,
        protocol=h.protocol,
        request=f"{h.method or '?'} {h.host or ''}",
        uri=uri_value(h.uri or "", show_secrets),
        status=status,
        request_headers=headers(h.request_headers),
        response_headers=headers(h.response_headers),
        request_body=_body(h.request_body_sample, secrets, show_secrets),
        response_body=_body(h.response_body_sample, secrets, show_secrets),
        request_body_len=h.request_body_len,
        response_body_len=h.response_body_len,
    )


def exchanges_view(flow: Flow, *, show_secrets: bool = False, limit: int = MAX_EXCHANGES) -> ExchangesView:
    secrets = _secret_values(flow)
    shown = tuple(exchange_view(h, secrets, show_secrets) for h in flow.http[:limit])
    return ExchangesView(shown, max(0, len(flow.http) - limit), len(flow.http))


# ----------------------------------------------------------------------------------------------- endpoint


@dataclass(frozen=True, slots=True)
class EndpointItem:
    item: str
    value: Shown


@dataclass(frozen=True, slots=True)
class EndpointView:
    """What the two endpoints read on the flow: the content TLS carries, once decrypted."""

    summary: str
    items: tuple[EndpointItem, ...]
    readable: bool
    """Whether the content could be read here (cleartext, or decrypted with a key log)."""
    omitted: int = 0


def endpoint_view(flow: Flow, *, show_secrets: bool = False, limit: int = MAX_EXCHANGES) -> EndpointView:
    tls = flow.tls
    if tls is None:
        summary = "no TLS: the endpoints and every observer on the path read exactly the same"
        readable = True
    elif tls.decrypted:
        summary = "decrypted with the key log: what the client and server read inside TLS"
        readable = True
    else:
        why = f" ({tls.decryption})" if tls.decryption else ""
        summary = f"not decrypted{why}: give a key log (--keylog) to read what the endpoints read"
        readable = False
    items: list[EndpointItem] = []
    secrets = _secret_values(flow)
    for h in flow.http[:limit]:
        uri = uri_value(h.uri or "", show_secrets)
        line = f"{h.method or '?'} {h.host or ''}{uri.text}"
        status = f" → {h.status} {h.reason or ''}".rstrip() if h.status is not None else " → (no response)"
        where = "inside TLS" if h.inside_tls else "cleartext"
        items.append(
            EndpointItem(f"request (frame {h.frame}, {where})", Shown(line + status, uri.reveal, line))
        )
        if h.request_body_sample:
            body = _body(h.request_body_sample, secrets, show_secrets)
            if body is not None:
                items.append(EndpointItem("  request body", body))
    for e in flow.exposures:
        if e.kind in SECRET_KINDS:
            where = "inside TLS" if e.inside_tls else "in cleartext"
            items.append(
                EndpointItem(f"{e.kind} ({where}, {e.where})", exposure_value(e.kind, e.value, show_secrets))
            )
    return EndpointView(summary, tuple(items), readable, max(0, len(flow.http) - limit))
