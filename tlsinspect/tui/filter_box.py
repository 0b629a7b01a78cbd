"""The filter box: the query language of `tlsinspect.analysis.query`, checked as you type (a wrong filter says
why, below the box), with the filters applied before one up/down away."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

MAX_HISTORY = 100


class FilterBox(Input):
    BINDINGS = [
        Binding("up", "history(-1)", "Earlier filter", show=False),
        Binding("down", "history(1)", "Later filter", show=False),
    ]

    def __init__(self, *, placeholder: str = "", id: str | None = None) -> None:  # noqa: A002
        super().__init__(placeholder=placeholder, id=id)
        self.history: list[str] = []
        self._at = 0

    def remember(self, text: str) -> None:
        """A filter was applied: keep it (once, newest last)."""
        text = text.strip()
        if text:
            if text in self.history:
                self.history.remove(text)
            self.history.append(text)
            del self.history[:-MAX_HISTORY]
        self._at = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._at = max(0, min(len(self.history), self._at + step))
        self.value = self.history[self._at] if self._at < len(self.history) else ""
        self.cursor_position = len(self.value)
