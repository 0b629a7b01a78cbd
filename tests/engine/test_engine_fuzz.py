"""The whole engine under damaged input: real frames with flipped bytes, cuts and shuffles never cause an
internal error (every problem is an anomaly on a flow or on the capture), and every frame is accounted for."""

from __future__ import annotations

import random
import ssl

import pytest
from conversations import tcp_frames, tls_conversation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsinspect.engine.engine import Engine


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    tmp = tmp_path_factory.mktemp("fuzz")
    out = tcp_frames(tls_conversation(tmp, version=ssl.TLSVersion.TLSv1_2), mss=300)
    out += tcp_frames(tls_conversation(tmp, sni="b.example"), mss=500, client=(bytes([10, 0, 0, 3]), 40001))
    req = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nCookie: a=b\r\n\r\nabcd"
    out += tcp_frames(
        [(True, req), (False, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n")]
    )
    return out


def check(frames: list[bytes], link_type: int = 1) -> None:
    eng = Engine()
    for i, f in enumerate(frames, 1):
        eng.process(i, 1_700_000_000.0 + i, link_type, f)
    flows = list(eng.finish())
    assert eng.accounted() == eng.counts["frames"] == len(frames)
    internal = [a.message for f in flows for a in f.anomalies if a.kind == "internal-error"]
    internal += [a.message for a in eng.anomalies if a.kind == "internal-error"]
    assert internal == []
    for f in flows:  # the writers must cope with whatever the engine produced
        from tlsinspect.output.jsonout import flow_dict

        flow_dict(f)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 40))
def test_flipped_bytes(frames: list[bytes], seed: int, flips: int) -> None:
    rng = random.Random(seed)
    damaged = [bytearray(f) for f in frames]
    for _ in range(flips):
        f = rng.choice(damaged)
        pos = rng.randrange(14, len(f)) if len(f) > 14 else 0
        f[pos] = rng.randrange(256)
    check([bytes(f) for f in damaged])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_cut_dropped_and_shuffled_frames(frames: list[bytes], seed: int) -> None:
    rng = random.Random(seed)
    out = []
    for f in frames:
        r = rng.random()
        if r < 0.1:
            continue  # lost
        if r < 0.2:
            f = f[: rng.randrange(len(f))]  # truncated by a short snaplen
        out.append(f)
    for _ in range(len(out) // 5):
        i, j = rng.randrange(len(out)), rng.randrange(len(out))
        out[i], out[j] = out[j], out[i]
    check(out)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=300), max_size=20),
    st.sampled_from([0, 1, 101, 113, 276, 9, 12, 228, 229, 147]),
)
def test_random_frames_any_link_type(blobs: list[bytes], link_type: int) -> None:
    check(blobs, link_type)
