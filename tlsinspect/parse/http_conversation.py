"""Both directions of one connection's HTTP/1.x traffic, paired into exchanges (sans-IO).

The engine feeds in-order stream bytes per direction (`feed`), reports capture gaps (`gap`) and the end of a
direction (`end`), and reads frozen results (`exchanges`, `exposures`, `anomalies`). Nothing here raises for
any input: malformed traffic becomes an `Anomaly` (layer "http") and the parsers resynchronise.

Pairing: responses answer requests in order (keep-alive and pipelining); 1xx interim responses (except 101) do
not consume a request; a response with no request seen (capture started mid-connection) becomes an exchange of its
own. After ``101 Switching Protocols`` to a WebSocket upgrade both directions are read as RFC 6455 frames; after
another 101 or a ``CONNECT`` answered 2xx the rest of the connection is an opaque tunnel, counted, not parsed
(recorded as the anomaly "http-tunnel"). A client that sends a CONNECT or an Upgrade request is held until the
response says whether the switch happened, so a ``407`` followed by a second ``CONNECT`` with
``Proxy-Authorization`` on the same connection is read correctly.

Bounded: header blocks (``max_header_bytes``), body samples (``body_sample_limit``; the rest is counted), the
exchange list (``max_exchanges``; the overflow is counted in one anomaly), anomalies, WebSocket messages kept as
exposures.
"""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urlsplit

from tlsinspect.errors import DecodeError
from tlsinspect.model import Anomaly, Exposure, HttpExchange, evolve
from tlsinspect.parse.http1 import (
    KNOWN_METHODS,
    Body,
    BodySkipped,
    EndOfMessage,
    Event,
    Headers,
    Http1Reader,
    Opaque,
    OpaqueGap,
    PendingRequest,
    RequestHead,
    ResponseHead,
    Violation,
    header_tokens,
    header_values,
    parse_request_line,
)
from tlsinspect.parse.secrets import dedupe, http_exposures
from tlsinspect.parse.websocket import WebSocketParser

MAX_ANOMALIES = 200
"""Anomalies kept per conversation; the rest are counted in one closing anomaly."""
MAX_PENDING = 10_000
"""Requests waiting for a response; past this the oldest is forgotten (a server that never answers)."""
MAX_WS_EXPOSURES = 1000
"""WebSocket text messages kept as exposures per conversation (all are counted)."""
WS_VALUE_CHARS = 512

_RESPONSE_RE = re.compile(rb"HTTP/1\.[01] \d{3}")


def looks_like_http_request(data: bytes) -> bool:
    """Whether the first bytes of a client stream look like an HTTP/1.x request.

    A known method token and a space; when a whole line is present it must also end in "HTTP/1.x" (or be an
    HTTP/0.9 ``GET /path``).
    """
    sp = data.find(b" ", 0, 33)
    if sp <= 0:
        nl = data.find(b"\n", 0, 33)
        return nl > 0 and data[:nl].rstrip(b"\r") in KNOWN_METHODS  # "OPTIONS\n": a bare method line
    nl = data.find(b"\n")
    if data[:sp] not in KNOWN_METHODS:
        # An extension method (RPC_IN_DATA, CCM_POST...): only with a whole line that ends in HTTP/1.x.
        if nl < 0:
            return False
        req = parse_request_line(data[:nl].rstrip(b"\r"))
        return req is not None and req.version.startswith("HTTP/1.")
    if nl < 0:
        return len(data) <= 8192 and b"\r" not in data and b"\x00" not in data
    req = parse_request_line(data[:nl].rstrip(b"\r"))
    return req is not None and (req.version.startswith("HTTP/1.") or req.version == "HTTP/0.9")


def looks_like_http_response(data: bytes) -> bool:
    """Whether the first bytes of a server stream are an HTTP/1.0 or HTTP/1.1 status line."""
    return _RESPONSE_RE.match(data) is not None


def _protocol(version: str | None) -> str:
    if version is None:
        return "http/1.1"
    return version.lower()


