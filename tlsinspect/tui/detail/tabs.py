"""The detail tabs. Each is a widget with `fill(ctx)`, called only when its tab is visible and the flow (or the
reveal / endpoint switch) changed since it was last filled. They only lay out the view models of
`tlsinspect.present` (ladder, chain, related, exchanges, findings, observer); wire text goes in as `Text`."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static
from textual.widgets.tree import TreeNode

from tlsinspect.model import Flow
from tlsinspect.present import FlowView, flow_view
from tlsinspect.present.chain import ChainNode, chain_view
from tlsinspect.present.exchanges import ExchangeView, endpoint_view, exchanges_view
from tlsinspect.present.findings import finding_views
from tlsinspect.present.ladder import Field, LadderRow, ladder_view
from tlsinspect.present.related import FlowLookup, related_flows
from tlsinspect.present.values import visible
from tlsinspect.tui.detail.text import (
    SEVERITY_STYLE,
    TONE_STYLE,
    WireTree,
    labelled,
    lines,
    shown,
    wire,
)

MAX_RELATED_EXCHANGES = 10
"""Exchanges of each related flow shown beside this flow's."""
MAX_OWN_EXCHANGES = 30
"""Exchanges of the flow shown with their headers (painting is what costs, not the view)."""
MAX_SECTION_ROWS = 50
"""Rows of one Summary section shown before "N more"."""


@dataclass
class DetailContext:
    """What a tab needs: the flow, whether its secrets are revealed, the observer/endpoint switch, the store."""

    flow: Flow | None
    revealed: bool = False
    endpoint: bool = False
    lookup: FlowLookup | None = None
    _view: FlowView | None = field(default=None, repr=False)

    @property
    def view(self) -> FlowView | None:
        if self._view is None and self.flow is not None:
            self._view = flow_view(self.flow, show_secrets=self.revealed)
        return self._view


def _none() -> Text:
    return Text("no flow selected", style="dim")


class BodyTab(VerticalScroll):
    """A scrolling Static the tab fills with one renderable."""

    def compose(self) -> ComposeResult:
        yield Static(classes="body")

    @property
    def body(self) -> Static:
        return self.query_one(".body", Static)

    def fill(self, ctx: DetailContext) -> None:
        self.body.update(self.render_flow(ctx) if ctx.flow is not None else _none())

    def render_flow(self, ctx: DetailContext) -> RenderableType:
        raise NotImplementedError


# ----------------------------------------------------------------------------------------------- observer


class ObserverTab(BodyTab):
    """What a passive observer reads beside what TLS hides; `o` switches to what the endpoints read."""

    def render_flow(self, ctx: DetailContext) -> RenderableType:
        assert ctx.flow is not None
        return self._endpoint(ctx) if ctx.endpoint else self._observer(ctx)

    def _observer(self, ctx: DetailContext) -> RenderableType:
        assert ctx.view is not None
        obs = ctx.view.observer
        title = Text("OBSERVER VIEW", style="bold reverse")
        title.append("  what anyone on the path reads · o: the endpoint's view", style="dim")
        t = Table(expand=True, box=None)
        t.add_column(Text("anyone on the path reads", style="bold red"), ratio=1)
        hides = "TLS hides" + (" (unlocked here by the key log)" if obs.unlocked else "")
        t.add_column(Text(hides, style="bold green"), ratio=1)
        left = []
        for i in obs.visible:
            if i.values:
                value = Text(", ").join(shown(v) for v in i.values[:3])
                if len(i.values) > 3:
                    value.append(f" (+{len(i.values) - 3} more)")
            else:
                value = wire(i.value)
            left.append(labelled(visible(i.item), value))
        right = [labelled(visible(i.item), wire(i.value), "bold green") for i in obs.hidden]
        for k in range(max(len(left), len(right))):
            t.add_row(left[k] if k < len(left) else Text(""), right[k] if k < len(right) else Text(""))
        return Group(title, t)

    def _endpoint(self, ctx: DetailContext) -> RenderableType:
        assert ctx.flow is not None
        ev = endpoint_view(ctx.flow, show_secrets=ctx.revealed)
        title = Text("ENDPOINT VIEW", style="bold reverse green")
        title.append("  what the client and server read · o: the observer's view", style="dim")
        out: list[RenderableType] = [title, Text(ev.summary, style="green" if ev.readable else "yellow")]
        if not ev.items:
            out.append(Text("no HTTP content or secrets were read on this flow", style="dim"))
        for item in ev.items:
            if item.item.strip() == "request body":
                out.append(Text.assemble(("  request body:", "bold"), "\n", lines(item.value.text)))
                continue
            out.append(labelled(item.item, shown(item.value)))
        if ev.omitted:
            out.append(Text(f"... {ev.omitted} more requests not shown", style="dim"))
        return Group(*out)


