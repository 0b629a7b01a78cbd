"""The TUI's flow store: every flow the session gave (the latest snapshot of each), its list row, and the
filtered, sorted view the flow list shows. Pure Python, no Textual: the App owns one and feeds it batches.

The view is kept incrementally in the common case (sorted by id or time ascending, flows arriving in order:
new matches are appended) and rebuilt otherwise (a new filter or sort, an update that changes whether a flow
matches, a flow that arrives out of order); a rebuild of 100k flows is one sort.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tlsinspect.model import Flow
from tlsinspect.present.rows import COLUMNS, Column, FlowRow, flow_row

Predicate = Callable[[Flow], bool]


class FlowStore:
    def __init__(self) -> None:
        self.flows: dict[int, Flow] = {}
        self.rows: dict[int, FlowRow] = {}
        self.finished: set[int] = set()
        self.version: dict[int, int] = {}
        """How many times each flow changed (the list's render cache key)."""
        self.predicate: Predicate | None = None
        self.column: Column = COLUMNS[0]
        self.reverse = False
        self.view: list[int] = []
        self._in_view: set[int] = set()
        self._stale = False

    def __len__(self) -> int:
        return len(self.flows)

    def upsert(self, flows: Iterable[Flow], *, finished: bool = False) -> set[int]:
        """Take new snapshots (updates or final flows); returns the ids that changed."""
        changed = set()
        appendable = self.column.key in ("id", "time") and not self.reverse
        for f in flows:
            fid = f.id
            if fid in self.finished and not finished:
                continue  # a late update never replaces the final flow
            self.flows[fid] = f
            self.rows[fid] = flow_row(f)
            self.version[fid] = self.version.get(fid, 0) + 1
            if finished:
                self.finished.add(fid)
            changed.add(fid)
            match = self.predicate is None or self.predicate(f)
            if match == (fid in self._in_view):
                continue
            if match and appendable and (not self.view or fid > self.view[-1]):
                self.view.append(fid)
                self._in_view.add(fid)
            else:
                self._stale = True
        return changed

    def set_filter(self, predicate: Predicate | None) -> None:
        self.predicate = predicate
        self._stale = True

    def set_sort(self, key: str, reverse: bool = False) -> None:
        self.column = next(c for c in COLUMNS if c.key == key)
        self.reverse = reverse
        self._stale = True

    def refresh_view(self) -> bool:
        """Rebuild the view if something made it stale; True if it was rebuilt."""
        if not self._stale:
            return False
        p = self.predicate
        ids = [i for i, f in self.flows.items() if p is None or p(f)]
        rows, key = self.rows, self.column.sort
        ids.sort(key=lambda i: (key(rows[i]), i), reverse=self.reverse)
        self.view = ids
        self._in_view = set(ids)
        self._stale = False
        return True

    def index_of(self, fid: int) -> int | None:
        if fid not in self._in_view:
            return None
        return self.view.index(fid)