def _host_of(uri: str, headers: Headers, method: str) -> str | None:
    if method == "CONNECT":
        return uri or None
    if "://" in uri[:16]:
        try:
            netloc = urlsplit(uri).netloc
        except ValueError:
            netloc = ""
        if netloc:
            return netloc.rpartition("@")[2]
    hosts = header_values(headers, "host")
    return hosts[0] if hosts else None


class _Exchange:
    """Mutable state of one exchange while it is being read."""

    __slots__ = (
        "frame",
        "method",
        "uri",
        "version",
        "request_headers",
        "request_body_len",
        "request_sample",
        "status",
        "reason",
        "response_version",
        "response_headers",
        "response_body_len",
        "response_sample",
        "response_frame",
        "protocol",
        "http09",
        "switch_requested",
        "stored",
        "_frozen",
    )

    def __init__(self, frame: int | None) -> None:
        self.frame = frame
        self.method: str | None = None
        self.uri: str | None = None
        self.version: str | None = None
        self.request_headers: list[tuple[str, str]] = []
        self.request_body_len = 0
        self.request_sample = bytearray()
        self.status: int | None = None
        self.reason: str | None = None
        self.response_version: str | None = None
        self.response_headers: list[tuple[str, str]] = []
        self.response_body_len = 0
        self.response_sample = bytearray()
        self.response_frame: int | None = None
        self.protocol: str | None = None
        self.http09 = False
        self.switch_requested = False
        self.stored = False
        self._frozen: HttpExchange | None = None

    def changed(self) -> None:
        self._frozen = None

    def freeze(self, inside_tls: bool) -> HttpExchange:
        if self._frozen is None:
            req_headers = tuple(self.request_headers)
            version = self.version or self.response_version
            self._frozen = HttpExchange(
                frame=self.frame,
                method=self.method,
                uri=self.uri,
                host=_host_of(self.uri or "", req_headers, self.method or ""),
                version=version,
                user_agent=next((v for n, v in req_headers if n.lower() == "user-agent"), None),
                status=self.status,
                reason=self.reason,
                inside_tls=inside_tls,
                request_headers=req_headers,
                response_headers=tuple(self.response_headers),
                request_body_len=self.request_body_len,
                response_body_len=self.response_body_len,
                request_body_sample=bytes(self.request_sample),
                response_body_sample=bytes(self.response_sample),
                response_frame=self.response_frame,
                protocol=self.protocol or _protocol(version),
            )
        return self._frozen


