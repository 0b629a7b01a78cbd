"""The statistics screen: bar charts of the shown (filtered) flows, one box per tally of `present.stats`, two or
three boxes a row on a wide terminal, one on a narrow one. Bars are text (blocks) beside the count and the
share, so nothing is told by colour alone; labels go in as `Text` (never markup)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Static

from tlsinspect.present.stats import FlowStats, Tally, bar


class TallyBox(Widget):
    """One tally: a line per item, `label  bar  count  share`, fitted to the box's width."""

    DEFAULT_CSS = """
    TallyBox { height: auto; border: round $panel-lighten-2; padding: 0 1; border-title-style: bold; }
    """

    def __init__(self, tally: Tally, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.tally = tally
        self.border_title = f"{tally.title} · {tally.total} {tally.unit}"

    def set_tally(self, tally: Tally) -> None:
        self.tally = tally
        self.border_title = f"{tally.title} · {tally.total} {tally.unit}"
        self.refresh(layout=True)

    def render(self) -> Text:
        t = self.tally
        width = max(self.content_size.width, 20)
        if not t.items:
            return Text("none", style="italic")
        counts = max(len(str(i.count)) for i in t.items)
        label_w = min(max(len(i.label) for i in t.items), max(8, width - counts - 7 - 10))
        bar_w = max(1, width - label_w - counts - 7)
        out = Text(no_wrap=True, overflow="ellipsis")
        for n, item in enumerate(t.items):
            label = item.label if len(item.label) <= label_w else item.label[: label_w - 1] + "…"
            share = 100 * item.count / t.total if t.total else 0
            if n:
                out.append("\n")
            out.append(label.ljust(label_w))
            out.append(" ")
            out.append(bar(item.count, t.peak, bar_w).ljust(bar_w), style="bold")
            out.append(f" {item.count:>{counts}} {share:3.0f}%")
        if t.more:
            out.append(f"\n… {t.more} more ({t.more_count} {t.unit})", style="italic")
        return out


class StatsScreen(Screen[None]):
    """Statistics of the shown flows (the filter applies); updated as flows arrive."""

    HELP_TITLE = "Statistics screen"
    DEFAULT_CSS = """
    StatsScreen #stats-scope { height: auto; padding: 0 1; background: $panel; }
    StatsScreen #stats-grid { grid-size: 2; grid-gutter: 0 1; height: auto; padding: 0 1; }
    StatsScreen #stats-grid.narrow { grid-size: 1; }
    StatsScreen #stats-grid.wide { grid-size: 3; }
    """
    BINDINGS = [
        Binding("escape,q,i", "close", "Close"),
        Binding("j,down", "scroll(1)", "Scroll down", show=False),
        Binding("k,up", "scroll(-1)", "Scroll up", show=False),
    ]

    def __init__(self, stats: FlowStats, scope: str) -> None:
        super().__init__()
        self.stats = stats
        self.scope = scope

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._scope_text(), id="stats-scope")
        with VerticalScroll(id="stats-body"), Grid(id="stats-grid"):
            for tally in self.stats.tallies:
                box = TallyBox(tally, id=f"tally-{tally.key}")
                yield box
        yield Footer()

    def _scope_text(self) -> Text:
        s = self.stats
        return Text.assemble((f"{s.flows} flows", "bold"), f", {s.tls_flows} with TLS", " · ", self.scope)

    def update(self, stats: FlowStats, scope: str) -> None:
        """New numbers (flows arrived, or the filter changed)."""
        self.stats, self.scope = stats, scope
        self.query_one("#stats-scope", Static).update(self._scope_text())
        for tally in stats.tallies:
            self.query_one(f"#tally-{tally.key}", TallyBox).set_tally(tally)

    def on_resize(self) -> None:
        grid = self.query_one("#stats-grid", Grid)
        width = self.size.width
        grid.set_class(width < 100, "narrow")
        grid.set_class(width >= 180, "wide")

    def action_close(self) -> None:
        self.dismiss()

    def action_scroll(self, lines: int) -> None:
        self.query_one("#stats-body", VerticalScroll).scroll_relative(y=lines, animate=False)
