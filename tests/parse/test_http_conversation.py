"""HttpConversation over real traffic: a real http.server and real clients on 127.0.0.1, through a recording relay.

The relay records the exact byte chunks each way in arrival order; the chunks are fed to HttpConversation with the
chunk index (from 1) as the frame number, whole, and byte by byte.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.analysis.exposures import mask
from tlsinspect.model import Exposure
from tlsinspect.parse.http_conversation import (
    HttpConversation,
    looks_like_http_request,
    looks_like_http_response,
)

TIMEOUT = 5.0
Chunk = tuple[bool, bytes]  # (from_client, data)


# ------------------------------------------------------------------------------------------ the recording relay


class Relay:
    """A TCP relay on 127.0.0.1 that records each connection's chunks (from_client, bytes) in arrival order."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.connections: list[list[Chunk]] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.stop = threading.Event()
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        for _ in range(100):
            if self.stop.is_set():
                return
            try:
                client, _addr = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            server = socket.create_connection(("127.0.0.1", self.target_port), timeout=TIMEOUT)
            client.settimeout(TIMEOUT)
            with self.lock:
                chunks: list[Chunk] = []
                self.connections.append(chunks)
            for src, dst, from_client in ((client, server, True), (server, client, False)):
                t = threading.Thread(target=self._pump, args=(src, dst, from_client, chunks), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool, chunks: list[Chunk]) -> None:
        for _ in range(100_000):
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self.lock:  # record before forwarding: the order is the order of arrival
                chunks.append((from_client, data))
                dst.sendall(data)

    def close(self) -> list[list[Chunk]]:
        for t in self.threads:
            t.join(TIMEOUT)
        self.stop.set()
        self.acceptor.join(TIMEOUT)
        self.listener.close()
        return self.connections


# ------------------------------------------------------------------------------------------------ the server


LOGIN_PAGE = b'<html><form method="post" action="/login"><input name="u"><input type="password" name="p"></form></html>'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence the test log
        pass

    def _send(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, ctype: str = "text/plain"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            for _ in range(10_000):
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    for _ in range(100):  # trailers
                        if self.rfile.readline() in (b"\r\n", b"\n", b""):
                            break
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
            return out
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self) -> None:
        if self.path == "/":
            self._send(200, LOGIN_PAGE, {"Set-Cookie": "sid=s3cr3t-session-42; Path=/"}, "text/html")
        elif self.path.startswith("/api"):
            self._send(200, json.dumps({"ok": True}).encode(), ctype="application/json")
        elif self.path == "/private":
            if (
                self.headers.get("Authorization")
                == "Basic " + base64.b64encode(b"alice:wonderland1").decode()
            ):
                self._send(200, b"secret stuff")
            else:
                self._send(401, b"no", {"WWW-Authenticate": 'Basic realm="x"'})
        elif self.path == "/cached":
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.end_headers()
        elif self.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Checksum")
            self.end_headers()
            for piece in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\nX-Checksum: abc\r\n\r\n")
        elif self.path == "/legacy":
            # HTTP/1.0 style: no Content-Length, the body ends when the connection closes.
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"read until close")
            self.close_connection = True
        else:
            self._send(404, b"not found")

    def do_HEAD(self) -> None:
        self._send(200, LOGIN_PAGE, ctype="text/html")

    def do_POST(self) -> None:
        body = self._read_body()
        if self.path == "/login":
            self._send(
                200,
                b'{"token":"t0k3n-abcdef-123456"}',
                {"Set-Cookie": "auth=zz99yy88xx; Secure; HttpOnly"},
                "application/json",
            )
        else:
            self._send(200, b"got %d bytes" % len(body))


