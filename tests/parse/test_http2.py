"""HTTP/2 passive reading on bytes produced by a real h2 client and server pair (the `h2` library)."""

from __future__ import annotations

import h2.config
import h2.connection
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.parse.http2 import PREFACE, H2Conversation, looks_like_h2_preface


def h2_exchange() -> list[tuple[bool, bytes]]:
    """Two requests (one POST with a body) and their responses, as the wire bytes in order."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    writes: list[tuple[bool, bytes]] = []

    def pump() -> None:
        for _ in range(10):
            c, s = client.data_to_send(), server.data_to_send()
            if not c and not s:
                return
            if c:
                writes.append((True, c))
                server.receive_data(c)
            if s:
                writes.append((False, s))
                client.receive_data(s)

    client.initiate_connection()
    server.initiate_connection()
    pump()
    client.send_headers(
        1,
        [
            (":method", "GET"),
            (":path", "/account"),
            (":authority", "shop.test"),
            (":scheme", "https"),
            ("cookie", "sid=abcdef123456"),
        ],
        end_stream=True,
    )
    client.send_headers(
        3,
        [
            (":method", "POST"),
            (":path", "/login"),
            (":authority", "shop.test"),
            (":scheme", "https"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
    )
    client.send_data(3, b"user=alice&password=hunter2hunter2", end_stream=True)
    pump()
    server.send_headers(1, [(":status", "200"), ("content-type", "text/html")])
    server.send_data(1, b"<html>hi</html>", end_stream=True)
    server.send_headers(3, [(":status", "302"), ("location", "/")], end_stream=True)
    pump()
    return writes


def feed(writes: list[tuple[bool, bytes]], chunk: int | None = None) -> H2Conversation:
    conv = H2Conversation(inside_tls=True)
    for i, (fc, data) in enumerate(writes, 1):
        if chunk is None:
            conv.feed(fc, data, i)
        else:
            for k in range(0, len(data), chunk):
                conv.feed(fc, data[k : k + chunk], i)
    return conv


def test_exchanges_and_exposures() -> None:
    conv = feed(h2_exchange())
    ex = conv.exchanges
    assert [(e.method, e.uri, e.host, e.status, e.protocol) for e in ex] == [
        ("GET", "/account", "shop.test", 200, "h2"),
        ("POST", "/login", "shop.test", 302, "h2"),
    ]
    assert ex[0].response_body_len == len(b"<html>hi</html>")
    assert ex[1].request_body_sample == b"user=alice&password=hunter2hunter2"
    kinds = {(e.kind, e.value) for e in conv.exposures}
    assert ("cookie", "sid=abcdef123456") in kinds
    assert any(k == "password-field" and "hunter2hunter2" in v for k, v in kinds)
    assert all(e.inside_tls for e in conv.exposures)
    assert conv.anomalies == ()


def test_byte_by_byte_equals_whole() -> None:
    writes = h2_exchange()
    assert feed(writes, chunk=1).exchanges == feed(writes).exchanges


def test_missing_preface_is_an_anomaly() -> None:
    conv = H2Conversation()
    conv.feed(True, b"GET / HTTP/1.1\r\n\r\n", 1)
    assert [a.kind for a in conv.anomalies] == ["h2-no-preface"]
    assert conv.exchanges == ()


def test_preface_detection() -> None:
    assert looks_like_h2_preface(PREFACE)
    assert looks_like_h2_preface(PREFACE[:6])
    assert not looks_like_h2_preface(b"GET / HTTP/1.1")
    assert not looks_like_h2_preface(b"PR")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=200)), max_size=12))
def test_fuzz_never_raises(chunks: list[tuple[bool, bytes]]) -> None:
    conv = H2Conversation()
    conv.feed(True, PREFACE, 1)
    for i, (fc, data) in enumerate(chunks, 2):
        conv.feed(fc, data, i)
    conv.exchanges  # noqa: B018 - building the exchanges must not raise either
    conv.exposures  # noqa: B018
