"""The view of one flow: a header and fixed sections of labelled rows, computed once from a `Flow`.

`flow_view(flow, show_secrets=False)` decides everything a reader sees about a connection: which facts are
shown, in which order, with which words, what is masked (`Shown`) and what each piece means (`Tone`). A
front end only lays it out:

- the text report prints the header line, then the rows of every section in one two-column table;
- a TUI shows the header as the detail pane's title and one tab (or collapsible panel) per section, keyed by
  `Section.key`; ``view.observer`` feeds an "Observer" tab, and a row's ``secrets`` let it reveal one field.

Sections always come in the order of `SECTION_KEYS`, empty ones included, so tabs stay put while flows change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tlsinspect.analysis.exposures import PUBLIC_KINDS
from tlsinspect.model import Anomaly, Exposure, Finding, Flow, HttpExchange, KeyExchange, TlsInfo
from tlsinspect.present.observer import ObserverView, observer_view
from tlsinspect.present.values import (
    Shown,
    Span,
    Tone,
    alert_label,
    exposure_value,
    group_label,
    oneline,
    rfc3339,
    severity_tone,
    suite_label,
    uri_value,
    version_label,
)
from tlsinspect.registry import group_name

MAX_ANOMALIES = 10
"""Anomaly rows a flow view lists by default before one "... and N more" row."""


@dataclass(frozen=True, slots=True)
class FlowHeader:
    """Who talked to whom, over what, when, and how much."""

    id: int
    client: str
    server: str
    transport: str
    protocol: str
    """The application protocol, upper case ("TLS", "HTTP", "QUIC")."""
    first_frame: int
    last_frame: int
    first_seen: str | None
    """RFC 3339 UTC."""
    bytes_client: int
    bytes_server: int


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled fact.

    Attributes:
        key: what kind of row this is ("sni", "negotiated", "http", "exposure", "finding", ...), stable for
            a front end's lookups and tests.
        label: the left-hand words.
        spans: the value, as runs of text with a tone each.
        label_tone: the label's tone (a severity for findings, exposed/muted for exposures), or None.
        secrets: the wire values the row shows, each with its masking, for a per-field reveal.
    """

    key: str
    label: str
    spans: tuple[Span, ...]
    label_tone: Tone | None = None
    secrets: tuple[Shown, ...] = ()

    @property
    def text(self) -> str:
        """The value as plain text."""
        return "".join(s.text for s in self.spans)


@dataclass(frozen=True, slots=True)
class Section:
    """A group of rows about one subject (one tab of a TUI's detail pane)."""

    key: str
    title: str
    rows: tuple[Row, ...]


SECTION_KEYS: tuple[str, ...] = ("tls", "protection", "http", "exposures", "findings", "anomalies")
SECTION_TITLES: dict[str, str] = {
    "tls": "TLS handshake",
    "protection": "What TLS hides",
    "http": "HTTP",
    "exposures": "Exposures",
    "findings": "Findings",
    "anomalies": "Anomalies",
}


@dataclass(frozen=True, slots=True)
class FlowView:
    """Everything shown about one flow."""

    header: FlowHeader
    sections: tuple[Section, ...]
    observer: ObserverView
    show_secrets: bool = False

    def section(self, key: str) -> Section:
        """The section with this key (one of `SECTION_KEYS`)."""
        return next(s for s in self.sections if s.key == key)

    @property
    def rows(self) -> tuple[Row, ...]:
        """Every row of every section, in report order."""
        return tuple(r for s in self.sections for r in s.rows)


def flow_view(
    flow: Flow, *, show_secrets: bool = False, max_anomalies: int | None = MAX_ANOMALIES
) -> FlowView:
    """The view of `flow`; secrets masked unless `show_secrets`; at most `max_anomalies` anomaly rows (None:
    all of them)."""
    observer = observer_view(flow, show_secrets=show_secrets)
    tls = flow.tls
    rows: dict[str, list[Row]] = {
        "tls": list(_tls_rows(tls)) if tls is not None else [],
        "protection": list(_protection_rows(tls, observer)) if tls is not None else [],
        "http": [_http_row(h, show_secrets) for h in flow.http],
        "exposures": list(_exposure_rows(flow, show_secrets)),
        "findings": [_finding_row(x) for x in flow.findings],
        "anomalies": list(_anomaly_rows(flow.anomalies, max_anomalies)),
    }
    sections = tuple(Section(k, SECTION_TITLES[k], tuple(rows[k])) for k in SECTION_KEYS)
    return FlowView(_header(flow), sections, observer, show_secrets)


def _header(flow: Flow) -> FlowHeader:
    return FlowHeader(
        id=flow.id,
        client=flow.client,
        server=flow.server,
        transport=flow.transport,
        protocol=flow.app_protocol.upper(),
        first_frame=flow.first_frame,
        last_frame=flow.last_frame,
        first_seen=rfc3339(flow.first_seen),
        bytes_client=flow.bytes_client,
        bytes_server=flow.bytes_server,
    )


def _row(key: str, label: str, text: str, tone: Tone | None = None) -> Row:
    return Row(key, label, (Span(text, tone),))


def _version(code: int | None) -> str:
    return version_label(code) or "-"


# ----------------------------------------------------------------------------------------------- TLS


def _tls_rows(tls: TlsInfo) -> Iterator[Row]:
    yield from _hello_rows(tls)
    if tls.hello_retry_request is not None:
        g = tls.hello_retry_request.selected_group
        # An unnamed group reads "None" here, as the report always printed it (kept for identical output).
        named = group_name(g) if g is not None else "?"
        yield _row("hello-retry-request", "HelloRetryRequest", f"server asked for group {named}")
    if tls.key_exchange is not None:
        yield _row("key-exchange", "key exchange", _key_exchange_text(tls.key_exchange))
    yield from _certificate_rows(tls)
    for a in tls.alerts:
        yield _row(
            "alert",
            "alert",
            f"{alert_label(a.description, a.encrypted)} from the {a.sender} (frame {a.frame})",
        )
    if tls.resumed:
        yield _row("resumed", "resumed", tls.resumption or "yes")
    if tls.decryption:
        yield _row("decryption", "decryption", tls.decryption)


