"""The frozen model's helpers: `evolve` (a cheaper `dataclasses.replace`) and positional pickling."""

from __future__ import annotations

import pickle
from dataclasses import fields, replace
from pathlib import Path

import pytest
from session_helpers import read_flows

from tlsinspect.model import Flow, evolve

CAPTURE = Path(__file__).resolve().parent.parent / "captures" / "observer-lab.pcapng"


@pytest.fixture(scope="module")
def flows() -> list[Flow]:
    return read_flows(CAPTURE)


def test_evolve_is_replace(flows: list[Flow]) -> None:
    assert flows
    for f in flows:
        assert evolve(f, id=f.id + 100) == replace(f, id=f.id + 100)
        assert evolve(f, findings=(), state="x") == replace(f, findings=(), state="x")
        assert evolve(f) == f and evolve(f) is not f
        if f.tls is not None:
            assert evolve(f.tls, validation=None) == replace(f.tls, validation=None)
            if f.tls.client_hello is not None:
                assert evolve(f.tls.client_hello, ja4="x") == replace(f.tls.client_hello, ja4="x")
    with pytest.raises(KeyError):
        evolve(flows[0], no_such_field=1)


def test_pickle_round_trip(flows: list[Flow]) -> None:
    back = pickle.loads(pickle.dumps(flows))
    assert back == flows
    for a, b in zip(back, flows, strict=True):
        assert all(getattr(a, x.name) == getattr(b, x.name) for x in fields(Flow))
