"""Http1Reader: one direction of HTTP/1.x, every way of feeding it (h11's `tr` helper, adapted)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.parse.http1 import (
    Body,
    BodySkipped,
    EndOfMessage,
    Event,
    Http1Reader,
    Opaque,
    PendingRequest,
    RequestHead,
    ResponseHead,
    Violation,
    parse_request_line,
    parse_status_line,
)


def events(reader: Http1Reader) -> list[Event]:
    out: list[Event] = []
    for _ in range(100_000):
        ev = reader.next_event()
        if ev is None:
            return out
        out.append(ev)
    raise AssertionError("reader never ran out of events")


def normalise(evs: list[Event]) -> list[Event]:
    """Merge consecutive Body events (their split depends on the chunking, the bytes do not)."""
    out: list[Event] = []
    for ev in evs:
        if isinstance(ev, Body) and out and isinstance(out[-1], Body):
            out[-1] = Body(out[-1].data + ev.data)
        elif isinstance(ev, Opaque) and out and isinstance(out[-1], Opaque):
            out[-1] = Opaque(out[-1].data + ev.data)
        else:
            out.append(ev)
    return out


def read(
    data: bytes,
    *,
    is_request: bool = True,
    pending: PendingRequest | None = None,
    end: bool = True,
    bytewise: bool = False,
) -> list[Event]:
    reader = Http1Reader(is_request=is_request, pending=lambda: pending)
    out: list[Event] = []
    parts = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    for part in parts:
        reader.receive_data(part, 7)
        out += events(reader)
    if end:
        reader.end(8)
        out += events(reader)
    return normalise(out)


def all_ways(data: bytes, expected: list[Event], **kw: object) -> None:
    assert read(data, **kw) == expected  # type: ignore[arg-type]
    assert read(data, bytewise=True, **kw) == expected  # type: ignore[arg-type]


REQ = b"POST /p?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"


def test_request_with_content_length_all_ways() -> None:
    expected: list[Event] = [
        RequestHead(7, "POST", "/p?q=1", "HTTP/1.1", (("Host", "h"), ("Content-Length", "5"))),
        Body(b"hello"),
        EndOfMessage(7, True, ()),
    ]
    all_ways(REQ, expected)


def test_trailing_bytes_stay_for_the_next_message() -> None:
    reader = Http1Reader(is_request=True)
    reader.receive_data(REQ + b"GET / HTTP/1.1\r\nHo", 1)
    evs = normalise(events(reader))
    assert [type(e) for e in evs] == [RequestHead, Body, EndOfMessage]
    reader.receive_data(b"st: x\r\n\r\n", 2)
    (head, end) = events(reader)
    assert isinstance(head, RequestHead) and head.headers == (("Host", "x"),) and head.frame == 1
    assert end == EndOfMessage(1, True, ())


def test_frames_follow_the_bytes() -> None:
    reader = Http1Reader(is_request=True)
    reader.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab", 3)
    reader.receive_data(b"cd", 4)
    evs = events(reader)
    assert isinstance(evs[0], RequestHead) and evs[0].frame == 3
    assert evs[-1] == EndOfMessage(4, True, ())


def test_chunked_with_extensions_and_trailers() -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n"
    expected: list[Event] = [
        ResponseHead(7, "HTTP/1.1", 200, "OK", (("Transfer-Encoding", "gzip, chunked"),)),
        Body(b"abc"),
        EndOfMessage(7, True, (("X-T", "1"), ("X-U", "2"))),
    ]
    all_ways(data, expected, is_request=False)


def test_response_framing_by_request_method_and_status() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    evs = read(head, is_request=False, pending=PendingRequest("HEAD"))
    assert [type(e) for e in evs] == [ResponseHead, EndOfMessage]
    for status in (b"204 No Content", b"304 Not Modified", b"100 Continue"):
        evs = read(b"HTTP/1.1 " + status + b"\r\nContent-Length: 10\r\n\r\n", is_request=False)
        assert [type(e) for e in evs] == [ResponseHead, EndOfMessage]
    evs = read(b"HTTP/1.1 200 OK\r\n\r\ntunnel bytes", is_request=False, pending=PendingRequest("CONNECT"))
    assert evs[1:] == [EndOfMessage(7, True, ()), Opaque(b"tunnel bytes")]
    # read until close
    evs = read(b"HTTP/1.0 200 OK\r\n\r\nall of it", is_request=False)
    assert evs[1:] == [Body(b"all of it"), EndOfMessage(8, True, ())]


def test_request_pauses_after_upgrade_until_told() -> None:
    reader = Http1Reader(is_request=True)
    reader.receive_data(
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
        1,
    )
    assert [type(e) for e in events(reader)] == [RequestHead, EndOfMessage]
    assert reader.state == "paused"
    reader.resume()
    assert [type(e) for e in events(reader)] == [RequestHead, EndOfMessage]


def test_violations_and_resync() -> None:
    evs = read(b"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert [e.kind for e in evs if isinstance(e, Violation)] == ["http-missing-host", "http-te-and-cl"]
    evs = read(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
    assert "http-content-length-conflict" in [e.kind for e in evs if isinstance(e, Violation)]
    evs = read(b"GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n")
    assert [e.kind for e in evs if isinstance(e, Violation)] == ["http-header-malformed"]
    evs = read(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nHTTP/1.1 204 x\r\n\r\n", is_request=False
    )
    assert [e.kind for e in evs if isinstance(e, Violation)] == ["http-chunk-malformed"]
    assert [e.status for e in evs if isinstance(e, ResponseHead)] == [200, 204]


def test_gap_in_body_is_counted() -> None:
    reader = Http1Reader(is_request=False)
    reader.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", 1)
    events(reader)
    reader.gap(5, 2)
    reader.receive_data(b"cde", 3)
    evs = events(reader)
    assert BodySkipped(5) in evs and evs[-1] == EndOfMessage(3, True, ())


def test_start_lines() -> None:
    assert parse_request_line(b"GET /x HTTP/1.1") is not None
    assert parse_request_line(b"GET  /x  HTTP/1.0") is not None
    assert parse_request_line(b"GET /x") is not None  # 0.9
    assert parse_request_line(b"GET /x", strict=True) is None
    assert parse_request_line(b"FOO /x HTTP/1.1", strict=True) is None
    assert parse_request_line(b"FOO /x HTTP/1.1") is not None
    assert parse_request_line(b"get /x HTTP/1.1") is None
    s = parse_status_line(b"HTTP/1.1 404")
    assert s is not None and (s.status, s.reason) == (404, "")
    s = parse_status_line(b"HTTP/1.0 200 Very OK")
    assert s is not None and s.reason == "Very OK"
    assert parse_status_line(b"HTTP/1.1 20 OK") is None


def test_utf8_header_values_with_replacement() -> None:
    (head, _end) = read(b"GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9 \xff\r\n\r\n")
    assert isinstance(head, RequestHead) and head.headers[1] == ("X-Name", "café \ufffd")


def test_truncated_at_every_offset_never_raises() -> None:
    data = b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nT: 1\r\n\r\n"
    full = read(data)
    for cut in range(len(data)):
        evs = read(data[:cut])
        if data[:cut].strip(b"\r\n"):
            assert any(isinstance(e, Violation) and e.kind == "http-truncated" for e in evs), cut
        assert evs != full


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_fuzz_reader_never_raises(data: bytes, is_request: bool) -> None:
    reader = Http1Reader(is_request=is_request, max_header_bytes=128)
    reader.receive_data(data, 1)
    events(reader)
    reader.gap(3, 2)
    reader.receive_data(data[::-1], 3)
    events(reader)
    reader.end(4)
    events(reader)
