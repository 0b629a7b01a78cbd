"""The detail pane of the selected flow: one tab per view of it. Each tab is a widget with a `show(flow,
view)` method the pane calls when the selection or the flow changes; wire text always goes in as `Text`
(never markup), already made inert by the presentation layer."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from tlsinspect.model import Flow
from tlsinspect.present import FlowView, Tone
from tlsinspect.present.values import visible

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


class SectionsTab(VerticalScroll):
    """Every section of the flow's view (TLS, protection, HTTP, exposures, findings, anomalies) as tables."""

    def compose(self) -> ComposeResult:
        yield Static(id="sections-body")

    def show(self, flow: Flow | None, view: FlowView | None) -> None:
        body = self.query_one("#sections-body", Static)
        if view is None:
            body.update(Text("no flow selected", style="dim"))
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
        body.update(t)


class ObserverTab(VerticalScroll):
    """What a passive observer reads beside what TLS hides (and what a key log unlocked)."""

    def compose(self) -> ComposeResult:
        yield Static(id="observer-body")

    def show(self, flow: Flow | None, view: FlowView | None) -> None:
        body = self.query_one("#observer-body", Static)
        if view is None:
            body.update(Text("no flow selected", style="dim"))
            return
        obs = view.observer
        t = Table(expand=True, show_lines=False, box=None)
        t.add_column(Text("anyone on the path reads", style="bold red"), ratio=1)
        t.add_column(
            Text("TLS hides" + (" (unlocked by the key log)" if obs.unlocked else ""), style="bold green"),
            ratio=1,
        )
        left = [Text.assemble((visible(i.item), "bold"), ": ", visible(i.value)) for i in obs.visible]
        right = [Text.assemble((visible(i.item), "bold"), ": ", visible(i.value)) for i in obs.hidden]
        for k in range(max(len(left), len(right))):
            t.add_row(left[k] if k < len(left) else Text(""), right[k] if k < len(right) else Text(""))
        body.update(t)


TABS: tuple[tuple[str, str, type], ...] = (
    ("observer", "Observer", ObserverTab),
    ("summary", "Summary", SectionsTab),
)
"""(id, title, widget class) of each tab, in order."""


class FlowDetail(TabbedContent):
    """The tabs for one flow; `show` fills the visible tab and remembers the flow for the others."""

    DEFAULT_CSS = """
    FlowDetail { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.flow: Flow | None = None
        self.view: FlowView | None = None

    def compose(self) -> ComposeResult:
        for key, title, cls in TABS:
            with TabPane(title, id=f"tab-{key}"):
                yield cls(id=f"detail-{key}")

    def show(self, flow: Flow | None, view: FlowView | None) -> None:
        self.flow, self.view = flow, view
        for key, _title, _cls in TABS:
            self.query_one(f"#detail-{key}").show(flow, view)  # type: ignore[attr-defined]
