"""What a passive observer reads on a connection, and what TLS hides from them.

`observer_view(flow, show_secrets=...)` returns an `ObserverView`: ``visible`` items (addresses, sizes,
timing, the handshake's cleartext names, every cleartext exposure with its value masked) and ``hidden``
items (what TLS protects, each with the reason). ``unlocked`` says the hidden items were nevertheless read
here because a key log was given. The JSON writer writes ``view.as_dict()`` as a flow's ``observer`` object,
the text report lists the hidden items, and a TUI's "Observer" tab shows both lists side by side; all three
read this one view.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from tlsinspect.model import ClientHello, Flow, TlsInfo
from tlsinspect.present.values import Shown, exposure_value, suite_label, version_label

ECH_TYPES = (0xFE0D, 0xFFCE)
"""Extension types of Encrypted Client Hello (the RFC's and the draft's)."""
HANDSHAKE_KINDS = frozenset({"sni", "alpn", "certificate-name"})
"""Exposure kinds the view reports from the handshake itself rather than from the exposure list."""
MAX_VALUES = 3
"""Values of one cleartext exposure kind listed before "(+N more)"."""


class ObserverItem(NamedTuple):
    """One fact: what (``item``) and its value, or for a hidden item why it is hidden (``value``, may be "").

    ``values`` holds the masked wire values behind ``value`` (cleartext exposures only), for a front end
    that reveals one field on request. A named tuple rather than a frozen dataclass: a dozen are built per flow
    for every report line, and a tuple is built several times faster (immutable all the same).
    """

    item: str
    value: str = ""
    values: tuple[Shown, ...] = ()

    def as_dict(self) -> dict[str, str]:
        """``{"item": ..., "value": ...}`` as the JSON contract writes it."""
        return {"item": self.item, "value": self.value}


@dataclass(frozen=True, slots=True)
class ObserverView:
    """The observer's side of one flow."""

    visible: tuple[ObserverItem, ...]
    hidden: tuple[ObserverItem, ...]
    unlocked: bool = False
    """TLS was decrypted with a key log: the hidden items were read here, though no observer can."""

    def as_dict(self) -> dict[str, list[dict[str, str]]]:
        """``{"visible": [...], "hidden": [...]}``, the JSON ``observer`` object."""
        return {"visible": [i.as_dict() for i in self.visible], "hidden": [i.as_dict() for i in self.hidden]}


def observer_view(flow: Flow, *, show_secrets: bool = False) -> ObserverView:
    """What anyone on the path reads on `flow` and what TLS hides; values masked unless `show_secrets`."""
    visible = list(_path_items(flow))
    hidden: list[ObserverItem] = []
    tls = flow.tls
    if tls is not None:
        visible += _tls_visible(tls)
        hidden += _tls_hidden(flow, tls)
    elif flow.app_protocol == "quic" or flow.transport == "udp":
        hidden.append(
            ObserverItem(
                "everything after the QUIC Initial packets", "protected with keys from the TLS handshake"
            )
        )
    visible += _cleartext_items(flow, show_secrets)
    if tls is None and flow.http:
        hidden.append(ObserverItem("nothing", "HTTP without TLS: every header, cookie and body is readable"))
    return ObserverView(tuple(visible), tuple(hidden), unlocked=tls is not None and tls.decrypted)


def _path_items(flow: Flow) -> Iterator[ObserverItem]:
    yield ObserverItem(
        "client and server addresses and ports", f"{flow.client} -> {flow.server} ({flow.transport})"
    )
    yield ObserverItem(
        "bytes each way", f"client {flow.bytes_client}, server {flow.bytes_server} in {flow.frames} frames"
    )
    yield ObserverItem(
        "timing", f"{max(flow.last_seen - flow.first_seen, 0.0):.3f} s from first to last frame"
    )
    yield ObserverItem("application protocol", flow.app_protocol)


def _offers_real_ech(ch: ClientHello) -> bool:
    """An outer ClientHello with an ECH extension (an inner one says so in the extension's value)."""
    ech = next((e for e in ch.extensions if e.type in ECH_TYPES), None)
    return ech is not None and not (isinstance(ech.decoded, dict) and ech.decoded.get("type") == "inner")


