"""The flow list: one line per flow, virtualised (only the visible lines are drawn, from the store's view), so
100k flows scroll as smoothly as 10. Columns fit the terminal's width: the least important ones are dropped
first on a narrow terminal, and the SNI / Host column takes what is left. Every cell is drawn as plain text
(rich `Segment`s), never as markup, from rows whose wire text `present.rows` already made inert."""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tlsinspect.present.rows import COLUMNS, Column, Exposure, FlowRow
from tlsinspect.tui.store import FlowStore

DROP_ORDER = ("suite", "client", "exposures", "bytes", "time", "version", "worst", "server")
"""Columns given up, in this order, until the rest fit."""
MIN_FLEX = 14

Layout = tuple[tuple[Column, int], ...]


@lru_cache(maxsize=64)
def layout(width: int) -> Layout:
    """The columns shown at `width` cells and the width of each (one space between columns)."""
    cols = list(COLUMNS)
    for key in DROP_ORDER:
        fixed = sum(c.width for c in cols if not c.flex) + len(cols) - 1
        if fixed + MIN_FLEX <= width:
            break
        cols = [c for c in cols if c.key != key]
    fixed = sum(c.width for c in cols if not c.flex) + len(cols) - 1
    flex = max(MIN_FLEX, width - fixed)
    return tuple((c, flex if c.flex else c.width) for c in cols)


def cell(text: str, width: int, right: bool = False) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.rjust(width) if right else text.ljust(width)


def header_text(width: int) -> str:
    return " ".join(cell(c.title, w, c.right) for c, w in layout(width))


EXPOSURE_CLASS = {
    Exposure.CLEARTEXT: "flowlist--cleartext",
    Exposure.DECRYPTED: "flowlist--decrypted",
    Exposure.SNI_ONLY: "flowlist--sni",
    Exposure.ENCRYPTED: "flowlist--encrypted",
    Exposure.OPAQUE: "flowlist--opaque",
}
SEVERITY_CLASS = {4: "flowlist--critical", 3: "flowlist--high", 2: "flowlist--medium", 1: "flowlist--low"}


