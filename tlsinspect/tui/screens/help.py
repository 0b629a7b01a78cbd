"""The help screen: every key of every widget, generated from their BINDINGS (so it never goes stale), plus the
mouse and the command palette."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

KeyRow = tuple[str, str]
"""(keys as shown, what they do)."""

EXTRA: dict[str, tuple[KeyRow, ...]] = {
    "App": (
        ("ctrl+p", "Command palette: filter, sort by a column, statistics, export, theme, reveal"),
        ("click a column title", "Sort by that column (again: reverse)"),
    ),
}


TITLES = {
    "FlowList": "Flow list",
    "FlowDetail": "Detail pane",
    "Screen": "Every screen",
    "Input": "Text boxes (filter, export path)",
    "Tabs": "Detail tabs",
    "OptionList": "Export choices",
}
"""Titles of the widgets that do not set HELP_TITLE."""


def _title(cls: type[DOMNode]) -> str:
    return str(getattr(cls, "HELP_TITLE", "") or TITLES.get(cls.__name__, cls.__name__))


def key_rows(app: App[object], cls: type[DOMNode]) -> list[KeyRow]:
    """The keys of `cls` (its own and inherited BINDINGS, as Textual merges them), one row per action: the keys
    that do it, and its description."""
    merged = cls._merged_bindings
    if merged is None:
        return []
    by_action: dict[tuple[str, str], list[str]] = {}
    for _key, binding in merged:
        if binding.system:
            continue
        what = binding.description or binding.action.replace("_", " ")
        by_action.setdefault((binding.action, what), []).append(app.get_key_display(binding))
    return [(" ".join(dict.fromkeys(keys)), what) for (_action, what), keys in by_action.items()]


def help_sections(app: App[object], classes: Iterable[type[DOMNode]]) -> list[tuple[str, list[KeyRow]]]:
    """(title, rows) for the app and each class that has keys, each class once: the app, then tlsinspect's
    widgets and screens in the order given, then Textual's."""
    out: list[tuple[str, list[KeyRow]]] = []
    seen: set[type[DOMNode]] = set()
    ours = [c for c in classes if c.__module__.startswith("tlsinspect.")]
    theirs = [c for c in classes if not c.__module__.startswith("tlsinspect.")]
    for cls in (type(app), *ours, *theirs):
        if cls in seen:
            continue
        seen.add(cls)
        rows = key_rows(app, cls) + list(EXTRA.get("App" if cls is type(app) else cls.__name__, ()))
        if not rows:
            continue
        title = _title(cls) if cls is not type(app) else "Everywhere"
        same = next((i for i, (_t, r) in enumerate(out) if r == rows), None)
        if same is None:
            out.append((title, rows))
        else:  # the same keys (scrolling panes): one section for them all
            out[same] = (f"{out[same][0]}, {title}", rows)
    return out


class HelpScreen(Screen[None]):
    """Keys of the app, of every widget on the main screen and of the other screens."""

    HELP_TITLE = "Help screen"
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, classes: Iterable[type[DOMNode]]) -> None:
        super().__init__()
        self.key_classes = list(classes)

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="help-body"):
            for title, rows in help_sections(self.app, self.key_classes):
                t = Table(title=Text(title, style="bold"), title_justify="left", box=None, show_header=False)
                t.add_column(style="bold", no_wrap=True, min_width=16)
                t.add_column()
                for keys, what in rows:
                    t.add_row(Text(keys), Text(what))
                yield Static(t, classes="help-section")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss()
