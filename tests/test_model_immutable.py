"""Everything reachable from a `Flow` is immutable: frozen dataclasses, tuples, `FrozenDict`, scalars.

Flows are handed to writers, to the `--jobs` parent through pickles and (next) to a live view while the engine
goes on reading; parsed values are also shared between flows (the extension cache). A list, dict, set or
bytearray anywhere in a flow could be changed by one reader under the feet of the others.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from session_helpers import BUNDLED, Read, read

from tlsinspect.analysis.pipeline import Analyzer
from tlsinspect.capture.inputs import load_trust_store, read_keylog
from tlsinspect.model import Extension, Flow, FrozenDict, freeze, thaw
from tlsinspect.output.jsonout import _dumps

CAPTURES = Path(__file__).resolve().parent.parent / "captures"
SCALARS = (str, bytes, int, float, bool, type(None))


def mutable_parts(obj: Any, path: str = "flow") -> Iterator[str]:
    """Paths of every mutable object reachable from `obj` (empty when it is immutable all the way down)."""
    t = type(obj)
    if t in SCALARS:
        return
    if t is tuple or t is frozenset:
        for i, v in enumerate(obj):
            yield from mutable_parts(v, f"{path}[{i}]")
        return
    if t is FrozenDict:
        for k, v in obj.items():
            yield from mutable_parts(k, f"{path}.keys()")
            yield from mutable_parts(v, f"{path}[{k!r}]")
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        params = getattr(t, "__dataclass_params__")  # noqa: B009
        if not params.frozen:
            yield f"{path}: {t.__name__} is not a frozen dataclass"
        if hasattr(obj, "__dict__"):
            yield f"{path}: {t.__name__} has a __dict__ (no slots)"
        for f in dataclasses.fields(obj):
            yield from mutable_parts(getattr(obj, f.name), f"{path}.{f.name}")
        return
    yield f"{path}: {t.__name__}"


def _read(capture: str, keylog: str | None, jobs: int = 1) -> Read:
    return read(
        CAPTURES / capture,
        keylog=read_keylog(CAPTURES / keylog) if keylog else None,
        analyse=Analyzer(
            load_trust_store([CAPTURES / "observer-lab-ca.pem"], use_certifi=False), now=time.time()
        ),
        jobs=jobs,
        updates=True,
    )


def _flows(capture: str, keylog: str | None, jobs: int = 1) -> list[Flow]:
    return _read(capture, keylog, jobs).flows


def test_session_events_are_immutable_all_the_way_down() -> None:
    """What a front end receives: every event of a session (updates of open flows, final flows, progress, the
    summary) is frozen, so a UI thread can keep them while the session goes on."""
    r = _read("observer-lab.pcapng", "observer-lab.keylog")
    assert r.updates and r.flows and r.ended is not None
    problems = [p for i, e in enumerate(r.events) for p in mutable_parts(e, f"event[{i}]")]
    assert problems == []


@pytest.mark.parametrize(("capture", "keylog"), BUNDLED, ids=[f"{c}+{k}" for c, k in BUNDLED])
def test_every_flow_is_immutable_all_the_way_down(capture: str, keylog: str | None) -> None:
    flows = _flows(capture, keylog)
    assert flows
    found = [p for i, f in enumerate(flows) for p in mutable_parts(f, f"flows[{i}]")]
    assert found == []
    # and what a `--jobs` worker ships through its pipe comes back the same, still frozen
    back = pickle.loads(pickle.dumps(flows, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == flows
    assert [p for f in back for p in mutable_parts(f)] == []


def test_flows_from_workers_are_immutable() -> None:
    flows = _flows("observer-lab.pcapng", "observer-lab.keylog", jobs=2)
    assert flows
    assert [p for f in flows for p in mutable_parts(f)] == []


def test_the_walker_finds_mutable_parts() -> None:
    ext = Extension(type=1, data=b"", decoded=freeze({"a": [1, {"b": 2}]}))
    assert list(mutable_parts(ext)) == []
    bad = Extension(type=1, data=b"", decoded={"a": [1]})
    assert list(mutable_parts(bad)) == ["flow.decoded: dict"]
    assert list(mutable_parts((bytearray(),))) == ["flow[0]: bytearray"]
    assert list(mutable_parts(frozenset({1}))) == []
    assert list(mutable_parts((set(),))) == ["flow[0]: set"]


def test_frozen_dict_refuses_changes_and_keeps_dict_behaviour() -> None:
    d = freeze({"names": [{"type": 0, "name": "a"}], "n": 1})
    assert type(d) is FrozenDict and type(d["names"]) is tuple and type(d["names"][0]) is FrozenDict
    assert d == {"names": ({"type": 0, "name": "a"},), "n": 1}
    assert isinstance(d, dict) and d.get("n") == 1 and set(d) == {"names", "n"}
    for change in (
        lambda: d.__setitem__("x", 1),
        lambda: d.__delitem__("n"),
        lambda: d.update(x=1),
        lambda: d.setdefault("x", 1),
        lambda: d.pop("n"),
        lambda: d.popitem(),
        lambda: d.clear(),
        lambda: d.__ior__({"x": 1}),
    ):
        with pytest.raises(TypeError):
            change()
    assert d == {"names": ({"type": 0, "name": "a"},), "n": 1}
    assert hash(d) == hash(freeze({"n": 1, "names": [{"name": "a", "type": 0}]}))
    assert (d | {"x": 1}) == {**d, "x": 1} and type(d | {"x": 1}) is dict  # a new plain dict, d unchanged
    copied = pickle.loads(pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL))
    assert copied == d and type(copied) is FrozenDict and type(copied["names"][0]) is FrozenDict


def test_extension_value_is_a_plain_copy_for_writers() -> None:
    """`Extension.value` is the decoded value with plain dicts (what the JSON writer serialises as it always did:
    orjson would write a dict subclass as a string), new ones at each read: changing them changes nothing in the
    flow. Tuples stay tuples (written as arrays, as lists are)."""
    ext = Extension(type=0, data=b"", decoded=freeze({"names": [{"type": 0, "name": "a"}], "n": [1, 2]}))
    v = ext.value
    assert v == {"names": ({"type": 0, "name": "a"},), "n": (1, 2)}
    assert type(v) is dict and type(v["names"]) is tuple and type(v["names"][0]) is dict
    v["names"][0]["name"] = "b"
    v.clear()
    assert ext.value == {"names": ({"type": 0, "name": "a"},), "n": (1, 2)}
    assert ext.value["n"] is ext.decoded["n"]  # immutable parts are not copied
    assert thaw(freeze([1, (2, 3), "x"])) == (1, (2, 3), "x")
    assert _dumps(ext.value) == json.dumps(thaw(ext.decoded), separators=(",", ":"))
    assert _dumps(ext.value) == '{"names":[{"type":0,"name":"a"}],"n":[1,2]}'


def test_freeze_shares_equal_flat_mappings_but_never_mixes_types() -> None:
    assert freeze({"length": 1}) is freeze({"length": 1})
    one, true = freeze({"length": 1}), freeze({"length": True})
    assert one is not true and type(true["length"]) is bool
    assert list(freeze({"a": 1, "b": 2})) == ["a", "b"] and list(freeze({"b": 2, "a": 1})) == ["b", "a"]


def test_freeze_keeps_unhashable_scalars_unshared() -> None:
    class Opaque:
        __hash__ = None  # type: ignore[assignment]

    o = Opaque()
    d = freeze({"x": o})
    assert type(d) is FrozenDict and d["x"] is o
