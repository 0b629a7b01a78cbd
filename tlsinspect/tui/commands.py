"""The command palette (ctrl+p): tlsinspect's commands beside Textual's own. Filter, sort by any column, reverse,
statistics, help, the three exports, a theme, reveal or mask secrets."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tlsinspect.present.rows import COLUMNS
from tlsinspect.tui.export import KINDS
from tlsinspect.tui.themes import THEMES

Command = tuple[str, str, Callable[[], object]]


class Commanded(Protocol):
    """What the provider drives (`TlsInspectApp`; named here without importing it: no import cycle)."""

    show_secrets: bool
    theme: str

    def action_filter(self) -> None: ...
    def apply_filter(self, text: str) -> bool: ...
    def action_statistics(self) -> None: ...
    def action_help(self) -> None: ...
    def action_reverse(self) -> None: ...
    def action_next_theme(self) -> None: ...
    def action_toggle_secrets(self) -> None: ...
    def export(self, kind: str, where: str = "") -> None: ...
    def sort_by(self, key: str, reverse: bool = False) -> None: ...


class TlsInspectCommands(Provider):
    def commands(self) -> list[Command]:
        app = cast(Commanded, self.app)
        out: list[Command] = [
            (
                "Filter flows",
                "Open the filter box (sni:, version<1.3, finding:..., cleartext)",
                app.action_filter,
            ),
            ("Clear filter", "Show every flow", partial(app.apply_filter, "")),
            (
                "Statistics",
                "Versions, suites, SNIs, findings, exposures of the shown flows",
                app.action_statistics,
            ),
            ("Help: keys", "Every key of every widget", app.action_help),
            ("Reverse sort order", "Ascending <-> descending", app.action_reverse),
            ("Next theme", "Dark, light, projector", app.action_next_theme),
        ]
        for kind, (ext, what) in KINDS.items():
            out.append((f"Export {ext}", f"Write {what}", partial(app.export, kind)))
        for col in COLUMNS:
            name = f"Sort by {col.title}" + (f" ({col.key})" if col.title != col.key else "")
            out.append((name, f"Sort the flow list by the {col.key} column", partial(app.sort_by, col.key)))
        for theme in THEMES:
            out.append(
                (f"Theme: {theme.name}", "Switch to this theme", partial(setattr, app, "theme", theme.name))
            )
        reveal = "Mask secrets" if app.show_secrets else "Reveal secrets"
        out.append((reveal, "Show exposed secrets in the detail whole or masked", app.action_toggle_secrets))
        return out

    async def discover(self) -> Hits:
        for name, help_text, callback in self.commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