# ----------------------------------------------------------------------------------------------- ladder

ARROW_WIDTH = 40
KIND_STYLE = {
    "handshake": "",
    "encrypted": "dim italic",
    "ccs": "dim",
    "alert": "bold red",
    "data": "cyan",
}


def arrow(row: LadderRow, width: int = ARROW_WIDTH) -> Text:
    """ "── ClientHello ──────▶" (client to server) or "◀────── ServerHello ──", shaded when encrypted."""
    name = f" {visible(row.label)} "
    fill = "░" if row.kind == "encrypted" else "─"
    room = max(0, width - len(name) - 1)
    if row.sender == "client":
        body = fill * 2 + name + fill * max(0, room - 2) + "▶"
    else:
        body = "◀" + fill * max(0, room - 2) + name + fill * 2
    return Text(body, style=KIND_STYLE.get(row.kind, ""))


def row_label(row: LadderRow) -> Text:
    frame = f"{row.frame:>6}" if row.frame is not None else "     -"
    t = Text(("" if row.fields else "  ") + frame, style="dim")  # aligned with the rows that open
    t.append("  ")
    t.append_text(arrow(row))
    t.append("  ")
    t.append(visible(row.detail), style="dim" if row.kind in ("encrypted", "ccs") else "")
    if row.decrypted:
        t.append("  [decrypted]", style="green")
    return t


def field_label(f: Field) -> Text:
    t = Text(visible(f.label), style="bold")
    if f.value:
        t.append(": ")
        t.append(visible(f.value), style="magenta" if f.grease else "")
    if f.grease:
        t.append("  (GREASE: a random value that keeps servers tolerant)", style="dim magenta")
    return t


