"""The detail pane of the selected flow: one tab per view of it (Observer, Handshake, Certificates, HTTP,
Findings, Summary).

Filled on demand: `show(flow, view)` fills only the visible tab and marks the others stale; a tab is filled
when it is opened. Keys (bound by the App, see `DETAIL_BINDINGS`): `o` switches the Observer tab between
the observer's and the endpoint's view, `r` reveals (or masks again) every secret of the current flow; the
reveal ends when another flow is selected, unless the app started with ``--show-secrets``. Wire text always
goes in as `Text` escaped by `visible()` (see `text.py`), never as markup.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane

from tlsinspect.model import Flow
from tlsinspect.present import FlowView
from tlsinspect.present.related import FlowLookup
from tlsinspect.tui.detail.tabs import (
    CertificatesTab,
    DetailContext,
    FindingsTab,
    HttpTab,
    LadderTab,
    ObserverTab,
    SummaryTab,
)

__all__ = ["DETAIL_BINDINGS", "TABS", "FlowDetail"]

TABS: tuple[tuple[str, str, type[Widget]], ...] = (
    ("observer", "Observer", ObserverTab),
    ("ladder", "Handshake", LadderTab),
    ("certs", "Certificates", CertificatesTab),
    ("http", "HTTP", HttpTab),
    ("findings", "Findings", FindingsTab),
    ("summary", "Summary", SummaryTab),
)
"""(id, title, widget class) of each tab, in order."""

DETAIL_BINDINGS = [
    Binding("o", "detail('endpoint')", "Observer/endpoint"),
    Binding("r", "detail('reveal')", "Reveal secrets"),
    *(Binding(str(i), f"detail('tab-{i}')", key, show=False) for i, (key, _t, _c) in enumerate(TABS, 1)),
]
"""The detail pane's keys, bound on the App so they work from the flow list too (`App.action_detail`)."""


class FlowDetail(Vertical):
    """The tabs for one flow."""

    DEFAULT_CSS = """
    FlowDetail { height: 1fr; }
    FlowDetail > TabbedContent { height: 1fr; }
    FlowDetail TabPane { padding: 0 1; height: 1fr; }
    """

    def __init__(
        self, lookup: FlowLookup | None = None, *, show_secrets: bool = False, id: str | None = None
    ) -> None:  # noqa: A002
        super().__init__(id=id)
        self.lookup = lookup
        self.flow: Flow | None = None
        self.view: FlowView | None = None
        self.show_secrets = show_secrets
        """Start every flow revealed (``--show-secrets``)."""
        self.revealed = show_secrets
        self.endpoint = False
        self._filled: dict[str, int] = {}
        self._generation = 0
        """Bumped whenever what the tabs show changes (a flow, a reveal, the endpoint switch)."""
        self._ctx: DetailContext | None = None

    def compose(self) -> ComposeResult:
        with TabbedContent(id="detail-tabs"):
            for key, title, cls in TABS:
                with TabPane(title, id=f"tab-{key}"):
                    yield cls(id=f"detail-{key}")

    def on_mount(self) -> None:
        app: Any = self.app
        if self.lookup is None and hasattr(getattr(app, "store", None), "flows"):
            self.lookup = app.store
        if getattr(app, "show_secrets", False):
            self.show_secrets = self.revealed = True

    # -- what the app calls ---------------------------------------------------------------------------------

    def show(self, flow: Flow | None, view: FlowView | None = None) -> None:
        """Show `flow` (a new selection or a new snapshot of the selected flow); `view` is reused when its
        masking matches."""
        if flow is None or self.flow is None or flow.id != self.flow.id:
            self.revealed = self.show_secrets
        self.flow = flow
        self.view = view if view is not None and view.show_secrets == self.revealed else None
        self._changed()

    def toggle_reveal(self) -> None:
        self.revealed = not self.revealed
        self.view = None
        self._ctx = None
        if self.flow is not None:
            state = "revealed" if self.revealed else "masked again"
            self.notify(f"secrets of flow #{self.flow.id} {state}", timeout=3)
        self._changed()

    def toggle_endpoint(self) -> None:
        self.endpoint = not self.endpoint
        self._generation += 1
        self._ctx = None
        tabs = self.query_one(TabbedContent)
        if tabs.active != "tab-observer":
            tabs.active = "tab-observer"  # TabActivated fills it
        else:
            self._fill_active()

    def run_key(self, name: str) -> None:
        if name == "reveal":
            self.toggle_reveal()
        elif name == "endpoint":
            self.toggle_endpoint()
        elif name.startswith("tab-") and name[4:].isdigit() and 0 < int(name[4:]) <= len(TABS):
            self.query_one(TabbedContent).active = f"tab-{TABS[int(name[4:]) - 1][0]}"

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active.removeprefix("tab-")

    def focus(self, scroll_visible: bool = True) -> FlowDetail:
        """Focus the active tab's content (or the tab bar)."""
        pane = self.query_one(f"#tab-{self.active_tab}", TabPane)
        target = next((w for w in pane.query("*") if w.focusable), None)
        if target is None:
            target = self.query_one(TabbedContent).query_one("ContentTabs")
        target.focus(scroll_visible)
        return self

    # -- filling on demand ----------------------------------------------------------------------------------

    def context(self) -> DetailContext:
        if self._ctx is None:
            self._ctx = DetailContext(self.flow, self.revealed, self.endpoint, self.lookup, self.view)
        return self._ctx

    def _changed(self) -> None:
        self._generation += 1
        self._ctx = None
        self._fill_active()

    def _fill_active(self) -> None:
        if not self.is_mounted:
            return
        self.fill(self.active_tab)

    def fill(self, key: str, *, force: bool = False) -> None:
        """Fill tab `key` for the current flow, unless it already shows it."""
        token = self._generation
        if not force and self._filled.get(key) == token:
            return
        tab: Any = self.query_one(f"#detail-{key}")
        tab.fill(self.context())
        self._filled[key] = token

    @on(TabbedContent.TabActivated)
    def _tab_opened(self, event: TabbedContent.TabActivated) -> None:
        self._fill_active()
