"""One line per flow for a flow list (the TUI's, and any other list view): the columns as inert text, the word
and glyph for what a passive observer gets, and the keys to sort by. Pure: computed from a `Flow` alone.

What an observer gets (a word and a glyph, never colour alone; one table, first match wins):

    CLEARTEXT  ✗  application data readable on the wire (HTTP or WebSocket outside TLS)
    DECRYPTED  ◌  TLS whose records a key log let us read (an observer without the keys sees SNI ONLY)
    SNI ONLY   ◐  TLS (or QUIC, DTLS) with the server name readable in the hello
    ENCRYPTED  ●  TLS with no readable name (no SNI, or ECH)
    OPAQUE     ?  a protocol tlsinspect does not read (nothing claimed either way)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tlsinspect.model import SEVERITIES, Flow
from tlsinspect.present.values import suite_label, version_label, visible


class Exposure(StrEnum):
    CLEARTEXT = "CLEARTEXT"
    DECRYPTED = "DECRYPTED"
    SNI_ONLY = "SNI ONLY"
    ENCRYPTED = "ENCRYPTED"
    OPAQUE = "OPAQUE"


GLYPHS = {
    Exposure.CLEARTEXT: "✗",
    Exposure.DECRYPTED: "◌",
    Exposure.SNI_ONLY: "◐",
    Exposure.ENCRYPTED: "●",
    Exposure.OPAQUE: "?",
}


def _cleartext(f: Flow) -> bool:
    return f.app_protocol in ("http", "websocket") and f.tls is None or any(not h.inside_tls for h in f.http)


def _sni(f: Flow) -> str | None:
    ch = f.tls.client_hello if f.tls is not None else None
    return ch.server_name if ch is not None and ch.server_name else None


EXPOSURE_RULES: tuple[tuple[Exposure, Callable[[Flow], bool]], ...] = (
    (Exposure.CLEARTEXT, _cleartext),
    (Exposure.DECRYPTED, lambda f: f.tls is not None and f.tls.decrypted),
    (Exposure.SNI_ONLY, lambda f: f.tls is not None and _sni(f) is not None),
    (Exposure.ENCRYPTED, lambda f: f.tls is not None),
)


def exposure_of(f: Flow) -> Exposure:
    for word, test in EXPOSURE_RULES:
        if test(f):
            return word
    return Exposure.OPAQUE


@dataclass(frozen=True, slots=True)
class FlowRow:
    """The list line of one flow: every text field is inert (`visible`), ready to draw as plain text."""

    id: int
    time: str
    """Capture time of the first frame, HH:MM:SS.mmm UTC."""
    first_seen: float
    client: str
    server: str
    name: str
    """The SNI, else the HTTP Host, else ""."""
    protocol: str
    version: str
    suite: str
    exposure: Exposure
    worst: str
    """The worst finding as "HIGH cert.expired", "" for none."""
    worst_rank: int
    """Index of the worst finding's severity in SEVERITIES, -1 for none."""
    exposures: int
    bytes: int
    state: str

    @property
    def observer(self) -> str:
        """The observer column: glyph and word."""
        return f"{GLYPHS[self.exposure]} {self.exposure.value}"


def flow_row(f: Flow) -> FlowRow:
    tls = f.tls
    name = _sni(f) or next((h.host for h in f.http if h.host), None) or ""
    rank = -1
    worst = ""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    for x in f.findings:
        r = order.get(x.severity, 0)
        if r > rank:
            rank, worst = r, f"{x.severity.upper()} {x.rule}"
    protocol = f.app_protocol if f.transport == "tcp" else f"{f.app_protocol}/{f.transport}"
    return FlowRow(
        id=f.id,
        time=_clock(f.first_seen),
        first_seen=f.first_seen,
        client=visible(f.client),
        server=visible(f.server),
        name=visible(name),
        protocol=protocol,
        version=(version_label(tls.version) or "") if tls is not None else "",
        suite=(suite_label(tls.cipher_suite) or "") if tls is not None else "",
        exposure=exposure_of(f),
        worst=visible(worst),
        worst_rank=rank,
        exposures=len(f.exposures),
        bytes=f.bytes_client + f.bytes_server,
        state=f.state,
    )


def _clock(ts: float) -> str:
    try:
        t = time.gmtime(ts)
    except (OverflowError, OSError, ValueError):
        return "??:??:??.???"
    return time.strftime("%H:%M:%S", t) + f".{int((ts % 1) * 1000):03d}"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    width: int
    """Preferred width; the flexible column (`flex`) takes what is left."""
    text: Callable[[FlowRow], str]
    sort: Callable[[FlowRow], object]
    right: bool = False
    flex: bool = False


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


COLUMNS: tuple[Column, ...] = (
    Column("id", "#", 6, lambda r: str(r.id), lambda r: r.id, right=True),
    Column("time", "time", 12, lambda r: r.time, lambda r: (r.first_seen, r.id)),
    Column("client", "client", 22, lambda r: r.client, lambda r: r.client),
    Column("server", "server", 22, lambda r: r.server, lambda r: r.server),
    Column("name", "SNI / Host", 24, lambda r: r.name, lambda r: r.name, flex=True),
    Column("protocol", "proto", 9, lambda r: r.protocol, lambda r: r.protocol),
    Column("version", "version", 8, lambda r: r.version, lambda r: r.version),
    Column("suite", "suite", 18, lambda r: r.suite, lambda r: r.suite),
    Column("observer", "observer gets", 13, lambda r: r.observer, lambda r: r.exposure.value),
    Column("worst", "worst finding", 28, lambda r: r.worst, lambda r: (r.worst_rank, r.worst)),
    Column("exposures", "exp", 4, lambda r: str(r.exposures or ""), lambda r: r.exposures, right=True),
    Column("bytes", "bytes", 9, lambda r: _size(r.bytes), lambda r: r.bytes, right=True),
)
"""The flow list's columns, in order. Sorting by a column uses its `sort` key (ties by id)."""