class LadderTab(Vertical):
    """The handshake facts above a tree of arrows; Enter opens a message into its fields."""

    DEFAULT_CSS = """
    LadderTab > #ladder-facts { height: auto; max-height: 12; }
    LadderTab > WireTree { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="ladder-facts")
        yield WireTree(Text("handshake"), id="ladder-tree")

    def fill(self, ctx: DetailContext) -> None:
        facts = self.query_one("#ladder-facts", Static)
        tree = self.query_one("#ladder-tree", WireTree)
        tree.clear()
        view = ladder_view(ctx.flow) if ctx.flow is not None else None
        if view is None:
            facts.update(
                _none() if ctx.flow is None else Text("no TLS on this flow: no handshake", style="dim")
            )
            tree.root.set_label(Text(""))
            return
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        for fact in view.facts:
            t.add_row(Text(fact.label), wire(fact.value, "bold red" if fact.bad else ""))
        parts: list[RenderableType] = [t]
        if view.note:
            parts.append(Text(view.note, style="yellow"))
        facts.update(Group(*parts))
        head = Text("   frame  ", style="bold")
        head.append("client".ljust(ARROW_WIDTH - 6) + "server", style="bold")
        tree.root.set_label(head)
        for row in view.rows:
            node = tree.root.add(row_label(row), expand=False, allow_expand=bool(row.fields))
            for f in row.fields:
                _add_field(node, f)
        if view.omitted:
            tree.root.add_leaf(Text(f"... {view.omitted} more records not shown", style="dim"))
        tree.root.expand()


def _add_field(parent: TreeNode[None], f: Field) -> None:
    node = parent.add(field_label(f), expand=False, allow_expand=bool(f.children))
    for c in f.children:
        _add_field(node, c)


# ----------------------------------------------------------------------------------------------- certificates


def node_label(n: ChainNode) -> Text:
    mark, style = {True: ("✓", "green"), False: ("✗", "bold red"), None: ("?", "dim")}[n.ok]
    t = Text(f"{mark} ", style=style)
    t.append(f"{n.role}: ", style="bold")
    t.append(visible(n.subject))
    return t


def validity(n: ChainNode) -> str:
    span = f"{n.not_before[:10]} .. {n.not_after[:10]}"
    if n.days_left is None:
        return span
    if n.days_left < 0:
        return f"{span}  (expired {-n.days_left} days before the capture)"
    return f"{span}  ({n.days_left} days left at the capture)"


class CertificatesTab(Vertical):
    """The chain from leaf to root as a tree, each node with its verdict and the reasons in plain words."""

    DEFAULT_CSS = """
    CertificatesTab > #chain-verdict { height: auto; }
    CertificatesTab > WireTree { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="chain-verdict")
        yield WireTree(Text("chain"), id="chain-tree")

    def fill(self, ctx: DetailContext) -> None:
        verdict = self.query_one("#chain-verdict", Static)
        tree = self.query_one("#chain-tree", WireTree)
        tree.clear()
        if ctx.flow is None:
            verdict.update(_none())
            return
        cv = chain_view(ctx.flow)
        style = {True: "bold green", False: "bold red", None: "dim"}[cv.ok]
        head = Text.assemble(("chain: ", "bold"), (visible(cv.verdict), style))
        parts: list[RenderableType] = [head]
        for e in cv.errors:
            parts.append(Text.assemble(("  validator: ", "dim"), (visible(e), "red")))
        verdict.update(Group(*parts))
        tree.root.set_label(Text("leaf → root", style="bold"))
        parent = tree.root
        for n in cv.nodes:
            parent = self._add_node(parent, n)
        if cv.anchor:
            parent.add_leaf(wire(cv.anchor, "dim"))
        if cv.omitted:
            parent.add_leaf(Text(f"... {cv.omitted} more certificates not shown", style="dim"))
        if cv.client:
            client = tree.root.add(Text("client certificate (mutual TLS)", style="bold"), expand=True)
            for n in cv.client:
                client = self._add_node(client, n)
        tree.root.expand_all()

    @staticmethod
    def _add_node(parent: TreeNode[None], n: ChainNode) -> TreeNode[None]:
        node = parent.add(node_label(n), expand=True)
        for reason in n.reasons:
            node.add_leaf(Text.assemble(("why: ", "bold red"), (visible(reason), "red")))
        node.add_leaf(labelled("issuer", n.issuer))
        node.add_leaf(labelled("valid", validity(n)))
        if n.san:
            more = f" (+{len(n.san) - 8} more)" if len(n.san) > 8 else ""
            node.add_leaf(labelled("SAN", ", ".join(n.san[:8]) + more))
        node.add_leaf(labelled("key", n.key))
        node.add_leaf(labelled("signature", n.signature))
        node.add_leaf(labelled("sha256", n.sha256, "dim"))
        return node


# ----------------------------------------------------------------------------------------------- HTTP


def exchange_text(x: ExchangeView, headers: bool = True) -> Text:
    where = Text(" inside TLS", style="green") if x.inside_tls else Text(" CLEARTEXT", style="bold red")
    t = Text.assemble((f"frame {x.frame}", "dim"), " ", (visible(x.request), "bold"), shown(x.uri, "bold"))
    t.append(f" → {visible(x.status)}")
    t.append_text(where)
    if headers:
        for h in x.request_headers:
            t.append("\n  > ")
            t.append(visible(h.name), style="bold")
            t.append(": ")
            t.append_text(shown(h.value))
        if x.request_body is not None:
            t.append(f"\n  > body ({x.request_body_len} B):\n")
            t.append_text(lines(x.request_body.text, "magenta" if x.request_body.masked else "", "    "))
        for h in x.response_headers:
            t.append("\n  < ")
            t.append(visible(h.name), style="bold")
            t.append(": ")
            t.append_text(shown(h.value))
        if x.response_body is not None:
            t.append(f"\n  < body ({x.response_body_len} B):\n")
            t.append_text(lines(x.response_body.text, "magenta" if x.response_body.masked else "", "    "))
    return t


