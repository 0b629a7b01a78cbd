"""Passive HTTP/2 reading (RFC 9113): frames of both directions -> the same `HttpExchange` model as HTTP/1.x.

Header blocks are decoded with the `hpack` library (one decoder per direction, as each side keeps its own
dynamic table); the frame layer is small and read here, because `h2`'s connection object is an endpoint that
enforces its own state and would refuse a capture that starts mid-way. DATA frames are counted, with a capped
body sample per stream. A connection preface that is missing (capture started late) or a frame that cannot be
read becomes an anomaly; the direction then stops being parsed. Bounded: header blocks, streams and samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tlsinspect.model import Anomaly, Exposure, HttpExchange
from tlsinspect.parse.secrets import dedupe, exchange_exposures

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_DATA, FRAME_HEADERS, FRAME_CONTINUATION = 0x0, 0x1, 0x9
FLAG_END_STREAM, FLAG_END_HEADERS, FLAG_PADDED, FLAG_PRIORITY = 0x1, 0x4, 0x8, 0x20
MAX_FRAME = 1 << 24
MAX_HEADER_BLOCK = 256 * 1024
MAX_STREAMS = 10_000
MAX_ANOMALIES = 32


def looks_like_h2_preface(data: bytes) -> bool:
    """The client connection preface (or its beginning, when only part has arrived)."""
    n = min(len(data), len(PREFACE))
    return n >= 4 and data[:n] == PREFACE[:n]


@dataclass
class _Stream:
    request: list[tuple[str, str]] = field(default_factory=list)
    response: list[tuple[str, str]] = field(default_factory=list)
    frame: int | None = None
    response_frame: int | None = None
    req_body: int = 0
    resp_body: int = 0
    req_sample: bytes = b""
    resp_sample: bytes = b""


class _Direction:
    def __init__(self, from_client: bool) -> None:
        self.from_client = from_client
        self.buf = b""
        self.need_preface = from_client
        import hpack  # at the first HTTP/2 connection: with the logging it pulls in, 13 ms that most reads skip

        self.decoder = hpack.Decoder()
        # The peer's SETTINGS_HEADER_TABLE_SIZE (Chrome: 65536) may let this side's encoder use a larger table
        # than the default 4096; a passive reader accepts whatever size the encoder announces.
        self.decoder.max_allowed_table_size = 1 << 20
        self.block = b""
        self.block_stream = 0
        self.lost = False


class H2Conversation:
    """Both directions of one HTTP/2 connection; same interface as `HttpConversation`."""

    is_websocket = False
    websocket_messages = 0

    def __init__(self, *, inside_tls: bool = False, body_sample_limit: int = 4096) -> None:
        self.inside_tls = inside_tls
        self.body_sample_limit = body_sample_limit
        self._dirs = {True: _Direction(True), False: _Direction(False)}
        self._streams: dict[int, _Stream] = {}
        self._anomalies: list[Anomaly] = []
        self._dropped_streams = 0

    def _anomaly(self, kind: str, message: str, frame: int | None) -> None:
        if len(self._anomalies) < MAX_ANOMALIES:
            self._anomalies.append(Anomaly(layer="http", kind=kind, message=message, frame=frame))

    def feed(self, from_client: bool, data: bytes, frame: int) -> None:
        """In-order bytes of one direction; never raises."""
        d = self._dirs[from_client]
        if d.lost:
            return
        buf = d.buf + data if d.buf else data
        if d.need_preface:
            if len(buf) < len(PREFACE):
                if buf != PREFACE[: len(buf)]:
                    self._lose(
                        d, "h2-no-preface", "client stream does not start with the HTTP/2 preface", frame
                    )
                    return
                d.buf = buf
                return
            if not buf.startswith(PREFACE):
                self._lose(d, "h2-no-preface", "client stream does not start with the HTTP/2 preface", frame)
                return
            buf = buf[len(PREFACE) :]
            d.need_preface = False
        pos = 0
        while len(buf) - pos >= 9:
            length = int.from_bytes(buf[pos : pos + 3], "big")
            ftype, flags = buf[pos + 3], buf[pos + 4]
            sid = int.from_bytes(buf[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
            if length > MAX_FRAME:
                self._lose(d, "h2-frame-malformed", f"frame of {length} bytes", frame)
                return
            if len(buf) - pos - 9 < length:
                break
            self._frame(d, ftype, flags, sid, buf[pos + 9 : pos + 9 + length], frame)
            if d.lost:
                return
            pos += 9 + length
        d.buf = buf[pos:]

    def _lose(self, d: _Direction, kind: str, message: str, frame: int | None) -> None:
        d.lost = True
        d.buf = b""
        self._anomaly(kind, message, frame)

    def _frame(self, d: _Direction, ftype: int, flags: int, sid: int, payload: bytes, frame: int) -> None:
        if ftype == FRAME_DATA:
            st = self._stream(sid, frame)
            if st is None:
                return
            body = _unpad(payload, flags)
            if d.from_client:
                st.req_body += len(body)
                st.req_sample = (st.req_sample + body)[: self.body_sample_limit]
            else:
                st.resp_body += len(body)
                st.resp_sample = (st.resp_sample + body)[: self.body_sample_limit]
        elif ftype == FRAME_HEADERS:
            body = _unpad(payload, flags)
            if flags & FLAG_PRIORITY:
                body = body[5:]
            d.block, d.block_stream = body, sid
            if flags & FLAG_END_HEADERS:
                self._headers(d, frame)
        elif ftype == FRAME_CONTINUATION:
            if sid != d.block_stream or not d.block:
                self._anomaly("h2-frame-malformed", "CONTINUATION without a header block", frame)
                return
            d.block += payload
            if len(d.block) > MAX_HEADER_BLOCK:
                self._lose(d, "h2-headers-too-large", f"header block over {MAX_HEADER_BLOCK} bytes", frame)
                return
            if flags & FLAG_END_HEADERS:
                self._headers(d, frame)

    def _headers(self, d: _Direction, frame: int) -> None:
        block, sid = d.block, d.block_stream
        d.block = b""
        try:
            headers = d.decoder.decode(block, raw=True)
        except Exception as e:  # hpack raises several error types for corrupt blocks
            self._lose(d, "h2-hpack-error", f"header block could not be decoded: {type(e).__name__}", frame)
            return
        pairs = [(n.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for n, v in headers]
        st = self._stream(sid, frame)
        if st is None:
            return
        if d.from_client:
            if not st.request:
                st.frame = frame
            st.request.extend(pairs)
        else:
            if not st.response or not any(n == ":status" for n, _ in pairs):
                st.response_frame = st.response_frame or frame
            if any(n == ":status" and v.startswith("1") for n, v in pairs):
                return  # 1xx informational
            st.response.extend(pairs)

    def _stream(self, sid: int, frame: int) -> _Stream | None:
        st = self._streams.get(sid)
        if st is None:
            if len(self._streams) >= MAX_STREAMS:
                self._dropped_streams += 1
                if self._dropped_streams == 1:
                    self._anomaly(
                        "h2-streams-capped", f"more than {MAX_STREAMS} streams; the rest are not kept", frame
                    )
                return None
            st = self._streams[sid] = _Stream()
        return st

    def gap(self, from_client: bool, length: int, frame: int) -> None:
        self._lose(self._dirs[from_client], "h2-gap", f"{length} bytes missing; HTTP/2 parsing stops", frame)

    def end(self, from_client: bool, frame: int) -> None:
        """Nothing to flush: frames are complete or they are not kept."""

    @property
    def exchanges(self) -> tuple[HttpExchange, ...]:
        out = []
        for sid in sorted(self._streams):
            st = self._streams[sid]
            if not st.request and not st.response:
                continue
            req = dict(st.request)
            resp = dict(st.response)
            status = resp.get(":status")
            out.append(
                HttpExchange(
                    frame=st.frame if st.frame is not None else st.response_frame,
                    method=req.get(":method"),
                    uri=req.get(":path"),
                    host=req.get(":authority") or req.get("host"),
                    version="HTTP/2",
                    user_agent=req.get("user-agent"),
                    status=int(status) if status and status.isdigit() else None,
                    inside_tls=self.inside_tls,
                    request_headers=tuple(st.request),
                    response_headers=tuple(st.response),
                    request_body_len=st.req_body,
                    response_body_len=st.resp_body,
                    request_body_sample=st.req_sample,
                    response_body_sample=st.resp_sample,
                    response_frame=st.response_frame,
                    protocol="h2",
                )
            )
        return tuple(out)

    @property
    def exposures(self) -> tuple[Exposure, ...]:
        return dedupe(e for ex in self.exchanges for e in exchange_exposures(ex))

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        return tuple(self._anomalies)


def _unpad(payload: bytes, flags: int) -> bytes:
    if flags & FLAG_PADDED and payload:
        pad = payload[0]
        return payload[1 : max(1, len(payload) - pad)]
    return payload
