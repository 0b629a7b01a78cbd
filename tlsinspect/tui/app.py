"""The Textual TUI: the flow list beside the detail of the selected flow, filled while the capture is read.

The App is one more consumer of the session layer (style guide §8): a worker thread drives
`Session.batches()` and posts each batch as a `SessionBatch` message (the only thing it does with the UI);
the App feeds its `FlowStore`, tells the list which rows changed and refreshes the detail if the selected
flow changed. Widgets never block and never read the engine.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Header, Input, Static
from textual.worker import get_current_worker

from tlsinspect.errors import CaptureError
from tlsinspect.model import SEVERITIES, Flow
from tlsinspect.present import flow_view
from tlsinspect.session import (
    CaptureEnded,
    CaptureStarted,
    FlowFinished,
    FlowUpdated,
    Progress,
    Session,
)
from tlsinspect.tui.detail import DETAIL_BINDINGS, FlowDetail
from tlsinspect.tui.flow_list import FlowList, header_text
from tlsinspect.tui.messages import SessionBatch, SessionFailed
from tlsinspect.tui.store import FlowStore

TOAST_FROM = SEVERITIES.index("high")
"""Findings at or above this severity raise a toast while a live capture runs."""


class TlsInspectApp(App[int]):
    TITLE = "tlsinspect"
    CSS = """
    #list-pane { height: 45%; min-height: 6; }
    #list-header { height: 1; background: $panel; text-style: bold; }
    #filter { dock: top; display: none; }
    #filter.visible { display: block; }
    #filter.-invalid { border: tall $error; }
    #status { height: 1; background: $panel; color: $text-muted; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("slash,f", "filter", "Filter"),
        Binding("escape", "close_filter", "Close filter", show=False),
        Binding("tab", "focus_next", "Next pane", show=False),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse", show=False),
    ]

    def __init__(
        self,
        make_session: Callable[[], Session],
        *,
        source_name: str = "",
        live: bool = False,
        show_secrets: bool = False,
        initial_filter: str = "",
    ) -> None:
        super().__init__()
        self.make_session = make_session
        self.source_name = source_name
        self.live = live
        self.show_secrets = show_secrets
        self.initial_filter = initial_filter
        self.store = FlowStore()
        self.session: Session | None = None
        self.progress: Progress | None = None
        self.ended: CaptureEnded | None = None
        self.error: str | None = None
        self.sort_index = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(
            placeholder="filter: sni:*.example.com and version<1.3 ... (Enter applies, Esc closes)",
            id="filter",
        )
        with Vertical(id="list-pane"):
            yield Static(id="list-header")
            yield FlowList(self.store, id="flows")
        yield FlowDetail(id="detail")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.source_name
        self.query_one("#list-header", Static).update(Text(header_text(max(20, self.size.width))))
        self.query_one(FlowList).focus()
        if self.initial_filter:
            self.apply_filter(self.initial_filter)
        self._status()
        self.run_session()

    # -- the worker -----------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="capture", exit_on_error=False)
    def run_session(self) -> None:
        worker = get_current_worker()
        try:
            session = self.make_session()
            self.session = session
            with session:
                for batch in session.batches():
                    self.post_message(SessionBatch(batch))
                    if worker.is_cancelled:
                        session.stop("closed")
        except CaptureError as e:
            self.post_message(SessionFailed(str(e)))

    def on_unmount(self) -> None:
        if self.session is not None:
            self.session.stop("closed")

    @on(SessionBatch)
    def take_batch(self, message: SessionBatch) -> None:
        updated, finished = [], []
        for e in message.events:
            if isinstance(e, FlowUpdated):
                updated.append(e.flow)
            elif isinstance(e, FlowFinished):
                finished.append(e.flow)
            elif isinstance(e, Progress):
                self.progress = e
            elif isinstance(e, CaptureStarted):
                self.sub_title = f"{e.info.source} ({e.info.format})"
            elif isinstance(e, CaptureEnded):
                self.ended = e
        changed = self.store.upsert(updated) | self.store.upsert(finished, finished=True)
        flows = self.query_one(FlowList)
        flows.reload(changed)
        if self.live:
            self._toast(finished)
        selected = flows.flow_id
        if selected is not None and selected in changed:
            self._show(selected)
        self._status()

    @on(SessionFailed)
    def failed(self, message: SessionFailed) -> None:
        self.error = message.message
        self.notify(message.message, title="cannot read", severity="error", timeout=30)
        self._status()

    def _toast(self, flows: list[Flow]) -> None:
        for f in flows:
            worst = max((SEVERITIES.index(x.severity) for x in f.findings), default=-1)
            if worst >= TOAST_FROM:
                x = max(f.findings, key=lambda x: SEVERITIES.index(x.severity))
                self.notify(
                    f"#{f.id} {x.severity.upper()}: {x.title}", title=x.rule, severity="warning", markup=False
                )

    # -- selection and detail -------------------------------------------------------------------------------

    @on(FlowList.Highlighted)
    def highlighted(self, message: FlowList.Highlighted) -> None:
        self._show(message.flow_id)

    @on(FlowList.Chosen)
    def chosen(self, message: FlowList.Chosen) -> None:
        self.query_one(FlowDetail).focus()

    def _show(self, fid: int | None) -> None:
        flow = self.store.flows.get(fid) if fid is not None else None
        view = flow_view(flow, show_secrets=self.show_secrets) if flow is not None else None
        self.query_one(FlowDetail).show(flow, view)

    # -- the detail pane's keys (o, r: tlsinspect.tui.detail owns what they do) ------------------------------

    BINDINGS = [*BINDINGS, *DETAIL_BINDINGS]

    def action_detail(self, name: str) -> None:
        self.query_one(FlowDetail).run_key(name)

    # -- filter and sort ------------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("visible")
        self.query_one(FlowList).focus()

    @on(Input.Changed, "#filter")
    def filter_typed(self, event: Input.Changed) -> None:
        from tlsinspect.analysis.query import validate

        problem = validate(event.value)
        event.input.set_class(problem is not None, "-invalid")
        event.input.tooltip = str(problem) if problem is not None else None

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        if self.apply_filter(event.value):
            self.action_close_filter()

    def apply_filter(self, text: str) -> bool:
        from tlsinspect.analysis.query import QueryError, compile_query

        try:
            query = compile_query(text) if text.strip() else None
        except QueryError as e:
            self.notify(str(e), title="filter", severity="error", markup=False)
            return False
        self.store.set_filter(query)
        self.query_one(FlowList).reload()
        self._status()
        return True

    def action_sort(self) -> None:
        from tlsinspect.present.rows import COLUMNS

        self.sort_index = (self.sort_index + 1) % len(COLUMNS)
        self.store.set_sort(COLUMNS[self.sort_index].key, self.store.reverse)
        self.query_one(FlowList).reload()
        self._status()

    def action_reverse(self) -> None:
        self.store.set_sort(self.store.column.key, not self.store.reverse)
        self.query_one(FlowList).reload()
        self._status()

    # -- status line ----------------------------------------------------------------------------------------

    def on_resize(self) -> None:
        self.query_one("#list-header", Static).update(Text(header_text(max(20, self.size.width))))

    def _status(self) -> None:
        shown, total = len(self.store.view), len(self.store)
        parts = [f"{shown} of {total} flows" if shown != total else f"{total} flows"]
        p = self.progress
        if p is not None:
            if p.bytes_total and self.ended is None:
                parts.append(f"read {100 * p.bytes_read // max(1, p.bytes_total)}%")
            parts.append(f"{p.frames} frames")
            if p.dropped:
                parts.append(f"{p.dropped} dropped")
        if self.ended is not None:
            parts.append(f"ended: {self.ended.reason}")
        elif self.error is None:
            parts.append("reading…" if not self.live else "capturing…")
        if self.error is not None:
            parts.append(f"error: {self.error}")
        arrow = "↓" if self.store.reverse else "↑"
        parts.append(f"sort {self.store.column.title} {arrow}")
        if self.store.predicate is not None:
            parts.append(f"filter: {getattr(self.store.predicate, 'text', '')}")
        self.query_one("#status", Static).update(Text(" · ".join(parts)))