class HttpTab(Horizontal):
    """This flow's requests and responses beside the related cleartext flows (same host, a proxy's hop)."""

    DEFAULT_CSS = """
    HttpTab > VerticalScroll { width: 1fr; }
    HttpTab > #http-related { border-left: vkey $foreground 30%; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="http-own"):
            yield Static(id="http-own-body")
        with VerticalScroll(id="http-related"):
            yield Static(id="http-related-body")

    def fill(self, ctx: DetailContext) -> None:
        own = self.query_one("#http-own-body", Static)
        rel = self.query_one("#http-related-body", Static)
        flow = ctx.flow
        if flow is None:
            own.update(_none())
            rel.update(Text(""))
            return
        xv = exchanges_view(flow, show_secrets=ctx.revealed, limit=MAX_OWN_EXCHANGES)
        parts: list[RenderableType] = [Text(f"THIS FLOW #{flow.id}: {xv.total} exchanges", style="bold")]
        if not xv.exchanges:
            why = (
                "encrypted: give a key log to read them"
                if flow.tls is not None and not flow.tls.decrypted
                else ""
            )
            parts.append(Text(f"no HTTP seen{': ' + why if why else ''}", style="dim"))
        for x in xv.exchanges:
            parts.append(exchange_text(x))
        if xv.omitted:
            parts.append(Text(f"... {xv.omitted} more exchanges not shown", style="yellow"))
        own.update(Group(*parts))
        rel.update(self._related(ctx, flow))

    def _related(self, ctx: DetailContext, flow: Flow) -> RenderableType:
        lookup = ctx.lookup
        head = Text("RELATED FLOWS", style="bold")
        if lookup is None:
            return Group(head, Text("(no store)", style="dim"))
        related = related_flows(flow, lookup.flows.values())
        if not related:
            return Group(head, Text("none: no other flow shares its host, secrets or requests", style="dim"))
        parts: list[RenderableType] = [head]
        for r in related:
            other = lookup.flows.get(r.flow_id)
            if other is None:
                continue
            kind = "TLS" if other.tls is not None else "cleartext"
            style = "bold green" if other.tls is not None else "bold red"
            line = Text.assemble(
                (f"#{other.id} ", "bold"), (kind, style), " ", wire(f"{other.client} → {other.server}")
            )
            parts.append(line)
            for why in r.why:
                parts.append(Text(f"  {visible(why)}", style="dim"))
            xv = exchanges_view(other, show_secrets=ctx.revealed, limit=MAX_RELATED_EXCHANGES)
            for x in xv.exchanges:
                parts.append(exchange_text(x, headers=False))
            if xv.omitted:
                parts.append(Text(f"  ... {xv.omitted} more exchanges", style="dim"))
        return Group(*parts)


# ----------------------------------------------------------------------------------------------- findings


class FindingsTab(BodyTab):
    """Severity, title, what was seen, and the rule's explanation and fix (`tlsinspect explain RULE`)."""

    def render_flow(self, ctx: DetailContext) -> RenderableType:
        assert ctx.flow is not None
        views = finding_views(ctx.flow)
        if not views:
            return Text("no findings on this flow", style="dim")
        parts: list[RenderableType] = []
        for v in views:
            sev = Text(f" {v.severity.upper()} ", style=SEVERITY_STYLE.get(v.severity, "") + " reverse")
            parts.append(Text.assemble(sev, " ", (v.title, "bold"), "  ", (v.rule, "dim")))
            parts.append(Text.assemble("  ", wire(v.detail)))
            if v.evidence:
                parts.append(Text.assemble(("  seen: ", "bold"), wire(v.evidence)))
            if v.explanation:
                parts.append(Text.assemble(("  why it matters: ", "bold"), v.explanation))
            if v.fix:
                parts.append(Text.assemble(("  fix: ", "bold green"), v.fix))
            parts.append(Text(""))
        return Group(*parts)


# ----------------------------------------------------------------------------------------------- summary


class SummaryTab(BodyTab):
    """Every section of the flow's view (TLS, protection, HTTP, exposures, findings, anomalies), as the report."""

    def render_flow(self, ctx: DetailContext) -> RenderableType:
        view = ctx.view
        assert view is not None
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        for section in view.sections:
            if not section.rows:
                continue
            t.add_row(Text(section.title.upper(), style="bold underline"), Text(""))
            for row in section.rows[:MAX_SECTION_ROWS]:
                value = Text()
                for span in row.spans:
                    value.append(visible(span.text), style=TONE_STYLE.get(span.tone, ""))
                t.add_row(Text(visible(row.label), style=TONE_STYLE.get(row.label_tone, "")), value)
            if len(section.rows) > MAX_SECTION_ROWS:
                more = f"... {len(section.rows) - MAX_SECTION_ROWS} more rows not shown"
                t.add_row(Text(""), Text(more, style="yellow"))
        return t
