"""The detail pane of the selected flow: one tab per view of it.

Each tab is a widget with a `show(ctx)` method; the pane fills only the visible tab when the selection or the
flow changes, and a tab when it is opened (detail is loaded on demand). Wire text always goes in as rich
`Text` built from plain strings that the presentation layer made inert (`visible`), never as markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane, Tree

from tlsinspect.analysis.findings import explain
from tlsinspect.model import Flow
from tlsinspect.present import FlowView, Tone
from tlsinspect.present.chain import chain_view
from tlsinspect.present.ladder import ladder
from tlsinspect.present.related import related_flows
from tlsinspect.present.values import exposure_value, uri_value, visible

TONE_STYLE: dict[Tone | None, str] = {
    None: "",
    Tone.MUTED: "dim",
    Tone.PUBLIC: "bold",
    Tone.PROTECTED: "green",
    Tone.EXPOSED: "bold red",
    Tone.WARNING: "yellow",
    Tone.INFO: "dim",
    Tone.LOW: "cyan",
    Tone.MEDIUM: "yellow",
    Tone.HIGH: "bold red",
    Tone.CRITICAL: "bold reverse red",
}
MAX_HTTP = 100
"""HTTP exchanges drawn per flow at most (the rest are counted)."""


@dataclass(frozen=True)
class DetailContext:
    """What a tab may draw from: the flow, its view, whether secrets are revealed, whether the endpoint's view is
    asked for instead of the observer's, and the other flows (for related flows)."""

    flow: Flow | None
    view: FlowView | None
    revealed: bool = False
    endpoint: bool = False
    flows: Mapping[int, Flow] | None = None


def _none(body: Static) -> None:
    body.update(Text("no flow selected", style="dim"))


