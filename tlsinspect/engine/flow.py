"""The mutable state of one connection while it is being read, and its frozen `Flow` snapshot.

A `FlowState` owns the two TCP directions, detects the application protocol from content (never from the
port), and routes in-order stream bytes to the protocol state: `TlsConnection` for TLS, `HttpConversation` for
cleartext HTTP. Endpoints are stored as the pair (A, B) of the flow-table key; which of them is the client is
decided by the SYN, or, without a SYN, by who sends the ClientHello or the first request.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from tlsinspect.engine.reassembly import TcpDirection
from tlsinspect.engine.tls_conn import TlsConnection
from tlsinspect.model import Anomaly, Flow
from tlsinspect.parse.http2 import H2Conversation, looks_like_h2_preface
from tlsinspect.parse.http_conversation import (
    HttpConversation,
    looks_like_http_request,
    looks_like_http_response,
)
from tlsinspect.parse.tls_stream import find_client_hello, looks_like_tls

REPLAY_LIMIT = 16 * 1024
SNIFF_LIMIT = 64 * 1024
"""Bytes per direction examined for a protocol (and for a later ClientHello after STARTTLS/CONNECT/SOCKS)."""
MAX_FLOW_ANOMALIES = 64


class _NullConsumer:
    """Swallows stream bytes of a flow whose content parsing was stopped."""

    def deliver(self, from_client: bool, data: bytes, frame: int) -> None:
        return None

    def gap(self, from_client: bool, length: int, frame: int) -> None:
        return None


@lru_cache(maxsize=4096)
def ip_text(raw: bytes) -> str:
    """An address in its usual text form (hosts recur, and `ipaddress` takes microseconds per call)."""
    return str(ipaddress.ip_address(raw))


class FlowState:
    """Mutable per-connection state; `snapshot()` freezes it."""

    __slots__ = (
        "id",
        "transport",
        "a",
        "b",
        "client_is_a",
        "roles_fixed",
        "first_frame",
        "last_frame",
        "first_ts",
        "last_ts",
        "frames",
        "bytes_a",
        "bytes_b",
        "dir_a",
        "dir_b",
        "proto",
        "tls",
        "http",
        "anomalies",
        "fin_a",
        "fin_b",
        "rst",
        "syn_seen",
        "state",
        "sniffed",
        "keylog",
        "quic",
        "dtls",
        "isn_client",
        "extra",
        "replay",
    )

    def __init__(
        self, fid: int, transport: str, a: tuple[bytes, int], b: tuple[bytes, int], frame: int, ts: float
    ) -> None:
        self.id = fid
        self.transport = transport
        self.a = a
        self.b = b
        self.client_is_a = True
        self.roles_fixed = False
        self.first_frame = self.last_frame = frame
        self.first_ts = self.last_ts = ts
        self.frames = 0
        self.bytes_a = self.bytes_b = 0
        self.dir_a = TcpDirection(True, self)
        self.dir_b = TcpDirection(False, self)
        self.proto = "unknown"
        self.tls: TlsConnection | None = None
        self.http: HttpConversation | H2Conversation | None = None
        self.anomalies: list[Anomaly] = []
        self.fin_a = self.fin_b = False
        self.rst = False
        self.syn_seen = False
        self.state = "open"
        self.sniffed = [0, 0]  # bytes examined per side (b, a)
        self.keylog: Any = None
        self.quic: Any = None
        self.dtls: Any = None
        self.isn_client: int | None = None
        self.extra: dict[str, Any] = {}
        self.replay: list[tuple[bool, bytes, int]] = []
        """While the protocol is unknown: the first bytes of each side (bounded by REPLAY_LIMIT), so a
        protocol recognised from the other side's answer still sees the whole conversation."""

    def anomaly(self, layer: str, kind: str, message: str, frame: int | None) -> None:
        if len(self.anomalies) < MAX_FLOW_ANOMALIES:
            self.anomalies.append(Anomaly(layer=layer, kind=kind, message=message, frame=frame))
        elif len(self.anomalies) == MAX_FLOW_ANOMALIES:
            self.anomalies.append(
                Anomaly(
                    layer="engine", kind="anomalies-capped", message="further anomalies not kept", frame=frame
                )
            )

    def set_client(self, client_is_a: bool) -> None:
        """Fix which endpoint is the client (from a SYN, or from content)."""
        self.client_is_a = client_is_a
        self.roles_fixed = True

    # -- StreamConsumer: in-order bytes of endpoint A (from_a True) or B ------------------------------------

    def deliver(self, from_a: bool, data: bytes, frame: int) -> None:
        proto = self.proto
        if proto == "tls":
            tls = self.tls
            assert tls is not None
            (tls.client if from_a == self.client_is_a else tls.server).feed(data, frame)
            return
        if proto == "unknown":
            self._sniff(from_a, data, frame)
            return
        http = self.http
        if http is not None:
            fc = from_a == self.client_is_a
            http.feed(fc, data, frame)
            if fc and self.sniffed[1] < SNIFF_LIMIT:
                self._look_for_hello(from_a, data, frame)

    def gap(self, from_a: bool, length: int, frame: int) -> None:
        side = "client" if from_a == self.client_is_a else "server"
        self.anomaly("tcp", "tcp-gap", f"{length} bytes missing from the {side} stream (not captured)", frame)
        if self.tls is not None and self.proto == "tls":
            (self.tls.client if from_a == self.client_is_a else self.tls.server).gap(length, frame)
        elif self.http is not None:
            self.http.gap(from_a == self.client_is_a, length, frame)

    # -- protocol detection ---------------------------------------------------------------------------------

    def _sniff(self, from_a: bool, data: bytes, frame: int) -> None:
        i = int(from_a)
        first = self.sniffed[i] == 0
        self.sniffed[i] += len(data)
        if first:
            if looks_like_tls(data):
                if not self.roles_fixed and data[0] == 0x16 and len(data) > 5:
                    if data[5] == 1:
                        self.client_is_a = from_a
                    elif data[5] == 2:
                        self.client_is_a = not from_a
                elif not self.roles_fixed and data[0] & 0x80:
                    self.client_is_a = from_a
                self._start_tls(from_a, data, frame)
                return
            if looks_like_h2_preface(data):  # h2c with prior knowledge
                if not self.roles_fixed:
                    self.client_is_a = from_a
                self.proto = "http"
                self.http = H2Conversation(inside_tls=False)
                self.http.feed(True, data, frame)
                return
            if looks_like_http_request(data):
                if not self.roles_fixed:
                    self.client_is_a = from_a
                self._start_http(from_a, data, frame)
                return
            if looks_like_http_response(data):
                if not self.roles_fixed:
                    self.client_is_a = not from_a
                self._start_http(from_a, data, frame)
                return
        elif looks_like_http_request(data) and (self.roles_fixed is False or from_a == self.client_is_a):
            # HTTP after a preamble of another protocol (a SOCKS handshake, a proxy's PROXY line): start here.
            self.replay = []
            if not self.roles_fixed:
                self.client_is_a = from_a
            self._start_http(from_a, data, frame)
            return
        if sum(len(d) for _, d, _ in self.replay) + len(data) <= REPLAY_LIMIT:
            self.replay.append((from_a, data, frame))
        if self.sniffed[i] <= SNIFF_LIMIT:
            self._look_for_hello(from_a, data, frame)

    def _look_for_hello(self, from_a: bool, data: bytes, frame: int) -> None:
        pos = find_client_hello(data)
        if pos < 0:
            return
        if not self.roles_fixed or self.proto == "unknown":
            self.client_is_a = from_a
        self._start_tls(from_a, data[pos:], frame, hunting_server=True)

    def _start_tls(self, from_a: bool, data: bytes, frame: int, *, hunting_server: bool = False) -> None:
        self.proto = "tls"
        self.replay = []
        self.tls = TlsConnection(keylog=self.keylog, app_sink=self._decrypted_app_data)
        if hunting_server:
            self.tls.server.lost = True
            self.tls.server.hunting = True
            self.tls.client.first = False
        client_dir, server_dir = (self.dir_a, self.dir_b) if self.client_is_a else (self.dir_b, self.dir_a)
        client_dir.sink = self.tls.client.feed
        server_dir.sink = self.tls.server.feed
        client_dir.skipper = self.tls.client
        server_dir.skipper = self.tls.server
        (self.tls.client if from_a == self.client_is_a else self.tls.server).feed(data, frame)

    def _start_http(self, from_a: bool, data: bytes, frame: int) -> None:
        self.proto = "http"
        self.http = HttpConversation(inside_tls=False)
        replay, self.replay = self.replay, []
        for r_from_a, r_data, r_frame in replay:
            if r_from_a != from_a:  # the other side's earlier bytes (a request not recognised on its own)
                self.http.feed(r_from_a == self.client_is_a, r_data, r_frame)
        self.http.feed(from_a == self.client_is_a, data, frame)
        (self.dir_b if self.client_is_a else self.dir_a).skipper = self.http.response_skipper

    def _decrypted_app_data(self, from_client: bool, data: bytes, frame: int) -> None:
        if self.http is None:
            alpn = self.tls.negotiated_alpn() if self.tls is not None else None
            if (from_client and looks_like_h2_preface(data)) or alpn == "h2":
                self.http = H2Conversation(inside_tls=True)
            elif looks_like_http_request(data) if from_client else looks_like_http_response(data):
                self.http = HttpConversation(inside_tls=True)
            else:
                return
        self.http.feed(from_client, data, frame)

    def disable_content(self) -> None:
        """Stop parsing this flow's content (after an internal error); frames and bytes are still counted."""
        self.proto = self.proto if self.proto != "unknown" else "unknown"
        self.dir_a.consumer = _NullConsumer()
        self.dir_b.consumer = _NullConsumer()
        self.dir_a.sink = self.dir_b.sink = None
        self.dir_a.skipper = self.dir_b.skipper = None

    # -- end ----------------------------------------------------------------------------------------------

    def finish(self, state: str) -> None:
        """Flush held segments and close the protocol parsers; the flow will not change after this."""
        self.dir_a.finish(self.last_frame)
        self.dir_b.finish(self.last_frame)
        if self.http is not None:
            self.http.end(True, self.last_frame)
            self.http.end(False, self.last_frame)
        if self.state == "open":
            self.state = state

    def snapshot(self) -> Flow:
        """The frozen Flow of this connection as it stands now (analysis is added by the engine)."""
        c, s = (self.a, self.b) if self.client_is_a else (self.b, self.a)
        bc, bs = (self.bytes_a, self.bytes_b) if self.client_is_a else (self.bytes_b, self.bytes_a)
        tls = self.tls.snapshot() if self.tls is not None else None
        anomalies = list(self.anomalies)
        if self.tls is not None:
            anomalies.extend(self.tls.anomalies)
        http: tuple[Any, ...] = ()
        exposures: tuple[Any, ...] = ()
        proto = self.proto
        if self.http is not None:
            http = self.http.exchanges
            exposures = self.http.exposures
            anomalies.extend(self.http.anomalies)
            if self.http.is_websocket and proto == "http":
                proto = "websocket"
        if self.quic is not None:
            anomalies.extend(self.quic.anomalies)
        if self.dtls is not None:
            anomalies.extend(self.dtls.anomalies)
        if self.dir_a.overflow or self.dir_b.overflow:
            anomalies.append(
                Anomaly(
                    layer="tcp",
                    kind="tcp-buffer-cap",
                    message="out-of-order buffer cap reached; hole declared a gap",
                    frame=None,
                )
            )
        return Flow(
            id=self.id,
            transport=self.transport,
            client_ip=ip_text(c[0]),
            client_port=c[1],
            server_ip=ip_text(s[0]),
            server_port=s[1],
            first_frame=self.first_frame,
            last_frame=self.last_frame,
            first_seen=self.first_ts,
            last_seen=self.last_ts,
            frames=self.frames,
            bytes_client=bc,
            bytes_server=bs,
            app_protocol=proto,
            tls=tls,
            http=tuple(http),
            exposures=tuple(exposures),
            anomalies=tuple(anomalies),
            state=self.state,
            syn_seen=self.syn_seen,
        )
