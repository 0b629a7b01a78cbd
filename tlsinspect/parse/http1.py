"""A lenient, passive HTTP/1.x message reader for one direction of a connection (sans-IO).

h11 is built for endpoints and rejects what a passive inspector must tolerate (a missing Host, bare LF line
endings, obs-fold, garbage between messages), so this reader is our own. It follows h11's shape:
`receive_data(data, frame)` buffers, `next_event()` returns one small event or ``None`` for "need more data".
It never raises for any input: what is malformed becomes a `Violation` event and the reader resynchronises at the
next plausible request or response line.

Bounded memory: the head (start line + header fields) is capped at ``max_header_bytes``; bodies are never
buffered (each `Body` event hands out the bytes just read and the caller keeps what it wants); chunk-size lines
are capped; in the resync state at most one line is kept.

Events:

- `RequestHead` / `ResponseHead`: a complete start line and header block.
- `Body`: body bytes (after de-chunking), in order. `BodySkipped`: body bytes lost to a capture gap.
- `EndOfMessage`: the message ended (``complete=False`` when it was cut by a gap or the end of the stream);
  chunked trailers are carried here.
- `Violation`: something malformed, with a stable kebab-case kind (the caller turns it into an `Anomaly`).
- `Opaque` / `OpaqueGap`: bytes after a protocol switch (101 Switching Protocols, CONNECT 2xx); not parsed.

Frame numbers: each byte remembers the frame it came in; an event carries the frame of the byte that started
it (heads) or ended it (`EndOfMessage`), so feeding the same bytes in any chunking gives the same events.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto

Headers = tuple[tuple[str, str], ...]

# Method tokens we accept when resynchronising and for `looks_like_http_request`. A normal start line accepts any
# upper-case token (extension methods exist); resync needs the stricter list plus an "HTTP/1.x" version.
KNOWN_METHODS: frozenset[bytes] = frozenset(
    {
        b"GET",
        b"POST",
        b"HEAD",
        b"PUT",
        b"DELETE",
        b"OPTIONS",
        b"PATCH",
        b"CONNECT",
        b"TRACE",
        b"PROPFIND",
        b"PROPPATCH",
        b"MKCOL",
        b"COPY",
        b"MOVE",
        b"LOCK",
        b"UNLOCK",
        b"SEARCH",
        b"REPORT",
        b"MKACTIVITY",
        b"CHECKOUT",
        b"MERGE",
        b"M-SEARCH",
        b"NOTIFY",
        b"SUBSCRIBE",
        b"UNSUBSCRIBE",
        b"PURGE",
        b"LINK",
        b"UNLINK",
        b"ACL",
        b"BIND",
        b"REBIND",
        b"UNBIND",
        b"MKCALENDAR",
        b"PRI",
        # Microsoft extension methods (Outlook RPC over HTTP, SCCM, SSTP VPN), as seen on the wire.
        b"RPC_IN_DATA",
        b"RPC_OUT_DATA",
        b"RPC_CONNECT",
        b"CCM_POST",
        b"SSTP_DUPLEX_POST",
    }
)

MAX_LINE_BYTES = 8192
"""Longest start line or chunk-size line we accept (h11 caps the whole head at 16 KiB)."""
MAX_CHUNK_LINE_BYTES = 4096

_METHOD_RE = re.compile(rb"[A-Z][A-Z0-9_\-]{0,31}\Z")
_VERSION_RE = re.compile(rb"HTTP/(\d)\.(\d)\Z")
_STATUS_LINE_RE = re.compile(
    rb"HTTP/(\d)\.(\d)[ \t]+(\d{3})(?:[ \t]+(.*))?\Z|HTTP/(\d)\.(\d)[ \t]+(\d{3})[ \t]*\Z"
)
_HEAD_END_RE = re.compile(rb"\n\r?\n")
_CHUNK_SIZE_RE = re.compile(rb"[ \t]*([0-9a-fA-F]{1,16})[ \t]*(?:;.*)?\Z")


def decode_field(raw: bytes) -> str:
    """HTTP field bytes as the contract writes them: UTF-8, invalid bytes as U+FFFD, never cleaned."""
    return raw.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class RequestLine:
    method: str
    target: str
    version: str
    """"HTTP/1.1", "HTTP/1.0", or "HTTP/0.9" for a version-less simple request."""


@dataclass(frozen=True, slots=True)
class StatusLine:
    version: str
    status: int
    reason: str


def parse_request_line(line: bytes, *, strict: bool = False) -> RequestLine | None:
    """Parse one request line (without its line ending). ``None`` when it is not one.

    Lenient: extra spaces between the parts are tolerated; a two-part ``GET /path`` is HTTP/0.9. With
    ``strict`` (used when resynchronising in the middle of garbage) the method must be a known one and the
    version must be HTTP/1.x.
    """
    if len(line) > MAX_LINE_BYTES:
        return None
    parts = line.split()
    if len(parts) == 1 and not strict and parts[0] in KNOWN_METHODS:
        return RequestLine(parts[0].decode("ascii"), "", "HTTP/0.9")  # "OPTIONS" alone: tshark's URI is ""
    if len(parts) == 2 and not strict:
        method, target = parts
        if method in KNOWN_METHODS and target.startswith(b"/"):
            return RequestLine(method.decode("ascii"), decode_field(target), "HTTP/0.9")
        if method in KNOWN_METHODS and _VERSION_RE.match(target):
            # "OPTIONS HTTP/1.1": no request target at all; tshark reports the version token as the URI.
            return RequestLine(method.decode("ascii"), decode_field(target), target.decode("ascii"))
        return None
    if (
        len(parts) == 3
        and not strict
        and parts[0] in KNOWN_METHODS
        and parts[2].startswith(b"HTTP/")
        and not _VERSION_RE.match(parts[2])
    ):
        # "CCM_POST / HTTP/1." - a broken version token after a known method: keep method and URI, as tshark does.
        return RequestLine(parts[0].decode("ascii"), decode_field(parts[1]), "HTTP/1.1")
    if len(parts) > 3 and not strict and _VERSION_RE.match(parts[-1]):
        # "GET /Hello Arkime HTTP/1.0": an unencoded space in the target; like tshark, the URI ends at it.
        parts = [parts[0], parts[1], parts[-1]]
    if len(parts) != 3:
        return None
    method, target, version = parts
    if not _METHOD_RE.match(method) or not _VERSION_RE.match(version):
        return None
    if strict and (method not in KNOWN_METHODS or not version.startswith(b"HTTP/1.")):
        return None
    return RequestLine(method.decode("ascii"), decode_field(target), version.decode("ascii"))


def parse_status_line(line: bytes) -> StatusLine | None:
    """Parse one status line (without its line ending); ``None`` when it is not one. The reason may be empty."""
    if len(line) > MAX_LINE_BYTES:
        return None
    m = _STATUS_LINE_RE.match(line)
    if m is None:
        return None
    if m.group(1) is not None:
        major, minor, code, reason = m.group(1), m.group(2), m.group(3), m.group(4) or b""
    else:
        major, minor, code, reason = m.group(5), m.group(6), m.group(7), b""
    return StatusLine(f"HTTP/{major.decode()}.{minor.decode()}", int(code), decode_field(reason.strip()))


# ----------------------------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class RequestHead:
    frame: int
    method: str
    target: str
    version: str
    headers: Headers


@dataclass(frozen=True, slots=True)
class ResponseHead:
    frame: int
    version: str
    status: int | None
    """None for an HTTP/0.9 response (no status line at all)."""
    reason: str
    headers: Headers


@dataclass(frozen=True, slots=True)
class Body:
    data: bytes


@dataclass(frozen=True, slots=True)
class BodySkipped:
    length: int


@dataclass(frozen=True, slots=True)
class EndOfMessage:
    frame: int | None
    complete: bool = True
    trailers: Headers = ()


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str
    message: str
    frame: int | None


@dataclass(frozen=True, slots=True)
class Opaque:
    data: bytes


@dataclass(frozen=True, slots=True)
class OpaqueGap:
    length: int


Event = RequestHead | ResponseHead | Body | BodySkipped | EndOfMessage | Violation | Opaque | OpaqueGap


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """What the response reader needs to know about the request a response answers."""

    method: str | None
    http09: bool = False


class _State(Enum):
    IDLE = auto()
    BODY_LENGTH = auto()
    CHUNK_SIZE = auto()
    CHUNK_DATA = auto()
    CHUNK_DATA_END = auto()
    TRAILERS = auto()
    BODY_CLOSE = auto()
    PAUSED = auto()
    SWITCHED = auto()
    LOST = auto()
    CLOSED = auto()


def header_values(headers: Headers, name: str) -> list[str]:
    """All values of one header field (case-insensitive name), in wire order."""
    lname = name.lower()
    return [v for n, v in headers if n.lower() == lname]


def header_tokens(headers: Headers, name: str) -> list[str]:
    """The comma-separated tokens of a header field, lower-cased and stripped."""
    out: list[str] = []
    for value in header_values(headers, name):
        out.extend(t.strip().lower() for t in value.split(",") if t.strip())
    return out


class Http1Reader:
    """One direction of HTTP/1.x: requests (``is_request=True``) or responses.

    - Returns an event from `next_event` when one is complete.
    - Returns None when more data is needed.
    - Never raises for any input: malformed input gives a `Violation` event.

    A response reader asks ``pending()`` which request the next response answers (HEAD, CONNECT, HTTP/0.9 change
    the framing). A request reader pauses after a CONNECT or ``Upgrade`` request until the caller says what the
    response was: `resume()` (keep parsing HTTP) or `switch()` (the rest is opaque).
    """

    def __init__(
        self,
        *,
        is_request: bool,
        max_header_bytes: int = 64 * 1024,
        pending: Callable[[], PendingRequest | None] | None = None,
    ) -> None:
        self.is_request = is_request
        self.max_header_bytes = max_header_bytes
        self._pending = pending or (lambda: None)
        self._buf = bytearray()
        self._base = 0
        """Absolute stream offset of _buf[0]."""
        self._received = 0
        self._frames: deque[tuple[int, int]] = deque()
        """(absolute offset where a frame's bytes start, frame), ascending."""
        self._events: deque[Event] = deque()
        self._state = _State.IDLE
        self._remaining = 0
        self._in_message = False
        self._message_frame: int | None = None
        self._at_line_start = True
        self._bare_lf_reported = False
        self._pause_after_body = False
        self._head_scan = 0
        """How far into _buf the search for the end of the head has already looked (IDLE only)."""
        self.skip = 0
        """Body bytes the engine may still count off without feeding them (granted by `allow_skip`)."""
        self._skip_granted = 0

    # ------------------------------------------------------------------------------------------ public API

    @property
    def state(self) -> str:
        return self._state.name.lower()

    @property
    def in_message(self) -> bool:
        return self._in_message

    def inside_body(self, n: int) -> bool:
        """Consume `n` bytes that lie wholly inside the current body, if they do (the bulk-transfer hot path).

        True means the caller owns them as body bytes and no `Body` event will come for them: nothing in them
        can start a message, so no frame bookkeeping is needed either. False: feed them with `receive_data`.
        """
        if n < self._remaining and self._in_bare_body():
            self._remaining -= n
            self._received += n
            self._base += n
            return True
        return False

    def allow_skip(self) -> bool:
        """Let the engine count off the rest of the current body but its last byte (which ends the message)
        without feeding it, by subtracting in-order bytes from `skip` (as from a TLS record stream's): for a
        body nobody reads further. `settle` books what was counted off, and must be called before anything else
        is done with this reader (a skip still outstanding is not renewed). True if a skip was granted."""
        if self._remaining > 1 and not self._skip_granted and self._in_bare_body():
            self.skip = self._skip_granted = self._remaining - 1
            return True
        return False

    def _in_bare_body(self) -> bool:
        """Inside a body of known length (or a chunk's data) with nothing buffered or pending: bytes that come
        next, up to `_remaining`, are body bytes and nothing else."""
        state = self._state
        return (
            (state is _State.BODY_LENGTH or state is _State.CHUNK_DATA) and not self._buf and not self._events
        )

    @property
    def counted_off(self) -> int:
        """Body bytes the engine counted off since `allow_skip` and `settle` has not booked yet (read-only)."""
        return self._skip_granted - self.skip if self._skip_granted else 0

    def settle(self) -> int:
        """Book the body bytes counted off since `allow_skip` as consumed, and end the skip; returns how many."""
        granted = self._skip_granted
        if not granted:
            return 0
        n = granted - self.skip
        self.skip = self._skip_granted = 0
        self._remaining -= n
        self._received += n
        self._base += n
        return n

    def receive_data(self, data: bytes, frame: int) -> None:
        if not data or self._state is _State.CLOSED:
            return
        if self.inside_body(len(data)):
            self._events.append(Body(data))
            return
        if not self._frames or self._frames[-1][1] != frame:
            self._frames.append((self._received, frame))
        self._received += len(data)
        self._buf += data

    def next_event(self) -> Event | None:
        while not self._events:
            if not self._step():
                break
        return self._events.popleft() if self._events else None

    def gap(self, length: int, frame: int) -> None:
        """``length`` bytes of this direction are missing from the capture (after the bytes already received).

        Call after draining `next_event`. Inside a body of known size (or read-until-close) the bytes are
        counted and parsing continues; otherwise the current message is cut and the reader looks for the next
        message start.
        """
        if length <= 0 or self._state is _State.CLOSED:
            return
        self._drain_pending_steps()
        state = self._state
        if state is _State.SWITCHED:
            self._events.append(OpaqueGap(length))
            return
        if state is _State.BODY_CLOSE and not self._buf:
            self._events.append(BodySkipped(length))
            self._violation("http-gap-in-body", f"{length} body bytes missing from the capture", frame)
            return
        if state in (_State.BODY_LENGTH, _State.CHUNK_DATA) and not self._buf:
            skipped = min(length, self._remaining)
            self._events.append(BodySkipped(skipped))
            self._violation("http-gap-in-body", f"{length} body bytes missing from the capture", frame)
            self._remaining -= skipped
            if length <= skipped:
                return
            if state is _State.BODY_LENGTH:
                # The gap runs past the end of the body: the message is whole as far as framing goes.
                self._end_message(frame, complete=False)
                self._lose(at_line_start=True)
                return
        # Anywhere else we cannot know where we are: cut the message, look for the next start line.
        if self._in_message or self._state is _State.PAUSED or self._buf.strip(b"\r\n"):
            self._violation(
                "http-gap",
                f"{length} bytes missing from the capture; resynchronising at the next message",
                frame,
            )
        if self._in_message:
            self._end_message(frame, complete=False)
        self._consume(len(self._buf))
        self._lose(at_line_start=True)
        self._base += length
        self._received += length

    def end(self, frame: int) -> None:
        """The direction ended (FIN, RST or end of capture): finish read-until-close bodies, flag truncation."""
        if self._state is _State.CLOSED:
            return
        self._drain_pending_steps()
        if self._state is _State.BODY_CLOSE:
            self._end_message(frame, complete=True)
        elif self._in_message:
            self._violation("http-truncated", "the stream ended in the middle of a message", frame)
            self._end_message(frame, complete=False)
        elif self._state is _State.IDLE and self._buf.strip(b"\r\n"):
            self._violation(
                "http-truncated",
                f"the stream ended in the middle of a message head ({len(self._buf)} bytes)",
                self._frame_at(0),
            )
        self._consume(len(self._buf))
        self._state = _State.CLOSED

    def resume(self) -> None:
        """After a pause (CONNECT / Upgrade request): the response refused the switch, keep parsing HTTP."""
        if self._state is _State.PAUSED:
            self._state = _State.IDLE

    def switch(self) -> None:
        """From now on this direction carries opaque bytes (tunnel or WebSocket), handed out as `Opaque`."""
        if self._state is not _State.CLOSED:
            self._state = _State.SWITCHED

    # ---------------------------------------------------------------------------------------- internals

    def _drain_pending_steps(self) -> None:
        # Make sure everything parseable in the buffer has been turned into events first.
        while self._step():
            pass

    def _frame_at(self, index: int) -> int | None:
        """Frame of the buffered byte at _buf[index] (or of the last byte received when out of range)."""
        if not self._frames:
            return None
        pos = self._base + index
        while len(self._frames) > 1 and self._frames[1][0] <= self._base:
            self._frames.popleft()
        found = self._frames[0][1]
        for start, frame in self._frames:
            if start > pos:
                break
            found = frame
        return found

    def _consume(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        self._base += n
        self._head_scan = 0
        return data

    def _violation(self, kind: str, message: str, frame: int | None) -> None:
        self._events.append(Violation(kind, message, frame))

    def _lose(self, *, at_line_start: bool) -> None:
        self._state = _State.LOST
        self._at_line_start = at_line_start
        self._in_message = False

    def _end_message(self, frame: int | None, *, complete: bool, trailers: Headers = ()) -> None:
        self._events.append(EndOfMessage(frame, complete, trailers))
        self._in_message = False
        self._bare_lf_reported = False
        if self._state is not _State.PAUSED and self._state is not _State.SWITCHED:
            self._state = _State.IDLE
        if self._pause_after_body:
            self._pause_after_body = False
            if self._state is _State.IDLE:
                self._state = _State.PAUSED

    def _step(self) -> bool:
        """Do one unit of work; False when nothing more can be done without more data."""
        state = self._state
        if state is _State.IDLE:
            return self._step_idle()
        if state is _State.LOST:
            return self._step_lost()
        if state is _State.BODY_LENGTH or state is _State.CHUNK_DATA:
            if not self._buf:
                return False
            n = min(self._remaining, len(self._buf))
            last = self._frame_at(n - 1)
            self._events.append(Body(self._consume(n)))
            self._remaining -= n
            if self._remaining == 0:
                if state is _State.BODY_LENGTH:
                    self._end_message(last, complete=True)
                else:
                    self._state = _State.CHUNK_DATA_END
            return True
        if state is _State.BODY_CLOSE:
            if not self._buf:
                return False
            self._events.append(Body(self._consume(len(self._buf))))
            return True
        if state is _State.CHUNK_SIZE:
            return self._step_chunk_size()
        if state is _State.CHUNK_DATA_END:
            return self._step_chunk_data_end()
        if state is _State.TRAILERS:
            return self._step_trailers()
        if state is _State.SWITCHED:
            if not self._buf:
                return False
            self._events.append(Opaque(self._consume(len(self._buf))))
            return True
        if state is _State.PAUSED:
            if len(self._buf) > self.max_header_bytes:
                self._violation(
                    "http-switch-unanswered",
                    "more than max_header_bytes sent while waiting for the answer to CONNECT/Upgrade",
                    self._frame_at(0),
                )
                self._consume(len(self._buf))
                self._lose(at_line_start=False)
                return True
            return False
        return False  # CLOSED

    # -- start of a message

    def _step_idle(self) -> bool:
        buf = self._buf
        # Empty lines before a message are allowed (RFC 9112 §2.2).
        skip = 0
        while skip < len(buf) and buf[skip] in b"\r\n":
            skip += 1
        if skip:
            self._consume(skip)
            return True
        if not buf:
            return False
        if not self.is_request:
            pending = self._pending()
            if pending is not None and pending.http09:
                # An HTTP/0.9 response has no status line: everything until close is the body.
                self._events.append(ResponseHead(self._frame_at(0) or 0, "HTTP/0.9", None, "", ()))
                self._in_message = True
                self._state = _State.BODY_CLOSE
                return True
        if not self._plausible_prefix(bytes(buf[:5])):
            self._violation("http-garbage", self._garbage_message(), self._frame_at(0))
            self._lose(at_line_start=False)
            return True
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) > min(MAX_LINE_BYTES, self.max_header_bytes):
                self._violation(
                    "http-header-too-large", "start line longer than the limit", self._frame_at(0)
                )
                self._lose(at_line_start=False)
                return True
            return False
        line = bytes(buf[:nl]).rstrip(b"\r")
        frame = self._frame_at(0) or 0
        if self.is_request:
            req = parse_request_line(line)
            if req is None:
                self._violation("http-garbage", self._garbage_message(), frame)
                self._lose(at_line_start=False)
                return True
            if req.version == "HTTP/0.9":
                self._consume(nl + 1)
                self._events.append(RequestHead(frame, req.method, req.target, req.version, ()))
                self._events.append(EndOfMessage(frame, True, ()))
                return True
            status: StatusLine | None = None
        else:
            status = parse_status_line(line)
            req = None
            if status is None:
                self._violation("http-garbage", self._garbage_message(), frame)
                self._lose(at_line_start=False)
                return True
        m = _HEAD_END_RE.search(buf, max(nl, self._head_scan - 3))
        limit = self.max_header_bytes
        if m is None:
            if len(buf) > limit:
                self._head_too_large(frame)
                return True
            self._head_scan = len(buf)
            return False
        if m.end() > limit:
            self._head_too_large(frame)
            return True
        head = self._consume(m.end())
        head_lines = head.split(b"\n")[1:]
        headers = self._parse_fields(head_lines, frame, head)
        self._in_message = True
        self._message_frame = frame
        if req is not None:
            self._events.append(RequestHead(frame, req.method, req.target, req.version, headers))
            self._frame_request(req, headers, frame)
        else:
            assert status is not None
            self._events.append(ResponseHead(frame, status.version, status.status, status.reason, headers))
            self._frame_response(status, headers, frame)
        return True

    def _plausible_prefix(self, prefix: bytes) -> bool:
        if self.is_request:
            return 65 <= prefix[0] <= 90  # an upper-case method token
        return b"HTTP/".startswith(prefix) or prefix.startswith(b"HTTP/")

    def _garbage_message(self) -> str:
        what = "request" if self.is_request else "status"
        sample = bytes(self._buf[:16])
        return f"not an HTTP {what} line (starts {sample!r}); resynchronising at the next message"

    def _head_too_large(self, frame: int) -> None:
        self._violation(
            "http-header-too-large",
            f"header block larger than {self.max_header_bytes} bytes; this direction is skipped until the next "
            "message",
            frame,
        )
        self._lose(at_line_start=False)

    def _parse_fields(self, lines: list[bytes], frame: int | None, raw: bytes) -> Headers:
        """Header (or trailer) lines without the start line; the list ends with the empty line(s)."""
        if not self._bare_lf_reported and raw.count(b"\n") != raw.count(b"\r\n"):
            self._bare_lf_reported = True
            self._violation("http-bare-lf", "line ended by a bare LF instead of CRLF", frame)
        fields: list[list[str]] = []
        folded = malformed = False
        for raw_line in lines:
            line = raw_line.rstrip(b"\r")
            if not line:
                continue
            if line[:1] in (b" ", b"\t"):
                if fields:
                    fields[-1][1] = (fields[-1][1] + " " + decode_field(line.strip())).strip()
                    folded = True
                else:
                    malformed = True
                continue
            name, colon, value = line.partition(b":")
            name = name.strip()
            if not colon or not name:
                malformed = True
                continue
            fields.append([decode_field(name), decode_field(value.strip(b" \t"))])
        if folded:
            self._violation("http-obs-fold", "obsolete line folding in a header field", frame)
        if malformed:
            self._violation(
                "http-header-malformed", "header line without a field name and colon skipped", frame
            )
        return tuple((n, v) for n, v in fields)

    # -- framing

    def _content_length(self, headers: Headers, frame: int) -> int | None:
        values = header_values(headers, "content-length")
        if not values:
            return None
        lengths: set[int] = set()
        for value in values:
            for part in value.split(","):
                part = part.strip()
                if part.isdigit() and len(part) <= 18:
                    lengths.add(int(part))
                else:
                    self._violation("http-content-length-invalid", f"bad Content-Length {part!r}", frame)
                    return -1
        if len(lengths) > 1:
            self._violation(
                "http-content-length-conflict", f"conflicting Content-Length values {sorted(lengths)}", frame
            )
            return -1
        return lengths.pop()

    def _frame_body(self, headers: Headers, frame: int, *, default_close: bool) -> None:
        te = header_tokens(headers, "transfer-encoding")
        has_cl = bool(header_values(headers, "content-length"))
        if te:
            if has_cl:
                self._violation(
                    "http-te-and-cl", "both Transfer-Encoding and Content-Length (request smuggling?)", frame
                )
            if te[-1] == "chunked":
                self._state = _State.CHUNK_SIZE
                return
            self._violation("http-transfer-encoding-unknown", f"Transfer-Encoding {','.join(te)}", frame)
            self._state = _State.BODY_CLOSE
            return
        length = self._content_length(headers, frame)
        if length is None:
            if default_close:
                self._state = _State.BODY_CLOSE
            else:
                self._end_message(frame, complete=True)
            return
        if length < 0:
            self._state = _State.BODY_CLOSE
            return
        if length == 0:
            self._end_message(frame, complete=True)
            return
        self._remaining = length
        self._state = _State.BODY_LENGTH

    def _frame_request(self, req: RequestLine, headers: Headers, frame: int) -> None:
        if req.version == "HTTP/1.1" and not header_values(headers, "host"):
            self._violation("http-missing-host", "HTTP/1.1 request without a Host header", frame)
        if req.method == "CONNECT" or (
            header_values(headers, "upgrade") and "upgrade" in header_tokens(headers, "connection")
        ):
            # After this request wait for the response: 2xx / 101 makes the rest opaque, anything else keeps
            # HTTP going (e.g. 407 then a second CONNECT with Proxy-Authorization on the same connection).
            self._pause_after_body = True
        self._frame_body(headers, frame, default_close=False)

    def _frame_response(self, status: StatusLine, headers: Headers, frame: int) -> None:
        pending = self._pending()
        method = pending.method if pending is not None else None
        code = status.status
        if code == 101 or (method == "CONNECT" and 200 <= code < 300):
            self._events.append(EndOfMessage(frame, True, ()))
            self._in_message = False
            self._state = _State.SWITCHED
            return
        if 100 <= code < 200 or code in (204, 304) or method == "HEAD":
            self._end_message(frame, complete=True)
            return
        self._frame_body(headers, frame, default_close=True)

    # -- chunked

    def _step_chunk_size(self) -> bool:
        buf = self._buf
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) > MAX_CHUNK_LINE_BYTES:
                self._bad_chunk("chunk-size line too long")
                return True
            return False
        if nl > MAX_CHUNK_LINE_BYTES:
            self._bad_chunk("chunk-size line too long")
            return True
        line = bytes(buf[:nl]).rstrip(b"\r")
        m = _CHUNK_SIZE_RE.match(line)
        if m is None:
            self._bad_chunk(f"bad chunk-size line {line[:32]!r}")
            return True
        self._consume(nl + 1)
        size = int(m.group(1), 16)
        if size == 0:
            self._state = _State.TRAILERS
        else:
            self._remaining = size
            self._state = _State.CHUNK_DATA
        return True

    def _bad_chunk(self, message: str) -> None:
        frame = self._frame_at(0)
        self._violation("http-chunk-malformed", message, frame)
        self._end_message(frame, complete=False)
        self._lose(at_line_start=False)

    def _step_chunk_data_end(self) -> bool:
        buf = self._buf
        if not buf:
            return False
        if buf[:2] == b"\r\n":
            self._consume(2)
        elif buf[:1] == b"\n":
            self._consume(1)
        elif buf[:1] == b"\r" and len(buf) == 1:
            return False
        else:
            self._violation("http-chunk-malformed", "chunk data not followed by CRLF", self._frame_at(0))
        self._state = _State.CHUNK_SIZE
        return True

    def _step_trailers(self) -> bool:
        buf = self._buf
        if not buf:
            return False
        if buf[:2] == b"\r\n" or buf[:1] == b"\n":
            n = 2 if buf[:1] == b"\r" else 1
            last = self._frame_at(n - 1)
            self._consume(n)
            self._end_message(last, complete=True)
            return True
        if buf[:1] == b"\r" and len(buf) == 1:
            return False
        m = _HEAD_END_RE.search(buf)
        if m is None or m.end() > self.max_header_bytes:
            if m is not None or len(buf) > self.max_header_bytes:
                frame = self._frame_at(0)
                self._violation("http-header-too-large", "trailer block larger than the limit", frame)
                self._end_message(frame, complete=False)
                self._lose(at_line_start=False)
                return True
            return False
        last = self._frame_at(m.end() - 1)
        raw = self._consume(m.end())
        trailers = self._parse_fields(raw.split(b"\n"), last, raw)
        self._end_message(last, complete=True, trailers=trailers)
        return True

    # -- resync

    def _step_lost(self) -> bool:
        buf = self._buf
        if not buf:
            return False
        if self._at_line_start:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > MAX_LINE_BYTES:
                    self._consume(len(buf))
                    self._at_line_start = False
                    return True
                return False
            line = bytes(buf[:nl]).rstrip(b"\r")
            ok = (
                parse_request_line(line, strict=True) is not None
                if self.is_request
                else parse_status_line(line) is not None
            )
            if ok:
                self._state = _State.IDLE
                return True
            self._consume(nl + 1)
            return True
        nl = buf.find(b"\n")
        if nl < 0:
            self._consume(len(buf))
            return False
        self._consume(nl + 1)
        self._at_line_start = True
        return True
