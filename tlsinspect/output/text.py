"""The text report: renders the presentation layer's views with rich, putting what an observer sees first.

Each flow gets a header line (id, endpoints, protocol), then the rows of its `FlowView` sections in one
two-column table: what anyone on the path can read (SNI, ALPN, version, suite, certificate names), what TLS
hides, HTTP exchanges, exposures, findings and anomalies. The capture summary closes the report. What is
shown and what is masked is decided in `tlsinspect.present`; this module only maps tones to styles.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tlsinspect.model import CaptureInfo, Flow, Summary
from tlsinspect.present import (
    FlowHeader,
    FlowView,
    Row,
    Span,
    SummaryView,
    Tone,
    capture_view,
    flow_view,
    summary_view,
)

TONE_STYLE: dict[Tone, str] = {
    Tone.MUTED: "dim",
    Tone.PUBLIC: "bold yellow",
    Tone.PROTECTED: "green",
    Tone.EXPOSED: "bold red",
    Tone.WARNING: "yellow",
    Tone.CRITICAL: "bold white on red",
    Tone.HIGH: "bold red",
    Tone.MEDIUM: "yellow",
    Tone.LOW: "cyan",
    Tone.INFO: "dim",
}
"""The rich style of each tone."""


class _Console(Console):
    """rich's Console, except that a closed pipe (`| head`) is left to the CLI, which exits 0 as documented
    (rich would exit 1 itself)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def _cell(spans: tuple[Span, ...]) -> Text:
    """A table cell. Always `Text`, never a markup string: wire values ("[/]", "[cookie ...]") print as they are."""
    if len(spans) == 1:
        only = spans[0]
        return Text(only.text, style=TONE_STYLE[only.tone] if only.tone is not None else "")
    text = Text()
    for span in spans:
        text.append(span.text, style=TONE_STYLE[span.tone] if span.tone is not None else None)
    return text


def _label(row: Row) -> Text:
    return _cell((Span(row.label, row.label_tone),))


def header_text(h: FlowHeader) -> Text:
    """The flow's header line."""
    head = Text()
    head.append(f"#{h.id} ", style="bold")
    head.append(f"{h.client} → {h.server} ", style="bold cyan")
    head.append(f"{h.transport}/{h.protocol}", style="magenta")
    head.append(f"  frames {h.first_frame}-{h.last_frame}  {h.first_seen}  ", style="dim")
    head.append(f"↑{h.bytes_client} B ↓{h.bytes_server} B", style="dim")
    return head


def rows_table(view: FlowView) -> Table:
    """Every row of the view, section after section, in one label/value table."""
    t = Table(show_header=False, box=None, pad_edge=False, padding=(0, 1))
    t.add_column(style="dim", width=26)
    t.add_column()
    for row in view.rows:
        t.add_row(_label(row), _cell(row.spans))
    return t


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
        self.console.print(Text(capture_view(info, tool_version).title, style="bold"))

    def flow(self, f: Flow) -> None:
        self.render_flow(flow_view(f, show_secrets=self.show_secrets))

    def render_flow(self, view: FlowView) -> None:
        """Render one flow's view (the header line, then its rows)."""
        self.console.print(header_text(view.header))
        table = rows_table(view)
        if table.row_count:
            self.console.print(table)
        self.console.print()

    def summary(self, s: Summary) -> None:
        self.render_summary(summary_view(s))

    def render_summary(self, v: SummaryView) -> None:
        """Render the summary: counts, findings per severity, then notes about the capture."""
        c = self.console
        c.rule("summary")
        c.print(Text(v.totals))
        if v.findings is not None:
            c.print(Text(v.findings))
        if v.evicted is not None:
            c.print(Text(v.evicted, style=TONE_STYLE[Tone.WARNING]))
        for line in v.capture_errors:
            c.print(Text(line, style=TONE_STYLE[Tone.WARNING]))
        for line in v.capture_anomalies:
            c.print(Text(line, style=TONE_STYLE[Tone.MUTED]))
