"""The flow store's view, kept incrementally, is always what a full filter and sort gives; index_of agrees."""

from __future__ import annotations

import random

import pytest
from tui_helpers import lab_flows

from tlsinspect.analysis.query import compile_query
from tlsinspect.model import Flow, evolve
from tlsinspect.present.rows import COLUMNS
from tlsinspect.tui.store import FlowStore


@pytest.fixture(scope="module")
def flows() -> list[Flow]:
    return lab_flows()


def expected(store: FlowStore) -> list[int]:
    p, col = store.predicate, store.column
    ids = [i for i, f in store.flows.items() if p is None or p(f)]
    return sorted(ids, key=lambda i: (col.sort(store.rows[i]), i), reverse=store.reverse)


def check(store: FlowStore) -> None:
    store.refresh_view()
    assert store.view == expected(store)
    for pos, fid in enumerate(store.view):
        assert store.index_of(fid) == pos
    for fid in set(store.flows) - set(store.view):
        assert store.index_of(fid) is None


@pytest.mark.parametrize("seed", range(12))
def test_incremental_view_equals_a_full_sort(flows: list[Flow], seed: int) -> None:
    rng = random.Random(seed)
    store = FlowStore()
    column = COLUMNS[seed % len(COLUMNS)]
    store.set_sort(column.key, reverse=seed % 2 == 1)
    if seed % 3 == 0:
        store.set_filter(compile_query("cleartext"))
    store.refresh_view()
    next_id = 1
    live: dict[int, Flow] = {}
    for _ in range(60):
        batch: list[Flow] = []
        for _ in range(rng.randint(1, 8)):
            if live and rng.random() < 0.5:
                fid = rng.choice(list(live))
                base = rng.choice(flows)  # the flow turns into another shape: key and match change
            else:
                fid, next_id = next_id, next_id + 1
                base = rng.choice(flows)
            f = evolve(
                base,
                id=fid,
                bytes_client=rng.randint(0, 5000),
                first_seen=base.first_seen + rng.random(),
            )
            live[fid] = f
            batch.append(f)
        finished = rng.random() < 0.3
        store.upsert(batch, finished=finished)
        if finished:
            for f in batch:
                live.pop(f.id, None)
        if rng.random() < 0.05:
            store.set_sort(rng.choice(COLUMNS).key, reverse=rng.random() < 0.5)
        check(store)
    assert len(store) == next_id - 1


def test_a_late_update_never_replaces_the_final_flow(flows: list[Flow]) -> None:
    store = FlowStore()
    final = evolve(flows[0], id=1, bytes_client=10)
    store.upsert([final], finished=True)
    store.upsert([evolve(flows[0], id=1, bytes_client=5)])
    assert store.flows[1] is final and store.version[1] == 1


def test_in_order_arrivals_are_appended_without_a_rebuild(flows: list[Flow]) -> None:
    store = FlowStore()
    store.refresh_view()
    for i in range(1, 2001):
        store.upsert([evolve(flows[i % len(flows)], id=i)])
        assert not store.refresh_view(), "an in-order arrival never rebuilds the view"
    assert store.view == list(range(1, 2001))
    assert store.index_of(1500) == 1499