class _Tab(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static(classes="body")

    @property
    def body(self) -> Static:
        return self.query_one(".body", Static)

    def show(self, ctx: DetailContext) -> None:
        raise NotImplementedError


class ObserverTab(_Tab):
    """What a passive observer reads beside what TLS hides; `o` switches to what the endpoints see."""

    def show(self, ctx: DetailContext) -> None:
        if ctx.view is None or ctx.flow is None:
            _none(self.body)
            return
        if ctx.endpoint:
            self.body.update(_endpoint_view(ctx.flow, ctx.revealed))
            return
        obs = ctx.view.observer
        t = Table(
            expand=True, box=None, title=Text("the observer's view (o: the endpoints' view)", style="dim")
        )
        t.add_column(Text("anyone on the path reads", style="bold red"), ratio=1)
        hidden = "TLS hides" + (" (the key log unlocked it: see the endpoints' view)" if obs.unlocked else "")
        t.add_column(Text(hidden, style="bold green"), ratio=1)
        left = [Text.assemble((visible(i.item), "bold"), ": ", visible(i.value)) for i in obs.visible]
        right = [Text.assemble((visible(i.item), "bold"), ": ", visible(i.value)) for i in obs.hidden]
        for k in range(max(len(left), len(right))):
            t.add_row(left[k] if k < len(left) else Text(""), right[k] if k < len(right) else Text(""))
        self.body.update(t)


def _endpoint_view(flow: Flow, revealed: bool) -> Table:
    t = Table(expand=True, box=None, title=Text("the endpoints' view (o: the observer's view)", style="dim"))
    t.add_column(Text("what the client and server exchanged", style="bold"), ratio=1)
    tls = flow.tls
    if tls is not None and tls.client_hello is not None and tls.client_hello.server_name:
        t.add_row(Text.assemble(("site: ", "bold"), visible(tls.client_hello.server_name)))
    if tls is not None and not tls.decrypted and not any(not h.inside_tls for h in flow.http):
        t.add_row(Text("encrypted: without a key log even tlsinspect reads no content", style="dim"))
    for h in flow.http[:MAX_HTTP]:
        where = "inside TLS" if h.inside_tls else "CLEARTEXT"
        uri = uri_value(h.uri or "", revealed).text
        line = f"{h.method or '?'} {h.host or ''}{uri} -> {h.status or '(no response)'}  [{where}]"
        t.add_row(Text(visible(line), style="bold" if h.inside_tls else "bold red"))
    for e in flow.exposures:
        shown = exposure_value(e.kind, e.value, revealed)
        t.add_row(Text.assemble(("  secret ", "red"), (visible(e.kind), "bold"), ": ", visible(shown.text)))
    return t


class LadderTab(Vertical):
    """The handshake as a ladder, each message opening to its fields."""

    def compose(self) -> ComposeResult:
        yield Static(classes="summary")
        yield Tree(Text("handshake"), classes="ladder")

    def show(self, ctx: DetailContext) -> None:
        summary = self.query_one(".summary", Static)
        tree = self.query_one(Tree)
        tree.clear()
        flow = ctx.flow
        if flow is None or flow.tls is None:
            summary.update(Text("no TLS handshake in this flow", style="dim"))
            return
        lad = ladder(flow.tls)
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        for k, v in lad.summary:
            style = "bold red" if k == "forward secrecy" and lad.forward_secrecy is False else ""
            head.add_row(k, Text(visible(v), style=style))
        summary.update(head)
        tree.root.set_label(Text(f"client {flow.client}{' ' * 8}server {flow.server}", style="bold"))
        for r in lad.rungs:
            arrow = f"{r.label} ──▶" if r.sender == "client" else f"{' ' * 24}◀── {r.label}"
            style = "dim italic" if r.encrypted else ("bold" if "Hello" in r.label else "")
            node = tree.root.add(Text(f"frame {r.frame:>6}  {arrow}", style=style), expand=False)
            for name, value in r.fields:
                node.add_leaf(Text.assemble((visible(name), "bold"), ": ", visible(value)))
        if lad.left_out:
            tree.root.add_leaf(Text(f"... {lad.left_out} more messages not drawn", style="dim"))
        tree.root.expand()


class CertificatesTab(Vertical):
    """The chain from leaf to root, each node with its verdict and why."""

    def compose(self) -> ComposeResult:
        yield Static(classes="summary")
        yield Tree(Text("chain"), classes="chain")

    def show(self, ctx: DetailContext) -> None:
        summary = self.query_one(".summary", Static)
        tree = self.query_one(Tree)
        tree.clear()
        chain = chain_view(ctx.flow) if ctx.flow is not None else None
        if chain is None:
            vis = ctx.flow.tls.certificates_visibility if ctx.flow is not None and ctx.flow.tls else ""
            why = " (sent encrypted: TLS 1.3 hides the certificate)" if vis == "encrypted" else ""
            summary.update(Text("no certificate seen" + why, style="dim"))
            return
        ok = chain.verdict.startswith("trusted, name matches")
        lines = [Text(chain.verdict, style="bold green" if ok else "bold red")]
        lines += [Text(f"  why: {r}", style="red") for r in chain.reasons]
        lines.append(Text(f"the chain was sent {chain.visibility}", style="dim"))
        summary.update(Text("\n").join(lines))
        node = tree.root
        tree.root.set_label(Text("server certificate chain (leaf first)", style="bold"))
        for n in chain.nodes:
            mark = "✓" if n.verdict == "ok" else "✗"
            days = (
                ""
                if n.days_left is None
                else f", {n.days_left} days left"
                if n.days_left >= 0
                else f", expired {-n.days_left} days before the capture"
            )
            node = node.add(
                Text(f"{mark} {n.title}: {n.subject}", style="bold" if n.verdict == "ok" else "bold red"),
                expand=True,
            )
            for k, v in (
                ("issuer", n.issuer),
                ("valid", n.validity + days),
                ("names", n.names),
                ("key", n.key),
                ("signature", n.signature),
                ("verdict", n.verdict),
            ):
                node.add_leaf(
                    Text.assemble((k, "bold"), ": ", (v, "red" if k == "verdict" and v != "ok" else ""))
                )
        if chain.left_out:
            tree.root.add_leaf(Text(f"... {chain.left_out} more certificates not drawn", style="dim"))
        tree.root.expand_all()


class HttpTab(_Tab):
    """The flow's requests and responses, and the flows on the other side of TLS for the same host."""

    def show(self, ctx: DetailContext) -> None:
        flow = ctx.flow
        if flow is None:
            _none(self.body)
            return
        t = Table(expand=True, box=None)
        t.add_column("frame", justify="right", style="dim")
        t.add_column("request", ratio=2)
        t.add_column("response", ratio=1)
        t.add_column("seen", style="bold")
        for h in flow.http[:MAX_HTTP]:
            uri = uri_value(h.uri or "", ctx.revealed).text
            req = Text(visible(f"{h.method or ''} {h.host or ''}{uri} {h.version or ''}".strip()))
            for name, value in h.request_headers[:12]:
                shown = exposure_value("header", value, ctx.revealed) if _secret_header(name) else None
                req.append(f"\n  {visible(name)}: {visible(shown.text if shown else value)}", style="dim")
            resp = Text(visible(f"{h.status or '(none)'} {h.reason or ''}"))
            where = Text("inside TLS", style="green") if h.inside_tls else Text("CLEARTEXT", style="bold red")
            t.add_row(str(h.frame or ""), req, resp, where)
        if len(flow.http) > MAX_HTTP:
            t.add_row("", Text(f"... {len(flow.http) - MAX_HTTP} more exchanges", style="dim"), "", "")
        if not flow.http:
            t.add_row(
                "",
                Text(
                    "no HTTP seen in this flow" + (" (encrypted: give a key log)" if flow.tls else ""),
                    style="dim",
                ),
                "",
                "",
            )
        related = related_flows(flow, (ctx.flows or {}).values())
        if related:
            t.add_row("", Text("\nthe same host on the other side of TLS:", style="bold"), "", "")
            for r in related:
                kind = (
                    "TLS " + visible(r.tls.client_hello.server_name or "")
                    if r.tls and r.tls.client_hello
                    else "cleartext HTTP"
                )
                first = r.http[0] if r.http else None
                what = (
                    visible(f"{first.method} {first.host}{uri_value(first.uri or '', ctx.revealed).text}")
                    if first
                    else ""
                )
                t.add_row(
                    f"#{r.id}",
                    Text(f"{kind}  {r.client} -> {r.server}  {what}"),
                    "",
                    Text("related", style="yellow"),
                )
        self.body.update(t)


def _secret_header(name: str) -> bool:
    return name.lower() in ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key")


class FindingsTab(_Tab):
    """Each finding with its explanation and the fix (the text of `tlsinspect explain RULE`)."""

    def show(self, ctx: DetailContext) -> None:
        flow = ctx.flow
        if flow is None:
            _none(self.body)
            return
        parts: list[Text] = []
        for x in flow.findings:
            style = TONE_STYLE.get(Tone(x.severity) if x.severity in Tone.__members__.values() else None, "")
            parts.append(
                Text.assemble(
                    (f"{x.severity.upper()} ", style), (visible(x.rule), "bold"), ": ", visible(x.title)
                )
            )
            if x.detail:
                parts.append(Text("  " + visible(x.detail)))
            if x.evidence:
                parts.append(Text("  evidence: " + visible(x.evidence), style="dim"))
            try:
                parts.append(
                    Text("  " + explain(x.rule).split("\n\n", 1)[-1].replace("\n", "\n  "), style="italic")
                )
            except KeyError:
                pass
            parts.append(Text(""))
        self.body.update(Text("\n").join(parts) if parts else Text("no findings", style="dim"))


class SummaryTab(_Tab):
    """Every section of the flow's view (TLS, protection, HTTP, exposures, findings, anomalies), as the report."""

    def show(self, ctx: DetailContext) -> None:
        view = ctx.view
        if view is None:
            _none(self.body)
            return
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        for section in view.sections:
            if not section.rows:
                continue
            t.add_row(Text(section.title.upper(), style="bold underline"), Text(""))
            for row in section.rows:
                value = Text()
                for span in row.spans:
                    value.append(visible(span.text), style=TONE_STYLE.get(span.tone, ""))
                t.add_row(Text(visible(row.label), style=TONE_STYLE.get(row.label_tone, "")), value)
        self.body.update(t)


TABS: tuple[tuple[str, str, type], ...] = (
    ("observer", "Observer", ObserverTab),
    ("ladder", "Handshake", LadderTab),
    ("certificates", "Certificates", CertificatesTab),
    ("http", "HTTP", HttpTab),
    ("findings", "Findings", FindingsTab),
    ("summary", "Summary", SummaryTab),
)
"""(id, title, widget class) of each tab, in order."""


class FlowDetail(Vertical):
    """The tabs for one flow; `show` fills the visible tab and remembers the context for the others."""

    DEFAULT_CSS = """
    FlowDetail { height: 1fr; }
    FlowDetail TabbedContent { height: 1fr; }
    FlowDetail .summary { height: auto; padding: 0 1; }
    FlowDetail Tree { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.ctx = DetailContext(None, None)
        self._filled: set[str] = set()

    @property
    def flow(self) -> Flow | None:
        """The flow shown."""
        return self.ctx.flow

    @property
    def view(self) -> FlowView | None:
        return self.ctx.view

    def compose(self) -> ComposeResult:
        with TabbedContent(id="detail-tabs"):
            for key, title, cls in TABS:
                with TabPane(title, id=f"tab-{key}"):
                    yield cls(id=f"detail-{key}")

    def show(self, ctx: DetailContext) -> None:
        self.ctx = ctx
        self._filled.clear()
        self._fill(self._active())

    def _active(self) -> str:
        active = self.query_one(TabbedContent).active or "tab-observer"
        return active.removeprefix("tab-")

    def _fill(self, key: str) -> None:
        if key in self._filled:
            return
        self._filled.add(key)
        self.query_one(f"#detail-{key}").show(self.ctx)  # type: ignore[attr-defined]

    @on(TabbedContent.TabActivated)
    def _tab_opened(self, event: TabbedContent.TabActivated) -> None:
        self._fill(self._active())

    def open_tab(self, key: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{key}"
        self._fill(key)