class FlowList(ScrollView, can_focus=True):
    """The virtual list over a `FlowStore`'s view."""

    COMPONENT_CLASSES = {
        "flowlist--cursor",
        "flowlist--cleartext",
        "flowlist--decrypted",
        "flowlist--sni",
        "flowlist--encrypted",
        "flowlist--opaque",
        "flowlist--critical",
        "flowlist--high",
        "flowlist--medium",
        "flowlist--low",
        "flowlist--open",
    }
    DEFAULT_CSS = """
    FlowList { height: 1fr; }
    FlowList > .flowlist--cursor { background: $accent 40%; text-style: bold; }
    FlowList:focus > .flowlist--cursor { background: $accent; color: $text; }
    FlowList > .flowlist--cleartext { color: $error; text-style: bold; }
    FlowList > .flowlist--decrypted { color: $warning; }
    FlowList > .flowlist--sni { color: $text-muted; }
    FlowList > .flowlist--encrypted { color: $success; }
    FlowList > .flowlist--opaque { color: $text-muted; }
    FlowList > .flowlist--critical { color: $error; text-style: bold reverse; }
    FlowList > .flowlist--high { color: $error; text-style: bold; }
    FlowList > .flowlist--medium { color: $warning; }
    FlowList > .flowlist--low { color: $text-muted; }
    FlowList > .flowlist--open { text-style: italic; }
    """
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+f,space", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last / tail", show=False),
        Binding("enter", "choose", "Details", show=False),
    ]

    cursor: reactive[int] = reactive(0)
    tail: reactive[bool] = reactive(True)
    """Follow the newest flow (live); moving up turns it off, End turns it back on."""

    class Highlighted(Message):
        def __init__(self, flow_id: int | None) -> None:
            super().__init__()
            self.flow_id = flow_id

    class Chosen(Message):
        def __init__(self, flow_id: int) -> None:
            super().__init__()
            self.flow_id = flow_id

    def __init__(self, store: FlowStore, *, name: str | None = None, id: str | None = None) -> None:  # noqa: A002
        super().__init__(name=name, id=id)
        self.store = store
        self._cache: dict[tuple[int, int, int, bool], Strip] = {}
        self._last_highlight: int | None = None

    # -- data -----------------------------------------------------------------------------------------------

    def reload(self, changed: set[int] | None = None) -> None:
        """The store's view changed (new rows, a filter, a sort) or rows in it did (`changed`). Off tail mode
        the selected flow stays selected wherever it moved (else the cursor keeps its place)."""
        selected = self.flow_id
        self.store.refresh_view()
        if changed:
            for key in [k for k in self._cache if k[0] in changed]:
                del self._cache[key]
        if len(self._cache) > 4096:
            self._cache.clear()
        n = len(self.store.view)
        self.virtual_size = Size(self.size.width, n)
        if self.tail and n:
            self.cursor = n - 1
        elif n:
            at = self.store.index_of(selected) if selected is not None else None
            self.cursor = at if at is not None else min(self.cursor, n - 1)
        self._highlight()
        self.refresh()

    @property
    def flow_id(self) -> int | None:
        view = self.store.view
        return view[self.cursor] if 0 <= self.cursor < len(view) else None

    def select_id(self, fid: int) -> None:
        i = self.store.index_of(fid)
        if i is not None:
            self.tail = False
            self.cursor = i

    # -- drawing --------------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        view = self.store.view
        width = self.size.width
        if index >= len(view) or width <= 0:
            return Strip.blank(width, self.rich_style)
        fid = view[index]
        selected = index == self.cursor
        key = (fid, self.store.version.get(fid, 0), width, selected and self.has_focus)
        strip = self._cache.get(key) if not selected else None
        if strip is None:
            strip = self._draw(self.store.rows[fid], width, selected)
            if not selected:
                self._cache[key] = strip
        return strip

    def _draw(self, row: FlowRow, width: int, selected: bool) -> Strip:
        base = self.rich_style
        cursor = self.get_component_rich_style("flowlist--cursor") if selected else None
        segments = []
        for i, (col, w) in enumerate(layout(width)):
            if i:
                segments.append(Segment(" ", base + cursor if cursor else base))
            style = base + self._cell_style(col.key, row)
            if cursor is not None:
                style = style + cursor
            segments.append(Segment(cell(col.text(row), w, col.right), style))
        return Strip(segments).adjust_cell_length(width, base + cursor if cursor else base)

    def _cell_style(self, key: str, row: FlowRow) -> Style:
        if key == "observer":
            return self.get_component_rich_style(EXPOSURE_CLASS[row.exposure])
        if key == "worst" and row.worst_rank in SEVERITY_CLASS:
            return self.get_component_rich_style(SEVERITY_CLASS[row.worst_rank])
        if key == "id" and row.state == "open":
            return self.get_component_rich_style("flowlist--open")
        return Style()

    # -- cursor ---------------------------------------------------------------------------------------------

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.store.view) - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        self.scroll_to_region_for(new)
        self.refresh()
        self._highlight()

    def scroll_to_region_for(self, index: int) -> None:
        top = self.scroll_offset.y
        h = self.scrollable_content_region.height or 1
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True, force=True)
        elif index >= top + h:
            self.scroll_to(y=index - h + 1, animate=False, immediate=True, force=True)

    def _highlight(self) -> None:
        fid = self.flow_id
        if fid != self._last_highlight:
            self._last_highlight = fid
            self.post_message(self.Highlighted(fid))

    def action_cursor(self, delta: int) -> None:
        if delta < 0:
            self.tail = False
        self.cursor += delta
        if delta > 0 and self.cursor == len(self.store.view) - 1:
            self.tail = True  # down onto the last row follows new flows again, as End does

    def action_page(self, direction: int) -> None:
        self.tail = False
        self.cursor += direction * max(1, self.scrollable_content_region.height - 1)

    def action_first(self) -> None:
        self.tail = False
        self.cursor = 0

    def action_last(self) -> None:
        self.tail = True
        self.cursor = len(self.store.view) - 1

    def action_choose(self) -> None:
        fid = self.flow_id
        if fid is not None:
            self.post_message(self.Chosen(fid))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if isinstance(y, int):
            self.tail = False
            self.cursor = self.scroll_offset.y + y

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._restyle, init=False)

    def _restyle(self) -> None:
        """Cached lines carry the old theme's colours."""
        self._cache.clear()
        self.refresh()

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self.store.view))