def _hello_visible(ch: ClientHello) -> Iterator[ObserverItem]:
    # Browsers also send a GREASE (fake) ECH extension, which looks the same on the wire, so with ECH offered
    # we cannot tell whether the SNI is the real name or a public front name.
    label = "TLS server name (SNI), with ECH offered" if _offers_real_ech(ch) else "TLS server name (SNI)"
    yield ObserverItem(label, ch.server_name or "(none sent)")
    if ch.alpn:
        yield ObserverItem("ALPN protocols offered", ",".join(ch.alpn))
    if ch.ja4 or ch.ja3:
        yield ObserverItem("client fingerprint (JA3/JA4)", ch.ja4 or ch.ja3 or "")


def _certificate_visible(tls: TlsInfo) -> Iterator[ObserverItem]:
    if tls.certificates_visibility != "cleartext":
        return
    if tls.certificates:
        leaf = tls.certificates[0]
        names = [n for n in (leaf.common_name, *leaf.san_dns) if n]
        yield ObserverItem(
            "server certificate chain",
            f"{len(tls.certificates)} certificates; names: {', '.join(names[:10])}",
        )
        yield ObserverItem("certificate issuer", leaf.issuer)
    if tls.client_certificates:
        yield ObserverItem("client certificate (who the user is)", tls.client_certificates[0].subject)


def _tls_visible(tls: TlsInfo) -> Iterator[ObserverItem]:
    if tls.client_hello is not None:
        yield from _hello_visible(tls.client_hello)
    version = version_label(tls.version)
    if version:
        yield ObserverItem("TLS version", version)
    cipher = suite_label(tls.cipher_suite)
    if cipher:
        yield ObserverItem("cipher suite", cipher)
    sh = tls.server_hello
    if sh is not None and sh.alpn and tls.version != 0x0304:
        yield ObserverItem("ALPN protocol selected", sh.alpn)
    yield from _certificate_visible(tls)
    if tls.resumed:
        yield ObserverItem("session resumption", tls.resumption or "yes")
    for alert in tls.alerts:
        if not alert.encrypted:
            yield ObserverItem(
                "TLS alert", f"{alert.sender} level {alert.level} description {alert.description}"
            )
    yield ObserverItem(
        "encrypted record sizes and counts",
        f"client {tls.app_data_records[0]} records / {tls.app_data_bytes[0]} bytes, "
        f"server {tls.app_data_records[1]} records / {tls.app_data_bytes[1]} bytes",
    )


def _tls_hidden(flow: Flow, tls: TlsInfo) -> Iterator[ObserverItem]:
    if tls.client_hello is not None and _offers_real_ech(tls.client_hello):
        yield ObserverItem(
            "the real server name, if ECH was real (not GREASE)",
            "with a real ECH configuration the SNI above is the provider's public name and the real one "
            "travels in the encrypted inner ClientHello",
        )
    if tls.version == 0x0304 or tls.certificates_visibility == "encrypted":
        yield ObserverItem("certificate chain and server name in it", "sent encrypted in TLS 1.3")
        yield ObserverItem("ALPN protocol selected", "in EncryptedExtensions (TLS 1.3)")
        if tls.certificate_requested or tls.client_certificates:
            yield ObserverItem("client certificate", "sent encrypted in TLS 1.3")
    if sum(tls.app_data_bytes) or flow.http or tls.decrypted:
        reason = "read here only because a key log was given" if tls.decrypted else ""
        yield ObserverItem("HTTP method, path, headers and bodies", reason)
        yield ObserverItem("cookies, credentials and tokens in the application data", reason)
    if tls.session_tickets:
        yield ObserverItem("session ticket contents", "encrypted by the server's ticket key")


def _cleartext_items(flow: Flow, show_secrets: bool) -> Iterator[ObserverItem]:
    """One item per exposure kind seen outside TLS (handshake names excepted), values masked."""
    by_kind: dict[str, list[Shown]] = {}
    for e in flow.exposures:
        if not e.inside_tls and e.kind not in HANDSHAKE_KINDS:
            by_kind.setdefault(e.kind, []).append(exposure_value(e.kind, e.value, show_secrets))
    for kind, values in by_kind.items():
        more = len(values) - MAX_VALUES
        shown = ", ".join(v.text for v in values[:MAX_VALUES]) + (f" (+{more} more)" if more > 0 else "")
        yield ObserverItem(f"cleartext {kind}", shown, tuple(values))
