"""The text report: a readable per-connection summary with rich, putting what an observer sees first.

Each flow gets a header line (id, endpoints, protocol), then what anyone on the path can read (SNI, ALPN,
version, suite, certificate names, cleartext HTTP and its secrets), then what TLS hides, then findings and
anomalies. The capture summary closes the report.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tlsinspect.analysis.exposures import PUBLIC_KINDS, redact_uri, shown_value
from tlsinspect.analysis.observer import observer_view
from tlsinspect.model import CaptureInfo, Flow, Summary
from tlsinspect.output.jsonout import rfc3339
from tlsinspect.registry import alert_name, cipher_suite_name, group_name, version_name

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


_CONTROL = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t", 127: "\\x7f"}


def _oneline(text: str, limit: int = 160) -> str:
    """Control characters escaped and long values cut, so one exposure stays one line."""
    text = text.translate(_CONTROL)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _v(v: int | None) -> str:
    if v is None:
        return "-"
    return version_name(v) or f"0x{v:04x}"


class _Console(Console):
    """rich's Console, except that a closed pipe (`| head`) is left to the CLI, which exits 0 as documented
    (rich would exit 1 itself)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


class TextWriter:
    """Writes the report as flows arrive (no buffering of the whole capture)."""

    def __init__(
        self, out: TextIO, *, show_secrets: bool = False, color: bool | None = None, width: int | None = None
    ) -> None:
        self.console = _Console(
            file=out, force_terminal=color, no_color=color is False, width=width or 110, highlight=False
        )
        self.show_secrets = show_secrets

    def capture(self, info: CaptureInfo, tool_version: str) -> None:
        self.console.print(Text(f"tlsinspect {tool_version}  {info.source}  ({info.format})", style="bold"))

    def flow(self, f: Flow) -> None:
        c = self.console
        proto = f.app_protocol.upper()
        head = Text()
        head.append(f"#{f.id} ", style="bold")
        head.append(f"{f.client} → {f.server} ", style="bold cyan")
        head.append(f"{f.transport}/{proto}", style="magenta")
        head.append(f"  frames {f.first_frame}-{f.last_frame}  {rfc3339(f.first_seen)}  ", style="dim")
        head.append(f"↑{f.bytes_client} B ↓{f.bytes_server} B", style="dim")
        c.print(head)
        t = Table(show_header=False, box=None, pad_edge=False, padding=(0, 1))
        t.add_column(style="dim", width=26)
        t.add_column()
        tls = f.tls
        if tls is not None:
            ch, sh = tls.client_hello, tls.server_hello
            if ch is not None:
                t.add_row(
                    "SNI (visible)",
                    Text(
                        ch.server_name or "(none: the server name is not sent)",
                        style="bold yellow" if ch.server_name else "dim",
                    ),
                )
                if ch.alpn:
                    t.add_row("ALPN offered", ", ".join(ch.alpn))
                t.add_row(
                    "client offers",
                    f"{len(ch.cipher_suites)} suites, versions {', '.join(_v(v) for v in ch.supported_versions) or _v(ch.legacy_version)}",
                )
                t.add_row("JA3 / JA4", f"{ch.ja3}  {ch.ja4}")
            if sh is not None:
                suite = cipher_suite_name(sh.cipher_suite) or f"0x{sh.cipher_suite:04x}"
                t.add_row(
                    "negotiated", f"{_v(tls.version)}  {suite}" + (f"  ALPN {sh.alpn}" if sh.alpn else "")
                )
            if tls.hello_retry_request is not None:
                g = tls.hello_retry_request.selected_group
                t.add_row(
                    "HelloRetryRequest", f"server asked for group {group_name(g) if g is not None else '?'}"
                )
            if tls.key_exchange is not None:
                kx = tls.key_exchange
                t.add_row(
                    "key exchange",
                    f"{kx.kind} "
                    + (
                        group_name(kx.group) or str(kx.group)
                        if kx.group is not None
                        else f"{kx.dh_bits}-bit DH"
                        if kx.dh_bits
                        else ""
                    ),
                )
            if tls.certificates:
                leaf = tls.certificates[0]
                names = ", ".join(leaf.san_dns[:6]) or leaf.subject
                t.add_row(
                    f"certificate ({tls.certificates_visibility})",
                    f"{names}  issued by {leaf.issuer}  valid {leaf.not_before[:10]}..{leaf.not_after[:10]}  [{len(tls.certificates)} in chain]",
                )
            elif tls.certificates_visibility == "encrypted":
                t.add_row("certificate", Text("encrypted (TLS 1.3): supply a key log to see it", style="dim"))
            v = tls.validation
            if v.trusted is not None or v.errors:
                t.add_row(
                    "validation",
                    f"trusted={v.trusted} hostname={v.hostname_matches} expired={v.expired}"
                    + (f"  {'; '.join(v.errors)}" if v.errors else ""),
                )
            for a in tls.alerts:
                desc = (
                    "encrypted alert"
                    if a.encrypted and a.description is None
                    else (alert_name(a.description or 0) or str(a.description))
                )
                t.add_row("alert", f"{desc} from the {a.sender} (frame {a.frame})")
            if tls.resumed:
                t.add_row("resumed", tls.resumption or "yes")
            if tls.decryption:
                t.add_row("decryption", tls.decryption)
            hidden_items = [h["item"] for h in observer_view(f)["hidden"]]
            if hidden_items:
                label = "hidden by TLS" if not tls.decrypted else "hidden (read with keys)"
                t.add_row(label, Text("; ".join(hidden_items), style="green"))
            hidden = "hidden by TLS" if not tls.decrypted else "decrypted with the key log"
            t.add_row(
                "application data",
                f"{tls.app_data_records[0]}+{tls.app_data_records[1]} records, {tls.app_data_bytes[0]}+{tls.app_data_bytes[1]} B ({hidden})",
            )
        for h in f.http:
            where = "inside TLS" if h.inside_tls else Text("CLEARTEXT", style="bold red")
            line = Text()
            uri = (h.uri or "") if self.show_secrets else redact_uri(h.uri or "")
            line.append(f"{h.method or '?'} {h.host or ''}{_oneline(uri)} ")
            line.append(f"→ {h.status if h.status is not None else '(no response)'} ")
            line.append(where if isinstance(where, Text) else Text(where, style="dim"))
            t.add_row(f"HTTP (frame {h.frame})", line)
        for e in sorted(f.exposures, key=lambda e: (e.frame or 0, e.kind)):
            if e.kind in PUBLIC_KINDS and tls is not None:
                continue  # already shown above as the handshake's visible names
            val = _oneline(shown_value(e.kind, e.value, self.show_secrets))
            label = "readable with keys" if e.inside_tls else "EXPOSED"
            t.add_row(
                Text(f"{label}: {e.kind}", style="dim" if e.inside_tls else "bold red"),
                f"{val}  ({e.where}, frame {e.frame})",
            )
        for x in f.findings:
            t.add_row(
                Text(x.severity.upper(), style=SEVERITY_STYLE.get(x.severity, "")),
                f"{x.rule}: {x.title}" + (f" [{x.evidence}]" if x.evidence else ""),
            )
        for an in f.anomalies[:10]:
            t.add_row(
                Text("anomaly", style="dim"),
                f"{an.layer}/{an.kind}: {an.message}" + (f" (frame {an.frame})" if an.frame else ""),
            )
        if len(f.anomalies) > 10:
            t.add_row(
                Text("anomaly", style="dim"), f"... and {len(f.anomalies) - 10} more (see --format json)"
            )
        if t.row_count:
            c.print(t)
        c.print()

    def summary(self, s: Summary) -> None:
        c = self.console
        c.rule("summary")
        c.print(
            f"{s.frames} frames ({s.bytes} bytes), {s.flows} flows: {s.tls_flows} TLS, {s.http_flows} with HTTP; "
            f"{s.frames_undecodable} undecodable frames, {s.frames_not_ip} not IP, {s.frames_other_transport} other transport; "
            f"{s.anomalies} anomalies; read in {s.elapsed_s:.2f} s"
        )
        if any(s.findings_by_severity.values()):
            c.print("findings: " + ", ".join(f"{k} {v}" for k, v in s.findings_by_severity.items() if v))
        if s.flows_evicted:
            c.print(f"[yellow]{s.flows_evicted} flows were finished early by the open-flow cap[/]")
        for err in s.capture_errors:
            c.print(Text(f"capture: {err}", style="yellow"))
        for a in s.capture_anomalies[:10]:
            c.print(f"[dim]capture anomaly: {a.layer}/{a.kind}: {a.message} (frame {a.frame})[/]")