@contextmanager
def recorded() -> Iterator[tuple[int, Callable[[], list[list[Chunk]]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    st_thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    st_thread.start()
    relay = Relay(server.server_address[1])
    try:
        yield relay.port, relay.close
    finally:
        server.shutdown()
        server.server_close()
        st_thread.join(TIMEOUT)


def read_until_close(sock: socket.socket) -> bytes:
    out = b""
    for _ in range(10_000):
        data = sock.recv(65536)
        if not data:
            return out
        out += data
    return out


# ----------------------------------------------------------------------------------------------- feeding


def conversation(chunks: list[Chunk], *, bytewise: bool = False) -> HttpConversation:
    conv = HttpConversation()
    last = 0
    for i, (from_client, data) in enumerate(chunks, start=1):
        if bytewise:
            for b in range(len(data)):
                conv.feed(from_client, data[b : b + 1], i)
        else:
            conv.feed(from_client, data, i)
        last = i
    conv.end(True, last + 1)
    conv.end(False, last + 1)
    return conv


def frame_of(chunks: list[Chunk], from_client: bool, needle: bytes) -> int:
    """The chunk index (from 1) in which `needle` starts, in the stream of one direction."""
    stream = b"".join(d for c, d in chunks if c == from_client)
    pos = stream.index(needle)
    offset = 0
    for i, (c, d) in enumerate(chunks, start=1):
        if c != from_client:
            continue
        if offset <= pos < offset + len(d):
            return i
        offset += len(d)
    raise AssertionError(needle)


def kinds(exposures: tuple[Exposure, ...]) -> list[tuple[str, str]]:
    return [(e.kind, e.value) for e in exposures]


def assert_same_all_ways(chunks: list[Chunk]) -> HttpConversation:
    whole = conversation(chunks)
    bytewise = conversation(chunks, bytewise=True)
    assert whole.exchanges == bytewise.exchanges
    assert whole.exposures == bytewise.exposures
    assert whole.anomalies == bytewise.anomalies
    assert whole.websocket_messages == bytewise.websocket_messages
    return whole


# ------------------------------------------------------------------------------------------------- tests


def test_keepalive_session_with_credentials_cookies_json_login_304_head() -> None:
    with recorded() as (port, finish):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        steps: list[tuple[str, str, bytes | None, dict[str, str]]] = [
            ("GET", "/", None, {"User-Agent": "tlsinspect-test/1"}),
            (
                "GET",
                "/private",
                None,
                {"Authorization": "Basic " + base64.b64encode(b"alice:wonderland1").decode()},
            ),
            (
                "GET",
                "/api/items?access_token=AAAAbbbbCCCCdddd&page=2",
                None,
                {"Cookie": "sid=s3cr3t-session-42; lang=en"},
            ),
            (
                "POST",
                "/login",
                json.dumps({"user": "alice", "password": "correct horse"}).encode(),
                {"Content-Type": "application/json"},
            ),
            ("GET", "/cached", None, {"If-None-Match": '"v1"'}),
            ("HEAD", "/", None, {}),
            ("GET", "/stream", None, {"X-Api-Key": "key-1234567890"}),
        ]
        statuses = []
        for method, path, body, headers in steps:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
        conn.close()
        connections = finish()
    assert statuses == [200, 200, 200, 200, 304, 200, 200]
    assert len(connections) == 1
    chunks = connections[0]
    conv = assert_same_all_ways(chunks)
    ex = conv.exchanges
    assert [(e.method, e.uri, e.status) for e in ex] == [
        (m, p, s) for (m, p, _, _), s in zip(steps, statuses, strict=True)
    ]
    assert all(e.host == f"127.0.0.1:{port}" for e in ex)
    assert ex[0].user_agent == "tlsinspect-test/1"
    assert ex[0].response_body_sample == LOGIN_PAGE and ex[0].response_body_len == len(LOGIN_PAGE)
    assert ex[4].response_body_len == 0  # 304
    assert ex[5].response_body_len == 0  # HEAD: Content-Length announced, no body
    assert ("Content-Length", str(len(LOGIN_PAGE))) in ex[5].response_headers
    assert ex[6].response_body_sample == b"hello chunked world"
    assert ex[6].response_headers[-1] == ("X-Checksum", "abc")  # trailer
    assert ex[3].request_body_sample == json.dumps({"user": "alice", "password": "correct horse"}).encode()
    for e, (method, path, _, _) in zip(ex, steps, strict=True):
        assert e.frame == frame_of(chunks, True, f"{method} {path} ".encode())
        assert e.response_frame is not None and e.response_frame > e.frame
    assert conv.anomalies == ()
    got = kinds(conv.exposures)
    expected = [
        ("http-basic-auth", "alice:wonderland1"),
        ("set-cookie", "sid=s3cr3t-session-42"),
        ("cookie", "sid=s3cr3t-session-42"),
        ("cookie", "lang=en"),
        ("token-in-url", "access_token=AAAAbbbbCCCCdddd"),
        ("password-field", "password=correct horse"),
        ("password-field", "token=t0k3n-abcdef-123456"),
        ("set-cookie", "auth=zz99yy88xx"),
        ("api-key-header", "key-1234567890"),
        ("http-request", f"GET 127.0.0.1:{port} /private"),
    ]
    for item in expected:
        assert item in got, item
    basic = next(e for e in conv.exposures if e.kind == "http-basic-auth")
    assert basic.frame == ex[1].frame and basic.where == "request header Authorization"
    assert mask(basic.value) == "al****d1"
    set_cookies = {e.value: e.where for e in conv.exposures if e.kind == "set-cookie"}
    assert set_cookies["sid=s3cr3t-session-42"].endswith("(without Secure, without HttpOnly)")
    assert set_cookies["auth=zz99yy88xx"] == "response header Set-Cookie"
    bodies = [e for e in conv.exposures if e.kind == "http-body"]
    assert any(e.value == LOGIN_PAGE.decode()[:200] for e in bodies)
    assert not conv.is_websocket


def test_pipelined_requests_and_chunked_post_raw_socket() -> None:
    with recorded() as (port, finish):
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        pipelined = (
            b"GET /api/one HTTP/1.1\r\nHost: h\r\n\r\n"
            b"POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4;name=v\r\nabcd\r\n6\r\nefghij\r\n0\r\nX-Sig: 1\r\n\r\n"
            b"GET /cached HTTP/1.1\r\nHost: h\r\n\r\n"
            b"GET /nothere?password=pw123456 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(pipelined)
        reply = read_until_close(sock)
        sock.close()
        chunks = finish()[0]
    assert reply.count(b"HTTP/1.1 ") == 4
    conv = assert_same_all_ways(chunks)
    ex = conv.exchanges
    assert [(e.method, e.uri, e.status) for e in ex] == [
        ("GET", "/api/one", 200),
        ("POST", "/upload", 200),
        ("GET", "/cached", 304),
        ("GET", "/nothere?password=pw123456", 404),
    ]
    assert ex[1].request_body_sample == b"abcdefghij" and ex[1].request_body_len == 10
    assert ex[1].request_headers[-1] == ("X-Sig", "1")
    assert ex[1].response_body_sample == b"got 10 bytes"
    assert ("token-in-url", "password=pw123456") in kinds(conv.exposures)
    assert conv.anomalies == ()


def test_http10_read_until_close_and_frames() -> None:
    with recorded() as (port, finish):
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.sendall(b"GET /legacy HTTP/1.0\r\n\r\n")
        reply = read_until_close(sock)
        sock.close()
        chunks = finish()[0]
    assert reply.endswith(b"read until close")
    conv = assert_same_all_ways(chunks)
    (ex,) = conv.exchanges
    assert ex.version == "HTTP/1.0" and ex.protocol == "http/1.0"
    assert ex.response_body_sample == b"read until close"
    assert ex.frame == 1
    # HTTP/1.0 without Host is fine; nothing malformed.
    assert conv.anomalies == ()
    # Without the end of the stream the body is still open but already counted.
    partial = HttpConversation()
    for i, (c, d) in enumerate(chunks, start=1):
        partial.feed(c, d, i)
    assert partial.exchanges[0].response_body_len == len(b"read until close")


# ------------------------------------------------------------------------------------------- real WebSocket


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_frame(opcode: int, payload: bytes, *, fin: bool = True, mask_key: bytes | None = None) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    mbit = 0x80 if mask_key else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask_key:
        payload = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
        head += mask_key
    return head + payload


def recv_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    for _ in range(10_000):
        if len(out) >= n:
            break
        data = sock.recv(n - len(out))
        if not data:
            raise EOFError
        out += data
    return out


def recv_frame(sock: socket.socket) -> tuple[int, bytes]:
    b0, b1 = recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(sock, 8))[0]
    key = recv_exact(sock, 4) if b1 & 0x80 else None
    payload = recv_exact(sock, n)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return b0 & 0x0F, payload


def recv_head(sock: socket.socket) -> bytes:
    out = b""
    for _ in range(10_000):
        if b"\r\n\r\n" in out:
            break
        out += recv_exact(sock, 1)
    return out


def ws_server(listener: socket.socket, log: list[str]) -> None:
    conn, _ = listener.accept()
    conn.settimeout(TIMEOUT)
    with conn:
        head = recv_head(conn)
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        conn.sendall(ws_frame(0x1, b"welcome, session token=srv-777"))
        for _ in range(20):
            opcode, payload = recv_frame(conn)
            log.append(f"{opcode}:{payload!r}")
            if opcode == 0x9:
                conn.sendall(ws_frame(0xA, payload))
            elif opcode == 0x8:
                conn.sendall(ws_frame(0x8, payload))
                return


def test_real_websocket_exchange() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    log: list[str] = []
    server = threading.Thread(target=ws_server, args=(listener, log), daemon=True)
    server.start()
    relay = Relay(listener.getsockname()[1])
    key = base64.b64encode(os.urandom(16))
    sock = socket.create_connection(("127.0.0.1", relay.port), timeout=TIMEOUT)
    sock.sendall(
        b"GET /chat HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = recv_head(sock)
    assert b" 101 " in head.split(b"\r\n")[0]
    expected_accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    assert expected_accept in head
    assert recv_frame(sock) == (0x1, b"welcome, session token=srv-777")
    mk = os.urandom(4)
    sock.sendall(ws_frame(0x1, b'{"password":"ws-pass-1"}', mask_key=mk))
    sock.sendall(
        ws_frame(0x1, b"frag-one ", fin=False, mask_key=mk) + ws_frame(0x0, b"frag-two", mask_key=mk)
    )
    sock.sendall(ws_frame(0x2, b"\x00\x01\x02", mask_key=mk))
    sock.sendall(ws_frame(0x9, b"ping!", mask_key=mk))
    assert recv_frame(sock) == (0xA, b"ping!")
    sock.sendall(ws_frame(0x8, struct.pack("!H", 1000) + b"bye", mask_key=mk))
    assert recv_frame(sock)[0] == 0x8
    sock.close()
    server.join(TIMEOUT)
    listener.close()
    chunks = relay.close()[0]
    assert log[-1].startswith("8:")
    conv = assert_same_all_ways(chunks)
    assert conv.is_websocket
    assert conv.websocket_messages == 4  # server text, client text, fragmented text, binary
    (ex,) = conv.exchanges
    assert ex.status == 101 and ex.protocol == "websocket" and ex.host == "chat.example"
    ws = [(e.where, e.value) for e in conv.exposures if e.kind == "websocket-message"]
    assert ws == [
        ("websocket text message from server", "welcome, session token=srv-777"),
        ("websocket text message from client", '{"password":"ws-pass-1"}'),
        ("websocket text message from client", "frag-one frag-two"),
    ]
    first = next(e for e in conv.exposures if e.kind == "websocket-message")
    assert first.frame == frame_of(chunks, False, b"\x81\x1ewelcome")
    assert conv.anomalies == ()
    # Sec-WebSocket-Key is a public nonce, not a secret header.
    assert not any(e.kind == "secret-header" for e in conv.exposures)


# ----------------------------------------------------------------------------------- synthetic corner cases


def feed_all(conv: HttpConversation, client: bytes, server: bytes) -> HttpConversation:
    conv.feed(True, client, 1)
    conv.feed(False, server, 2)
    conv.end(True, 3)
    conv.end(False, 3)
    return conv


def test_connect_407_then_authorised_connect_then_tunnel() -> None:
    client1 = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    server1 = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=p\r\nContent-Length: 0\r\n\r\n"
    auth = base64.b64encode(b"proxyuser:proxypass").decode().encode()
    client2 = (
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic "
        + auth
        + b"\r\n\r\n"
    )
    server2 = b"HTTP/1.1 200 Connection established\r\n\r\n"
    conv = HttpConversation()
    conv.feed(True, client1, 1)
    conv.feed(False, server1, 2)
    conv.feed(True, client2, 3)
    conv.feed(True, b"\x16\x03\x01\x00\x05hello", 4)  # ClientHello sent before the 200 arrives: held
    conv.feed(False, server2, 5)
    conv.feed(False, b"\x16\x03\x03\x00\x02hi", 6)
    assert [(e.method, e.status) for e in conv.exchanges] == [("CONNECT", 407), ("CONNECT", 200)]
    assert conv.exchanges[1].host == "example.com:443"
    assert ("http-basic-auth", "proxyuser:proxypass") in kinds(conv.exposures)
    assert conv.is_tunnel and not conv.is_websocket
    assert conv.tunnel_bytes == (10, 7)
    assert [a.kind for a in conv.anomalies] == ["http-tunnel"]


def test_interim_100_continue_does_not_consume_request() -> None:
    client = b"POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"
    server = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    conv = feed_all(HttpConversation(), client, server)
    (ex,) = conv.exchanges
    assert (ex.status, ex.response_body_sample, ex.request_body_sample) == (201, b"ok", b"abc")


def test_lenient_bare_lf_obs_fold_missing_host_http09() -> None:
    client = b"GET /a HTTP/1.1\nX-Folded: one\n  two\n\nGET /old\r\n"
    server = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi<html>old</html>"
    conv = feed_all(HttpConversation(), client, server)
    a, b = conv.exchanges
    assert ("X-Folded", "one two") in a.request_headers
    assert (a.status, a.response_body_sample) == (200, b"hi")
    assert (b.version, b.protocol, b.status, b.response_body_sample) == (
        "HTTP/0.9",
        "http/0.9",
        None,
        b"<html>old</html>",
    )
    assert {x.kind for x in conv.anomalies} == {"http-bare-lf", "http-obs-fold", "http-missing-host"}


def test_garbage_then_resync() -> None:
    client = b"\x00\x01binary junk\r\nmore junk\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n"
    server = b"garbage\r\nHTTP/1.1 204 No Content\r\n\r\n"
    conv = feed_all(HttpConversation(), client, server)
    assert [(e.uri, e.status) for e in conv.exchanges] == [("/after", 204)]
    assert [x.kind for x in conv.anomalies] == ["http-garbage", "http-garbage"]


def test_header_cap_and_body_sample_cap_and_exchange_cap() -> None:
    big = (
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    conv = HttpConversation(max_header_bytes=1024)
    conv.feed(True, big, 1)
    assert [e.uri for e in conv.exchanges] == ["/ok"]
    assert conv.anomalies[0].kind == "http-header-too-large"

    body = b"x" * 10_000
    conv = HttpConversation(body_sample_limit=100)
    feed_all(conv, b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n" + body, b"")
    (ex,) = conv.exchanges
    assert ex.request_body_len == 10_000 and len(ex.request_body_sample) == 100

    conv = HttpConversation(max_exchanges=3)
    conv.feed(True, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 5, 1)
    conv.feed(False, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" * 5, 2)
    assert len(conv.exchanges) == 3 and all(e.status == 200 for e in conv.exchanges)
    assert [a.kind for a in conv.anomalies] == ["http-too-many-exchanges"]
    assert "2 exchanges" in conv.anomalies[0].message


def test_gap_inside_body_resyncs_and_gap_in_head_loses_until_next_message() -> None:
    conv = HttpConversation()
    conv.feed(True, b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + b"y" * 10, 1)
    conv.gap(True, 50, 2)
    conv.feed(True, b"z" * 40 + b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n", 3)
    assert [(e.uri, e.request_body_len) for e in conv.exchanges] == [("/a", 100), ("/b", 0)]
    assert [a.kind for a in conv.anomalies] == ["http-gap-in-body"]

    conv = HttpConversation()
    conv.feed(True, b"GET /a HTTP/1.1\r\nHo", 1)
    conv.gap(True, 30, 2)
    conv.feed(True, b"rest of some header\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n", 3)
    assert [e.uri for e in conv.exchanges] == ["/c"]
    assert [a.kind for a in conv.anomalies] == ["http-gap"]


def test_end_marks_truncated_message() -> None:
    conv = HttpConversation()
    conv.feed(True, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1)
    conv.feed(False, b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", 2)
    conv.end(False, 3)
    assert conv.exchanges[0].response_body_len == 5
    assert [a.kind for a in conv.anomalies] == ["http-truncated"]


def test_inside_tls_flag_and_no_observer_kinds() -> None:
    conv = feed_all(
        HttpConversation(inside_tls=True),
        b"GET /p?token=abcdefgh123 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok",
    )
    assert conv.exchanges[0].inside_tls
    assert kinds(conv.exposures) == [("token-in-url", "token=abcdefgh123")]
    assert conv.exposures[0].inside_tls


def test_looks_like() -> None:
    assert looks_like_http_request(b"GET / HTTP/1.1\r\nHost: a\r\n")
    assert looks_like_http_request(b"PROPFIND /dav HTTP/1.1\r\n")
    assert looks_like_http_request(b"POST /x")  # no full line yet
    assert looks_like_http_request(b"GET /old\r\n")  # HTTP/0.9
    assert not looks_like_http_request(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert not looks_like_http_request(b"\x16\x03\x01\x02\x00")
    assert not looks_like_http_request(b"get / HTTP/1.1\r\n")
    assert not looks_like_http_request(b"GET / FOO/1.1\r\n")
    assert looks_like_http_response(b"HTTP/1.1 200 OK\r\n")
    assert looks_like_http_response(b"HTTP/1.0 404")
    assert not looks_like_http_response(b"HTTP/2 200")
    assert not looks_like_http_response(b"HTTP/1.1 2")


# ------------------------------------------------------------------------------ every offset, every chunking

SAMPLE_CLIENT = (
    b"POST /login HTTP/1.1\r\nHost: a\r\nCookie: s=1\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\npass=\r\n4\r\n1234\r\n0\r\n\r\n"
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    + ws_frame(0x1, b"hello there", mask_key=b"abcd")
)
SAMPLE_SERVER = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nSet-Cookie: s=2\r\n\r\nfine"
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    + ws_frame(0x1, b"hi back")
)


def run(client_parts: list[bytes], server_parts: list[bytes]) -> tuple[object, ...]:
    conv = HttpConversation()
    for p in client_parts:
        conv.feed(True, p, 1)
    for p in server_parts:
        conv.feed(False, p, 1)
    conv.end(True, 1)
    conv.end(False, 1)
    return conv.exchanges, conv.exposures, conv.anomalies, conv.websocket_messages


def test_sample_whole_bytewise_trailing_junk() -> None:
    whole = run([SAMPLE_CLIENT], [SAMPLE_SERVER])
    exchanges, exposures, anomalies, n = whole
    assert n == 2 and anomalies == ()
    bytewise = run(
        [SAMPLE_CLIENT[i : i + 1] for i in range(len(SAMPLE_CLIENT))],
        [SAMPLE_SERVER[i : i + 1] for i in range(len(SAMPLE_SERVER))],
    )
    assert bytewise == whole
    # trailing junk after a complete plain exchange: the exchange is intact, the junk is an anomaly
    conv = HttpConversation()
    conv.feed(True, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\xff\xfe junk", 1)
    conv.end(True, 2)
    assert conv.exchanges[0].uri == "/"
    assert [a.kind for a in conv.anomalies] == ["http-garbage"]


@pytest.mark.parametrize("direction", ["client", "server"])
def test_truncated_at_every_offset(direction: str) -> None:
    data = SAMPLE_CLIENT if direction == "client" else SAMPLE_SERVER
    for cut in range(len(data) + 1):
        client = data[:cut] if direction == "client" else SAMPLE_CLIENT
        server = data[:cut] if direction == "server" else SAMPLE_SERVER
        exchanges, _exposures, anomalies, _ = run([client], [server])
        assert isinstance(exchanges, tuple) and isinstance(anomalies, tuple)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.binary(max_size=64)), max_size=20),
    st.lists(st.tuples(st.booleans(), st.integers(0, 200)), max_size=3),
)
def test_fuzz_feed_never_raises(chunks: list[tuple[bool, bytes]], gaps: list[tuple[bool, int]]) -> None:
    conv = HttpConversation(max_header_bytes=512, body_sample_limit=32)
    for i, (c, d) in enumerate(chunks, start=1):
        conv.feed(c, d, i)
        if gaps and i % 4 == 0:
            g = gaps.pop()
            conv.gap(g[0], g[1], i)
    conv.end(True, 99)
    conv.end(False, 99)
    assert isinstance(conv.exchanges, tuple) and isinstance(conv.exposures, tuple)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(SAMPLE_CLIENT)), st.integers(0, len(SAMPLE_SERVER)), st.binary(max_size=40))
def test_fuzz_valid_prefix_plus_noise(cut_c: int, cut_s: int, noise: bytes) -> None:
    conv = HttpConversation()
    conv.feed(True, SAMPLE_CLIENT[:cut_c] + noise, 1)
    conv.feed(False, SAMPLE_SERVER[:cut_s] + noise, 2)
    conv.end(True, 3)
    conv.end(False, 3)
    assert isinstance(conv.anomalies, tuple)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_any_chunking_same_result(sizes: list[int]) -> None:
    def split(data: bytes) -> list[bytes]:
        out, pos, i = [], 0, 0
        while pos < len(data):
            n = sizes[i % len(sizes)]
            out.append(data[pos : pos + n])
            pos += n
            i += 1
        return out

    assert run(split(SAMPLE_CLIENT), split(SAMPLE_SERVER)) == run([SAMPLE_CLIENT], [SAMPLE_SERVER])


# ---------------------------------------------------------------------- response bodies counted off (engine skip)


def _play(script: list[tuple[str, bytes | int]], *, skip: bool, peek: bool = False) -> HttpConversation:
    """Play ("c"/"s", bytes), ("gap", n) and ("end", 0) steps, as the engine would: with `skip`, in-order
    server bytes that fit in `response_skipper.skip` are subtracted there and never fed."""
    conv = HttpConversation(body_sample_limit=64)
    skipper = conv.response_skipper
    for frame, (what, data) in enumerate(script, 1):
        if what == "gap":
            assert isinstance(data, int)
            conv.gap(False, data, frame)
        elif what == "end":
            conv.end(False, frame)
        else:
            assert isinstance(data, bytes)
            if what == "s" and skip and skipper.skip >= len(data):
                skipper.skip -= len(data)
            else:
                conv.feed(what == "c", data, frame)
        if peek and frame % 3 == 0:
            conv.exchanges  # noqa: B018 - a live view reads the conversation mid-way
    return conv


def _responses(sizes: list[int], chunked: list[bool]) -> bytes:
    out = b""
    for i, (n, ch) in enumerate(zip(sizes, chunked, strict=False)):
        body = bytes((i + k) % 251 for k in range(n))
        if ch:
            out += b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            for k in range(0, n, 700):
                part = body[k : k + 700]
                out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
            out += b"0\r\n\r\n"
        else:
            out += f"HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n".encode() + body
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 5000), min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.lists(st.integers(1, 1500), min_size=1, max_size=40),
    st.integers(0, 30),
    st.sampled_from(["whole", "gap", "end"]),
    st.booleans(),
)
def test_counting_off_response_bodies_changes_nothing(
    sizes: list[int], chunked: list[bool], cuts: list[int], where: int, how: str, peek: bool
) -> None:
    """Counting off response body bytes (`response_skipper`) gives the same exchanges and anomalies as feeding
    them: whole bodies, chunked ones, a gap in a body, a capture that ends in one, a live view reading mid-way."""
    stream = _responses(sizes, chunked)
    parts: list[tuple[str, bytes | int]] = [
        ("c", b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(len(sizes))))
    ]
    pos = 0
    for i, n in enumerate(cuts * 20):
        if pos >= len(stream):
            break
        if i == where and how == "gap":
            parts.append(("gap", n))
            pos += n
            continue
        if i == where and how == "end":
            break
        parts.append(("s", stream[pos : pos + n]))
        pos += n
    parts.append(("end", 0))
    fed, counted = _play(parts, skip=False), _play(parts, skip=True, peek=peek)
    assert counted.exchanges == fed.exchanges
    assert counted.anomalies == fed.anomalies


def test_response_skipper_is_granted_once_the_sample_is_full() -> None:
    conv = HttpConversation(body_sample_limit=10)
    conv.feed(True, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1)
    conv.feed(False, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 5, 2)
    assert conv.response_skipper.skip == 0  # the sample still has room
    conv.feed(False, b"x" * 20, 3)
    assert conv.response_skipper.skip == 1000 - 25 - 1  # all but the last byte, which ends the message
    conv.response_skipper.skip -= 500  # the engine counts off 500 bytes
    assert conv.exchanges[0].response_body_len == 525
    conv.feed(False, b"x" * 475, 4)
    (ex,) = conv.exchanges
    assert ex.response_body_len == 1000 and ex.status == 200 and len(ex.response_body_sample) == 10


def test_reading_mid_body_books_nothing() -> None:
    """`exchanges` and `exposures` of an open conversation count the bytes the engine counted off so far, but
    leave the skip granted to the engine, and the reader, as they were: reading is not a step of the parser."""
    conv = HttpConversation(body_sample_limit=10)
    conv.feed(True, b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic YTpi\r\n\r\n", 1)
    conv.feed(False, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 25, 2)
    skipper = conv.response_skipper
    skipper.skip -= 500  # the engine counts off 500 bytes
    before = (skipper.skip, skipper._skip_granted, skipper._remaining, skipper._received, skipper._base)
    first = conv.exchanges
    assert first[0].response_body_len == 525
    assert conv.exposures == conv.exposures
    assert conv.exchanges == first
    assert (
        skipper.skip,
        skipper._skip_granted,
        skipper._remaining,
        skipper._received,
        skipper._base,
    ) == before
    skipper.skip -= 100  # more counted off after the read: the engine's grant still stands
    assert conv.exchanges[0].response_body_len == 625
    conv.feed(False, b"x" * 375, 3)
    (ex,) = conv.exchanges
    assert ex.response_body_len == 1000 and ex.status == 200
