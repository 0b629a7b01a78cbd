"""The Textual TUI: the flow list beside the detail of the selected flow, filled while the capture is read.

The App is one more consumer of the session layer (style guide §8): a worker thread drives
`Session.batches()` and posts each batch as a `SessionBatch` message (the only thing it does with the UI);
the App feeds its `FlowStore`, tells the list which rows changed and refreshes the detail if the selected
flow changed. Widgets never block and never read the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, Header, Input, Static
from textual.worker import get_current_worker

from tlsinspect.errors import CaptureError
from tlsinspect.model import SEVERITIES, CaptureInfo, Flow
from tlsinspect.present import flow_view
from tlsinspect.present.rows import COLUMNS
from tlsinspect.present.stats import flow_stats
from tlsinspect.present.values import visible
from tlsinspect.session import (
    CaptureEnded,
    CaptureStarted,
    FlowFinished,
    FlowUpdated,
    Progress,
    Session,
)
from tlsinspect.tui.commands import TlsInspectCommands
from tlsinspect.tui.detail import DETAIL_BINDINGS, FlowDetail
from tlsinspect.tui.export import (
    ExportDone,
    ExportJob,
    ExportScreen,
    capture_file_of,
    run_export,
    target_path,
)
from tlsinspect.tui.filter_box import FilterBox
from tlsinspect.tui.flow_list import FlowList, cell, layout
from tlsinspect.tui.messages import SessionBatch, SessionFailed
from tlsinspect.tui.screens.help import HelpScreen
from tlsinspect.tui.screens.stats import StatsScreen
from tlsinspect.tui.store import FlowStore
from tlsinspect.tui.themes import THEMES, next_theme

TOAST_FROM = SEVERITIES.index("high")
"""Findings at or above this severity raise a toast while a live capture runs."""
STATS_EVERY = 1.0
"""Seconds between two refreshes of an open statistics screen while flows arrive."""


class TlsInspectApp(App[int]):
    TITLE = "tlsinspect"
    CSS = """
    #list-pane { height: 45%; min-height: 6; }
    #list-header { height: 1; background: $panel; text-style: bold; }
    #list-header:hover { background: $panel-lighten-1; }
    #filter { dock: top; display: none; }
    #filter.visible { display: block; }
    #filter.-invalid { border: tall $error; }
    #filter-error { dock: top; display: none; color: $error; height: auto; padding: 0 1; }
    #filter-error.visible { display: block; }
    #status { height: 1; background: $panel; color: $text-muted; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("slash,f", "filter", "Filter"),
        Binding("escape", "close_filter", "Close filter", show=False),
        Binding("tab", "focus_next", "Next pane", show=False),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse sort", show=False),
        Binding("i", "statistics", "Stats"),
        Binding("e", "export", "Export"),
        Binding("t", "next_theme", "Theme", show=False),
        Binding("question_mark", "help", "Help"),
    ]
    COMMANDS = App.COMMANDS | {TlsInspectCommands}

    MAIN_SCREEN_ACTIONS = frozenset({"filter", "close_filter", "sort", "reverse", "detail"})
    """Actions that act on the flow list, so only while it is the screen shown."""

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
        self.info: CaptureInfo | None = None
        self._stats_at = 0.0
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = THEMES[0].name

    def compose(self) -> ComposeResult:
        yield Header()
        yield FilterBox(
            placeholder="filter: sni:*.example.com and version<1.3 ... (Enter applies, Esc closes, up/down: history)",
            id="filter",
        )
        yield Static(id="filter-error")
        with Vertical(id="list-pane"):
            yield Static(id="list-header")
            yield FlowList(self.store, id="flows")
        yield FlowDetail(id="detail")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = visible(self.source_name)
        self._header()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.query_one(FlowList).focus()
        if self.initial_filter:
            self.apply_filter(self.initial_filter)
        self._status()
        self.run_session()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False
        return True

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
                self.sub_title = visible(f"{e.info.source} ({e.info.format})")
                self.info = e.info
            elif isinstance(e, CaptureEnded):
                self.ended = e
        changed = self.store.upsert(updated) | self.store.upsert(finished, finished=True)
        try:
            flows = self.query_one(FlowList)
        except NoMatches:  # a batch that arrives while the App closes
            return
        flows.reload(changed)
        if self.live:
            self._toast(finished)
        selected = flows.flow_id
        if selected is not None and selected in changed:
            self._show(selected)
        self._status()
        if isinstance(self.screen, StatsScreen) and (
            self.ended is not None or time.monotonic() - self._stats_at >= STATS_EVERY
        ):
            self._refresh_stats()

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
        next(
            (w for w in self.query_one(FlowDetail).query("*") if w.focusable), self.query_one(FlowDetail)
        ).focus()

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
        self.query_one("#filter-error", Static).remove_class("visible")
        self.query_one(FlowList).focus()

    @on(Input.Changed, "#filter")
    def filter_typed(self, event: Input.Changed) -> None:
        from tlsinspect.analysis.query import validate

        problem = validate(event.value)
        event.input.set_class(problem is not None, "-invalid")
        event.input.tooltip = str(problem) if problem is not None else None
        error = self.query_one("#filter-error", Static)
        error.update(Text(str(problem) if problem is not None else ""))
        error.set_class(problem is not None and event.input.has_class("visible"), "visible")

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        if self.apply_filter(event.value):
            self.query_one(FilterBox).remember(event.value)
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
        if isinstance(self.screen, StatsScreen):
            self._refresh_stats()
        return True

    def action_sort(self) -> None:
        self.sort_by(COLUMNS[(self.sort_index + 1) % len(COLUMNS)].key, self.store.reverse)

    def action_reverse(self) -> None:
        self.sort_by(self.store.column.key, not self.store.reverse)

    def sort_by(self, key: str, reverse: bool = False) -> None:
        self.sort_index = next(i for i, c in enumerate(COLUMNS) if c.key == key)
        self.store.set_sort(key, reverse)
        self.query_one(FlowList).reload()
        self._header()
        self._status()

    def on_click(self, event: events.Click) -> None:
        """A click on a column title sorts by that column (on the column already sorted by: reverses)."""
        if event.widget is None or event.widget.id != "list-header":
            return
        x = 0
        for col, w in layout(max(20, event.widget.size.width)):
            if x <= event.x < x + w + 1:
                same = col.key == self.store.column.key
                self.sort_by(col.key, not self.store.reverse if same else False)
                return
            x += w + 1

    # -- screens, themes, export ----------------------------------------------------------------------------

    def shown_flows(self) -> list[Flow]:
        """The flows the list shows (the filter applied), in its order."""
        self.store.refresh_view()
        flows = self.store.flows
        return [flows[i] for i in self.store.view]

    def _stats_scope(self) -> str:
        p = self.store.predicate
        scope = f"filter: {getattr(p, 'text', '')}" if p is not None else "all flows"
        return scope + ("" if self.ended is not None or self.error else " (still reading)")

    def _refresh_stats(self) -> None:
        self._stats_at = time.monotonic()
        screen = self.screen
        if isinstance(screen, StatsScreen):
            screen.update(flow_stats(self.shown_flows()), self._stats_scope())

    def action_statistics(self) -> None:
        if isinstance(self.screen, StatsScreen):
            return
        self._stats_at = time.monotonic()
        self.push_screen(StatsScreen(flow_stats(self.shown_flows()), self._stats_scope()))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        main = self.screen_stack[0]
        widgets = [type(w) for w in main.walk_children()]
        self.push_screen(HelpScreen([type(main), *widgets, StatsScreen, ExportScreen, HelpScreen]))

    def action_next_theme(self) -> None:
        self.theme = next_theme(self.theme)
        self.notify(f"theme: {self.theme}", timeout=2, markup=False)

    def _theme_changed(self, _theme: object) -> None:
        """The list caches its drawn lines: draw them again in the new colours."""
        flows = self.query_one(FlowList)
        flows.reload(set(self.store.view))

    def action_toggle_secrets(self) -> None:
        self.show_secrets = not self.show_secrets
        self._show(self.query_one(FlowList).flow_id)
        self.notify("secrets shown whole" if self.show_secrets else "secrets masked", timeout=3)

    def action_export(self) -> None:
        _path, why = capture_file_of(self.session.source if self.session is not None else None)
        screen = ExportScreen(len(self.store.view), pcapng_note=why)
        self.push_screen(screen, lambda choice: self.export(*choice) if choice else None)

    def export(self, kind: str, where: str = "") -> None:
        """Export the shown flows (`kind`: json, svg, pcapng) to `where` or a timestamped name; a toast tells
        where. The file is written in a worker thread."""
        try:
            path = target_path(kind, where)
        except OSError as e:
            self.notify(str(e), title="export", severity="error", markup=False)
            return
        session = self.session
        job = ExportJob(kind, path, tuple(self.shown_flows()), self.info, self.show_secrets)
        if kind == "svg":
            job = ExportJob(kind, path, svg=self.export_screenshot(title=self.sub_title or self.title))
        elif kind == "pcapng":
            source, why = capture_file_of(session.source if session is not None else None)
            if source is None:
                self.notify(why, title="export", severity="warning", markup=False)
                return
            keylog = session.options.keylog if session is not None else None
            job = ExportJob(kind, path, job.flows, source=source, keylog=keylog)
        self.run_export(job)

    @work(thread=True, group="export", exit_on_error=False)
    def run_export(self, job: ExportJob) -> None:
        try:
            self.post_message(ExportDone(run_export(job)))
        except (OSError, CaptureError) as e:
            self.post_message(ExportDone(f"{job.path}: {getattr(e, 'strerror', None) or e}", error=True))

    @on(ExportDone)
    def exported(self, message: ExportDone) -> None:
        if message.error:
            self.notify(message.text, title="export failed", severity="error", timeout=10, markup=False)
        else:
            self.notify(message.text, title="exported", timeout=8, markup=False)

    # -- status line ----------------------------------------------------------------------------------------

    def on_resize(self) -> None:
        self._header()

    def _header(self) -> None:
        """The column titles, the sorted one with an arrow and underlined."""
        text = Text(no_wrap=True)
        arrow = "↓" if self.store.reverse else "↑"
        for i, (col, w) in enumerate(layout(max(20, self.size.width))):
            if i:
                text.append(" ")
            if col.key == self.store.column.key:
                title = f"{col.title} {arrow}" if len(col.title) + 2 <= w else col.title[: w - 1] + arrow
                text.append(cell(title, w, col.right), style="underline")
            else:
                text.append(cell(col.title, w, col.right))
        self.query_one("#list-header", Static).update(text)

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
