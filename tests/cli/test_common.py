"""What the commands share: collector tuning at the entry point."""

from __future__ import annotations


def test_fewer_collections_is_undone() -> None:
    import gc

    from tlsinspect.cli.common import GC_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold() == GC_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