class HttpConversation:
    """Both directions of one connection's HTTP/1.x traffic (cleartext, or decrypted from TLS)."""

    def __init__(
        self,
        *,
        inside_tls: bool = False,
        body_sample_limit: int = 4096,
        max_header_bytes: int = 64 * 1024,
        max_exchanges: int = 10_000,
    ) -> None:
        self.inside_tls = inside_tls
        self.body_sample_limit = body_sample_limit
        self.max_exchanges = max_exchanges
        self._client = Http1Reader(is_request=True, max_header_bytes=max_header_bytes)
        self._server = Http1Reader(is_request=False, max_header_bytes=max_header_bytes, pending=self._peek)
        self._stored: list[_Exchange] = []
        self._pending: deque[_Exchange] = deque()
        self._cur_req: _Exchange | None = None
        self._cur_resp: _Exchange | None = None
        self._anomalies: list[Anomaly] = []
        self._anomalies_dropped = 0
        self._overflow = 0
        self._pending_dropped = 0
        self._mode = "http"
        """"http", "websocket" or "tunnel"."""
        self._ws: dict[bool, WebSocketParser | None] = {}
        self._ws_messages = 0
        self._ws_exposures: list[Exposure] = []
        self._ws_exposures_dropped = 0
        self._tunnel_bytes = [0, 0]
        self._version = 0
        self._cache_exchanges: tuple[int, tuple[HttpExchange, ...]] = (-1, ())
        self._cache_exposures: tuple[tuple[int, int], tuple[Exposure, ...]] = ((-1, 0), ())

    # --------------------------------------------------------------------------------------------- API

    @property
    def response_skipper(self) -> Http1Reader:
        """What the engine counts off response body bytes from (`TcpDirection.skipper`): the server reader,
        whose `skip` is granted once the response's body sample is full. Request bodies are always fed (the
        flow looks for a TLS ClientHello in what the client sends)."""
        return self._server

    def feed(self, from_client: bool, data: bytes, frame: int) -> None:
        """In-order stream bytes of one direction. Never raises."""
        if not data:
            return
        self._settle()
        reader = self._client if from_client else self._server
        if reader.inside_body(len(data)):  # bulk body bytes: counted and sampled without events
            self._add_body(self._cur_req if from_client else self._cur_resp, data, response=not from_client)
        else:
            reader.receive_data(data, frame)
            self._drain(from_client, frame)
        if not from_client and self._cur_resp is not None and self._mode == "http":
            if len(self._cur_resp.response_sample) >= self.body_sample_limit:
                reader.allow_skip()

    def gap(self, from_client: bool, length: int, frame: int) -> None:
        """``length`` bytes of this direction are missing from the capture."""
        if length <= 0:
            return
        self._settle()
        reader = self._client if from_client else self._server
        reader.gap(length, frame)
        self._drain(from_client, frame)

    def end(self, from_client: bool, frame: int) -> None:
        """FIN/RST/end of capture for this direction."""
        self._settle()
        reader = self._client if from_client else self._server
        reader.end(frame)
        self._drain(from_client, frame)

    def _settle(self) -> None:
        """Count the response body bytes the engine counted off (`response_skipper`) into the response."""
        n = self._server.settle()
        if n and self._cur_resp is not None:
            self._cur_resp.response_body_len += n
            self._touch(self._cur_resp)

    @property
    def exchanges(self) -> tuple[HttpExchange, ...]:
        """The exchanges so far, frozen. Reading them changes nothing a later read or the final result could see
        (an open flow is snapshotted while it is being read): response body bytes the engine counted off since
        the last `feed` are added to the current response here, and booked into it only by the next `feed`,
        `gap` or `end`. The only state written is the memo of frozen exchanges, keyed by `_version`, which every
        change of an exchange or of the list moves on."""
        if self._cache_exchanges[0] != self._version:
            frozen = tuple(ex.freeze(self.inside_tls) for ex in self._stored)
            self._cache_exchanges = (self._version, frozen)
        frozen = self._cache_exchanges[1]
        n = self._server.counted_off
        cur = self._cur_resp
        if n and cur is not None and cur.stored:
            i = len(self._stored) - 1
            while self._stored[i] is not cur:  # the current response is one of the last exchanges
                i -= 1
            settled = evolve(frozen[i], response_body_len=frozen[i].response_body_len + n)
            frozen = (*frozen[:i], settled, *frozen[i + 1 :])
        return frozen

    @property
    def exposures(self) -> tuple[Exposure, ...]:
        key = (self._version, self._server.counted_off)
        if self._cache_exposures[0] != key:
            found = dedupe([*http_exposures(self.exchanges), *self._ws_exposures])
            self._cache_exposures = (key, found)
        return self._cache_exposures[1]

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        counted = (
            (
                self._overflow,
                "http-too-many-exchanges",
                f"exchanges beyond the limit of {self.max_exchanges} not kept",
            ),
            (self._pending_dropped, "http-unanswered-requests", "requests never answered were forgotten"),
            (
                self._ws_exposures_dropped,
                "websocket-messages-not-kept",
                "WebSocket text messages counted but not kept",
            ),
            (self._anomalies_dropped, "http-anomalies-capped", "more HTTP anomalies not kept"),
        )
        out = list(self._anomalies)
        out += [Anomaly(layer="http", kind=kind, message=f"{n} {what}") for n, kind, what in counted if n]
        return tuple(out)

    @property
    def is_websocket(self) -> bool:
        return self._mode == "websocket"

    @property
    def websocket_messages(self) -> int:
        """WebSocket data messages (text and binary) seen in both directions."""
        return self._ws_messages

    @property
    def is_tunnel(self) -> bool:
        """The connection became an opaque tunnel (CONNECT 2xx, or a non-WebSocket 101)."""
        return self._mode == "tunnel"

    @property
    def tunnel_bytes(self) -> tuple[int, int]:
        """Opaque bytes after the switch (client, server), tunnel or WebSocket."""
        return (self._tunnel_bytes[0], self._tunnel_bytes[1])

    # -------------------------------------------------------------------------------------- internals

    def _peek(self) -> PendingRequest | None:
        if not self._pending:
            return None
        ex = self._pending[0]
        return PendingRequest(ex.method, ex.http09)

    def _touch(self, ex: _Exchange | None = None) -> None:
        self._version += 1
        if ex is not None:
            ex.changed()

    def _anomaly(self, kind: str, message: str, frame: int | None) -> None:
        self._version += 1
        if len(self._anomalies) >= MAX_ANOMALIES:
            self._anomalies_dropped += 1
            return
        self._anomalies.append(Anomaly(layer="http", kind=kind, message=message, frame=frame))

    def _new_exchange(self, frame: int | None) -> _Exchange:
        ex = _Exchange(frame)
        if len(self._stored) < self.max_exchanges:
            ex.stored = True
            self._stored.append(ex)
        else:
            self._overflow += 1
        self._touch()
        return ex

    def _drain(self, from_client: bool, frame: int) -> None:
        reader = self._client if from_client else self._server
        while True:
            event = reader.next_event()
            if event is None:
                return
            if from_client:
                self._on_client(event, frame)
            else:
                self._on_server(event, frame)

    def _add_body(self, ex: _Exchange | None, data: bytes, response: bool) -> None:
        if ex is None:
            return
        if response:
            ex.response_body_len += len(data)
            sample = ex.response_sample
        else:
            ex.request_body_len += len(data)
            sample = ex.request_sample
        room = self.body_sample_limit - len(sample)
        if room > 0:
            sample += data[:room]
        self._touch(ex)

    def _on_client(self, event: Event, frame: int) -> None:
        if isinstance(event, RequestHead):
            ex = self._new_exchange(event.frame)
            ex.method = event.method
            ex.uri = event.target
            ex.version = event.version
            ex.request_headers = list(event.headers)
            ex.http09 = event.version == "HTTP/0.9"
            ex.switch_requested = event.method == "CONNECT" or bool(header_values(event.headers, "upgrade"))
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self._pending_dropped += 1
            self._pending.append(ex)
            self._cur_req = ex
        elif isinstance(event, Body):
            self._add_body(self._cur_req, event.data, response=False)
        elif isinstance(event, BodySkipped):
            if self._cur_req is not None:
                self._cur_req.request_body_len += event.length
                self._touch(self._cur_req)
        elif isinstance(event, EndOfMessage):
            if self._cur_req is not None and event.trailers:
                self._cur_req.request_headers.extend(event.trailers)
                self._touch(self._cur_req)
            self._cur_req = None
        elif isinstance(event, Violation):
            self._anomaly(event.kind, "request: " + event.message, event.frame)
        elif isinstance(event, Opaque):
            self._opaque(True, event.data, frame)
        elif isinstance(event, OpaqueGap):
            self._opaque_gap(True, event.length, frame)

    def _on_server(self, event: Event, frame: int) -> None:
        if isinstance(event, ResponseHead):
            self._on_response_head(event)
        elif isinstance(event, Body):
            self._add_body(self._cur_resp, event.data, response=True)
        elif isinstance(event, BodySkipped):
            if self._cur_resp is not None:
                self._cur_resp.response_body_len += event.length
                self._touch(self._cur_resp)
        elif isinstance(event, EndOfMessage):
            if self._cur_resp is not None and event.trailers:
                self._cur_resp.response_headers.extend(event.trailers)
                self._touch(self._cur_resp)
            self._cur_resp = None
        elif isinstance(event, Violation):
            self._anomaly(event.kind, "response: " + event.message, event.frame)
        elif isinstance(event, Opaque):
            self._opaque(False, event.data, frame)
        elif isinstance(event, OpaqueGap):
            self._opaque_gap(False, event.length, frame)

    def _on_response_head(self, event: ResponseHead) -> None:
        status = event.status
        if status is not None and 100 <= status < 200 and status != 101:
            self._cur_resp = None  # interim: the request is still waiting for its final response
            return
        if self._pending:
            ex = self._pending.popleft()
        else:
            ex = self._new_exchange(event.frame)
        ex.status = status
        ex.reason = event.reason
        ex.response_version = event.version
        ex.response_headers = list(event.headers)
        ex.response_frame = event.frame
        self._cur_resp = ex
        self._touch(ex)
        switched = status == 101 or (ex.method == "CONNECT" and status is not None and 200 <= status < 300)
        if switched:
            self._start_switch(ex, event)
        elif ex.switch_requested:
            self._client.resume()
        if switched or ex.switch_requested:
            # Client bytes held while waiting for this answer can be read now.
            self._drain(True, event.frame)

    def _start_switch(self, ex: _Exchange, event: ResponseHead) -> None:
        req_upgrade = header_tokens(tuple(ex.request_headers), "upgrade")
        resp_upgrade = header_tokens(event.headers, "upgrade")
        self._client.switch()
        if event.status == 101 and "websocket" in req_upgrade + resp_upgrade:
            self._mode = "websocket"
            ex.protocol = "websocket"
            extensions = ";".join(header_tokens(event.headers, "sec-websocket-extensions"))
            params = {p.strip().partition("=")[0] for p in extensions.split(";")}
            deflate = "permessage-deflate" in params
            self._ws = {
                True: WebSocketParser(
                    True, deflate=deflate, no_context_takeover="client_no_context_takeover" in params
                ),
                False: WebSocketParser(
                    False, deflate=deflate, no_context_takeover="server_no_context_takeover" in params
                ),
            }
            return
        self._mode = "tunnel"
        what = (
            f"CONNECT {ex.uri}" if ex.method == "CONNECT" else f"Upgrade to {','.join(resp_upgrade) or '?'}"
        )
        self._anomaly(
            "http-tunnel",
            f"{what} accepted (status {event.status}): the rest of the connection is an opaque tunnel, not parsed",
            event.frame,
        )

    def _opaque(self, from_client: bool, data: bytes, frame: int) -> None:
        self._tunnel_bytes[0 if from_client else 1] += len(data)
        parser = self._ws.get(from_client) if self._mode == "websocket" else None
        if parser is None:
            return
        parser.receive_data(data)
        side = "client" if from_client else "server"
        for _ in range(1_000_000):
            try:
                msg = parser.next_message()
            except DecodeError as exc:
                self._anomaly(
                    "websocket-malformed", f"{side}: {exc}; rest of this direction not parsed", frame
                )
                self._ws[from_client] = None
                return
            if msg is None:
                return
            if msg.kind not in ("text", "binary"):
                continue
            self._ws_messages += 1
            self._version += 1
            if msg.kind == "text" and msg.text:
                if len(self._ws_exposures) >= MAX_WS_EXPOSURES:
                    self._ws_exposures_dropped += 1
                    continue
                where = f"websocket text message from {side}" + (
                    " (permessage-deflate)" if msg.compressed else ""
                )
                self._ws_exposures.append(
                    Exposure(
                        kind="websocket-message",
                        frame=frame,
                        where=where,
                        value=msg.text[:WS_VALUE_CHARS],
                        inside_tls=self.inside_tls,
                    )
                )

    def _opaque_gap(self, from_client: bool, length: int, frame: int) -> None:
        self._tunnel_bytes[0 if from_client else 1] += length
        if self._mode == "websocket" and self._ws.get(from_client) is not None:
            side = "client" if from_client else "server"
            self._anomaly(
                "websocket-gap", f"{side}: {length} bytes missing; rest of this direction not parsed", frame
            )
            self._ws[from_client] = None
