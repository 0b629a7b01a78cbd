"""The TUI's flow store: every flow the session gave (the latest snapshot of each), its list row, and the
filtered, sorted view the flow list shows. Pure Python, no Textual: the App owns one and feeds it batches.

The view is always sorted by the sort column's key, ties by id (`key_of`). It is kept incrementally: a flow that
starts or stops matching the filter, or whose sort key changed, is taken out and put back by bisection (flows
arriving in order land at the end, an append), so a batch costs O(k log n) for k changed flows plus the moves;
a new filter or sort, or a batch that moves a large part of the view, rebuilds it with one sort. The position
of a flow is found by bisection too (`index_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tlsinspect.model import Flow
from tlsinspect.present.rows import COLUMNS, Column, FlowRow, flow_row

Predicate = Callable[[Flow], bool]

REBUILD_FRACTION = 16
"""A batch that moves more than 1/REBUILD_FRACTION of the view (and more than REBUILD_MIN flows) rebuilds it."""
REBUILD_MIN = 256


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

    def key_of(self, fid: int, row: FlowRow | None = None) -> tuple[Any, int]:
        """The view's sort key of a flow (of `row`, else its current row)."""
        return (self.column.sort(row if row is not None else self.rows[fid]), fid)

    def upsert(self, flows: Iterable[Flow], *, finished: bool = False) -> set[int]:
        """Take new snapshots (updates or final flows); returns the ids that changed."""
        changed = set()
        moved = 0
        budget = max(REBUILD_MIN, len(self.view) // REBUILD_FRACTION)
        sort = self.column.sort
        for f in flows:
            fid = f.id
            if fid in self.finished and not finished:
                continue  # a late update never replaces the final flow
            old = self.rows.get(fid)
            row = flow_row(f)
            self.flows[fid] = f
            self.rows[fid] = row
            self.version[fid] = self.version.get(fid, 0) + 1
            if finished:
                self.finished.add(fid)
            changed.add(fid)
            if self._stale:
                continue
            match = self.predicate is None or self.predicate(f)
            shown = fid in self._in_view
            if match != shown or (match and old is not None and sort(old) != sort(row)):
                moved += self._move(fid, old if shown else None, match)
                if moved > budget:
                    self._stale = True  # cheaper to sort once than to move this many more
        return changed

    def _move(self, fid: int, old_row: FlowRow | None, match: bool) -> int:
        """Take `fid` out of the view (found by `old_row`, the row it is sorted by there) and put it back if it
        `match`es; 0 when that was an append, 1 when it moved part of the view."""
        view = self.view
        cost = 0
        if old_row is not None:
            i = self._bisect(self.key_of(fid, old_row))
            if i >= len(view) or view[i] != fid:  # cannot happen: the view is sorted by the rows it holds
                self._stale = True
                return 0
            del view[i]
            self._in_view.discard(fid)
            cost = 1
        if match:
            key = self.key_of(fid)
            if not view or self._before(self.key_of(view[-1]), key):
                view.append(fid)
            else:
                view.insert(self._bisect(key), fid)
                cost = 1
            self._in_view.add(fid)
        return cost

    def _before(self, a: tuple[Any, int], b: tuple[Any, int]) -> bool:
        """Whether key `a` comes before key `b` in the view's order."""
        return a > b if self.reverse else a < b

    def _bisect(self, key: tuple[Any, int]) -> int:
        """The first position in the view whose key does not come before `key`."""
        view, lo, hi = self.view, 0, len(self.view)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._before(self.key_of(view[mid]), key):
                lo = mid + 1
            else:
                hi = mid
        return lo

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
        """Where flow `fid` is in the view (O(log n)), None when it is not in it."""
        if self._stale:
            self.refresh_view()
        if fid not in self._in_view:
            return None
        i = self._bisect(self.key_of(fid))
        return i if i < len(self.view) and self.view[i] == fid else None
