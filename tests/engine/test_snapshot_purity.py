"""Taking a snapshot of an open flow changes nothing: neither the snapshot itself later, nor the final flows.

The property: a capture read frame by frame (or `every` frames at a time), with `snapshot()` taken of every open
flow after each step, gives exactly the flows (== and the same ndjson) of a read without those snapshots; two
snapshots in a row with no frame between are equal; a snapshot still serialises as it did when it was taken; and
no attribute of any parser reachable from the flow changed while the snapshot was taken (`parser_state`), which
also catches a change no output would show.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import pytest
from session_helpers import BUNDLED

from tlsinspect.capture.files import TLS_KEY_LOG_SECRETS, CaptureFile
from tlsinspect.capture.inputs import read_keylog
from tlsinspect.engine.engine import Engine
from tlsinspect.model import Flow
from tlsinspect.output.jsonout import _dumps, flow_dict
from tlsinspect.parse.keylog import KeyLog

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"
CORPUS = ROOT.parent / "shared" / "corpus"
KEPT_SNAPSHOTS = 400
"""Snapshots kept (with their ndjson at the time) to check that later frames do not change them."""


MEMOS = frozenset({"_cache_exchanges", "_cache_exposures", "_frozen"})
"""Attributes that only memoise a frozen result (keyed by a version every change moves on): the one state a read
may write, invisible to any later read."""


def parser_state(root: object) -> object:
    """Everything reachable from `root` (a FlowState), as nested tuples that compare equal when no attribute
    anywhere changed: containers by content, objects by their slots and __dict__ (shared ones, and cycles, by
    the order they were first met), opaque objects (ciphers, bound methods) by identity."""
    seen: dict[int, int] = {}

    def walk(obj: object) -> object:
        if obj is None or isinstance(obj, (str, bytes, int, float, bool, type)):
            return obj
        if id(obj) in seen:
            return ("ref", seen[id(obj)])
        seen[id(obj)] = len(seen)
        if isinstance(obj, (list, tuple, deque, set, frozenset)):
            items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
            return (type(obj).__name__, tuple(walk(v) for v in items))
        if isinstance(obj, (bytearray, memoryview)):
            return (type(obj).__name__, bytes(obj))
        if isinstance(obj, dict):
            return ("dict", tuple((walk(k), walk(v)) for k, v in obj.items()))
        names = [n for c in type(obj).__mro__ for n in getattr(c, "__slots__", ())]
        names += list(getattr(obj, "__dict__", {}))
        if not names:
            return ("opaque", type(obj).__name__, id(obj))
        return (
            type(obj).__name__,
            tuple((n, walk(getattr(obj, n, "<unset>"))) for n in names if n not in MEMOS and n != "__dict__"),
        )

    return walk(root)


def load_keylog(path: Path | None) -> KeyLog | None:
    return read_keylog(path) if path is not None else None


def ndjson_lines(flows: Iterable[Flow]) -> list[str]:
    return [_dumps(flow_dict(f, show_secrets=True)) for f in flows]


def read_flows(capture: Path, keylog: Path | None, *, every: int | None, big_step: int = 16384) -> list[Flow]:
    """The flows of a capture, driven as `session.reading.engine_steps` drives the engine; with `every`, the frames are
    pushed `every` at a time and every open flow is snapshotted (twice) after each push."""
    cap = CaptureFile(capture)
    engine = Engine(keylog=load_keylog(keylog), track_updates=bool(every))
    flows: list[Flow] = []
    kept: list[tuple[Flow, str]] = []
    step = every or big_step

    def absorb(seen: int) -> int:
        for stype, data in cap.secrets[seen:]:
            if stype == TLS_KEY_LOG_SECRETS:
                engine.keylog.merge(KeyLog.parse(data))
        return len(cap.secrets)

    with cap:
        seen = absorb(0)
        more = True
        while more:
            more = cap.push(
                engine.process_at, min(step, engine.frames_to_sweep(cap.frames_read)), (0, 1), engine.tcp_at
            )
            engine.passed(cap.frames_read, cap.last_ts)
            if len(cap.secrets) != seen:
                seen = absorb(seen)
            if every:
                before = [parser_state(fs) for fs in engine.flows.values()]
                first = [fs.snapshot() for fs in engine.flows.values()]
                second = [fs.snapshot() for fs in engine.flows.values()]
                assert first == second
                by_id = {f.id: f for f in first}
                for update in engine.updates():  # what the session reports: the same snapshots
                    assert update.id not in by_id or update == by_id[update.id]
                assert [parser_state(fs) for fs in engine.flows.values()] == before, (
                    "a snapshot changed a parser"
                )
                for snap in first:
                    if len(kept) < KEPT_SNAPSHOTS:
                        kept.append((snap, ndjson_lines([snap])[0]))
            flows.extend(engine.drain())
        flows.extend(engine.finish())
    for snap, line in kept:
        assert ndjson_lines([snap])[0] == line, f"snapshot of flow {snap.id} changed after it was taken"
    return flows


def assert_pure(capture: Path, keylog: Path | None, every: int) -> None:
    plain = read_flows(capture, keylog, every=None)
    watched = read_flows(capture, keylog, every=every)
    assert [f.id for f in watched] == [f.id for f in plain]
    assert watched == plain
    assert ndjson_lines(watched) == ndjson_lines(plain)


@pytest.mark.parametrize(("capture", "keylog"), BUNDLED, ids=[f"{c}+{k}" for c, k in BUNDLED])
def test_snapshots_of_open_flows_change_nothing(capture: str, keylog: str | None) -> None:
    assert_pure(CAPTURES / capture, CAPTURES / keylog if keylog else None, every=1)


def _corpus_items() -> list[tuple[str, str | None]]:
    """Corpus captures with their key logs: every one that has a key log (illustrated-*, snet, wireshark), and
    a few that exercise HTTP/1.x pipelining, CONNECT, WebSocket, HTTP/2, QUIC and DTLS in cleartext."""
    index = CORPUS / "expected" / "index.json"
    if not index.is_file():
        return []
    wanted = ("http-connect", "websocket", "http2", "quic-ietf", "quic-retry", "dtls", "pipelin", "chunked")
    out = []
    for e in json.loads(index.read_text())["captures"]:
        cap, kl = e["capture"], e.get("keylog")
        if e.get("error") is not None:
            continue
        if kl or any(w in cap.lower() for w in wanted):
            out.append((cap, kl))
    return out


CORPUS_ITEMS = _corpus_items()


@pytest.mark.corpus
@pytest.mark.parametrize(("capture", "keylog"), CORPUS_ITEMS, ids=[c for c, _ in CORPUS_ITEMS])
def test_corpus_snapshots_change_nothing(capture: str, keylog: str | None) -> None:
    path = CORPUS / capture
    every = 1 if path.stat().st_size < 300_000 else 13  # every k frames for the big ones
    assert_pure(path, CORPUS / keylog if keylog else None, every=every)