def _hello_rows(tls: TlsInfo) -> Iterator[Row]:
    ch, sh = tls.client_hello, tls.server_hello
    if ch is not None:
        if ch.server_name:
            yield _row("sni", "SNI (visible)", ch.server_name, Tone.PUBLIC)
        else:
            yield _row("sni", "SNI (visible)", "(none: the server name is not sent)", Tone.MUTED)
        if ch.alpn:
            yield _row("alpn-offered", "ALPN offered", ", ".join(ch.alpn))
        versions = ", ".join(_version(v) for v in ch.supported_versions) or _version(ch.legacy_version)
        yield _row("client-offers", "client offers", f"{len(ch.cipher_suites)} suites, versions {versions}")
        yield _row("fingerprints", "JA3 / JA4", f"{ch.ja3}  {ch.ja4}")
    if sh is not None:
        alpn = f"  ALPN {sh.alpn}" if sh.alpn else ""
        yield _row(
            "negotiated", "negotiated", f"{_version(tls.version)}  {suite_label(sh.cipher_suite)}{alpn}"
        )


def _key_exchange_text(kx: KeyExchange) -> str:
    if kx.group is not None:
        return f"{kx.kind} {group_label(kx.group)}"
    return f"{kx.kind} {kx.dh_bits}-bit DH" if kx.dh_bits else f"{kx.kind} "


def _certificate_rows(tls: TlsInfo) -> Iterator[Row]:
    if tls.certificates:
        leaf = tls.certificates[0]
        names = ", ".join(leaf.san_dns[:6]) or leaf.subject
        yield _row(
            "certificate",
            f"certificate ({tls.certificates_visibility})",
            f"{names}  issued by {leaf.issuer}  valid {leaf.not_before[:10]}..{leaf.not_after[:10]}  "
            f"[{len(tls.certificates)} in chain]",
        )
    elif tls.certificates_visibility == "encrypted":
        yield _row(
            "certificate", "certificate", "encrypted (TLS 1.3): supply a key log to see it", Tone.MUTED
        )
    v = tls.validation
    if v.trusted is not None or v.errors:
        errors = f"  {'; '.join(v.errors)}" if v.errors else ""
        yield _row(
            "validation",
            "validation",
            f"trusted={v.trusted} hostname={v.hostname_matches} expired={v.expired}{errors}",
        )


def _protection_rows(tls: TlsInfo, observer: ObserverView) -> Iterator[Row]:
    """What TLS hides (from the observer view) and how much application data it carried."""
    if observer.hidden:
        label = "hidden (read with keys)" if tls.decrypted else "hidden by TLS"
        yield _row("hidden", label, "; ".join(h.item for h in observer.hidden), Tone.PROTECTED)
    how = "decrypted with the key log" if tls.decrypted else "hidden by TLS"
    records, sizes = tls.app_data_records, tls.app_data_bytes
    yield _row(
        "application-data",
        "application data",
        f"{records[0]}+{records[1]} records, {sizes[0]}+{sizes[1]} B ({how})",
    )


# ----------------------------------------------------------------------------------------------- the rest


def _http_row(h: HttpExchange, show_secrets: bool) -> Row:
    uri = uri_value(h.uri or "", show_secrets)
    status = h.status if h.status is not None else "(no response)"
    where = Span("inside TLS", Tone.MUTED) if h.inside_tls else Span("CLEARTEXT", Tone.EXPOSED)
    line = Span(f"{h.method or '?'} {h.host or ''}{oneline(uri.text)} → {status} ")
    return Row("http", f"HTTP (frame {h.frame})", (line, where), secrets=(uri,))


def _exposure_rows(flow: Flow, show_secrets: bool) -> Iterator[Row]:
    """Every exposure by frame; with TLS, the handshake's public names are left to the TLS section."""
    for e in sorted(flow.exposures, key=_exposure_order):
        if e.kind in PUBLIC_KINDS and flow.tls is not None:
            continue
        value = exposure_value(e.kind, e.value, show_secrets)
        state, tone = ("readable with keys", Tone.MUTED) if e.inside_tls else ("EXPOSED", Tone.EXPOSED)
        yield Row(
            "exposure",
            f"{state}: {e.kind}",
            (Span(f"{oneline(value.text)}  ({e.where}, frame {e.frame})"),),
            label_tone=tone,
            secrets=(value,),
        )


def _exposure_order(e: Exposure) -> tuple[int, str]:
    return (e.frame or 0, e.kind)


def _finding_row(x: Finding) -> Row:
    evidence = f" [{x.evidence}]" if x.evidence else ""
    return Row(
        "finding",
        x.severity.upper(),
        (Span(f"{x.rule}: {x.title}{evidence}"),),
        label_tone=severity_tone(x.severity),
    )


def _anomaly_rows(anomalies: tuple[Anomaly, ...], limit: int | None) -> Iterator[Row]:
    shown = anomalies if limit is None else anomalies[:limit]
    for an in shown:
        frame = f" (frame {an.frame})" if an.frame else ""
        yield Row("anomaly", "anomaly", (Span(f"{an.layer}/{an.kind}: {an.message}{frame}"),), Tone.MUTED)
    if len(anomalies) > len(shown):
        more = f"... and {len(anomalies) - len(shown)} more (see --format json)"
        yield Row("anomalies-more", "anomaly", (Span(more),), Tone.MUTED)
