"""RFC 6455 WebSocket frames for one direction, read passively (sans-IO).

`WebSocketParser(from_client)`: `receive_data(data)` buffers, `next_message()` returns the next complete
`WsMessage`, or ``None`` when more data is needed, and raises `DecodeError` for a framing violation that makes the
rest of the direction unreadable (reserved opcode, fragmented or oversized control frame, continuation without a
start, a new data message in the middle of a fragmented one, reserved bits without a negotiated extension, a
64-bit length with the top bit set). No other exception escapes. After a `DecodeError` the parser stays failed.

Bounded memory: payloads are streamed, never buffered whole. Client payloads are unmasked as they arrive; a data
message keeps at most ``max_sample`` bytes (after permessage-deflate decompression) and counts the rest; control
frames are at most 125 bytes by definition. Compressed messages (RSV1) are inflated with zlib when
permessage-deflate was negotiated (``deflate=True``); output beyond ``max_inflate`` bytes per message is not
produced. Without a negotiated extension a RSV1 frame is a protocol violation.

Lenient: a client frame that is not masked (or a server frame that is) is accepted; `WsMessage.masked` says
what was seen. Invalid UTF-8 in a text message is decoded with U+FFFD.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from tlsinspect.errors import DecodeError

OPCODE_NAMES: dict[int, str] = {0x1: "text", 0x2: "binary", 0x8: "close", 0x9: "ping", 0xA: "pong"}
_DEFLATE_TAIL = b"\x00\x00\xff\xff"


@dataclass(frozen=True, slots=True)
class WsMessage:
    """One reassembled message (data) or control frame."""

    kind: str
    """"text", "binary", "close", "ping" or "pong"."""
    length: int
    """Payload bytes on the wire (all fragments, before decompression)."""
    data: bytes
    """The payload (decompressed when compressed), at most ``max_sample`` bytes."""
    text: str | None = None
    """For text messages: ``data`` decoded as UTF-8 (invalid bytes as U+FFFD)."""
    truncated: bool = False
    """``data`` is a prefix of the message (sample cap, or decompression stopped)."""
    compressed: bool = False
    fragments: int = 1
    masked: bool = False
    close_code: int | None = None
    close_reason: str | None = None


class WebSocketParser:
    """Frames of one direction of a WebSocket connection.

    - Returns a `WsMessage` from `next_message` when one is complete.
    - Returns None when more data is needed.
    - Raises DecodeError when the framing is violated.
    """

    def __init__(
        self,
        from_client: bool,
        *,
        deflate: bool = False,
        no_context_takeover: bool = False,
        max_sample: int = 64 * 1024,
        max_inflate: int = 1 << 20,
    ) -> None:
        self.from_client = from_client
        self.deflate = deflate
        self.no_context_takeover = no_context_takeover
        self.max_sample = max_sample
        self.max_inflate = max_inflate
        self._buf = bytearray()
        self._error: DecodeError | None = None
        # current frame
        self._in_payload = False
        self._opcode = 0
        self._fin = False
        self._rsv1 = False
        self._mask: bytes | None = None
        self._remaining = 0
        self._mask_pos = 0
        self._control = bytearray()
        # current fragmented data message
        self._msg_open = False
        self._msg_opcode = 0
        self._msg_compressed = False
        self._msg_length = 0
        self._msg_fragments = 0
        self._msg_masked = False
        self._msg_sample = bytearray()
        self._msg_truncated = False
        self._msg_inflated = 0
        self._inflater: zlib._Decompress | None = None
        self._inflate_broken = False

    def receive_data(self, data: bytes) -> None:
        if self._error is None:
            self._buf += data

    def next_message(self) -> WsMessage | None:
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except DecodeError as exc:
            self._error = exc
            self._buf.clear()
            raise

    # ------------------------------------------------------------------------------------------------------

    def _next(self) -> WsMessage | None:
        while True:
            if not self._in_payload:
                if not self._read_header():
                    return None
            done = self._read_payload()
            if not done:
                return None
            msg = self._finish_frame()
            if msg is not None:
                return msg

    def _read_header(self) -> bool:
        buf = self._buf
        if len(buf) < 2:
            return False
        b0, b1 = buf[0], buf[1]
        fin = bool(b0 & 0x80)
        rsv1 = bool(b0 & 0x40)
        opcode = b0 & 0x0F
        masked = bool(b1 & 0x80)
        length = b1 & 0x7F
        pos = 2
        if opcode not in OPCODE_NAMES and opcode != 0:
            raise DecodeError(f"websocket: reserved opcode {opcode:#x}")
        if b0 & 0x30:
            raise DecodeError("websocket: RSV2/RSV3 set without a negotiated extension")
        is_control = opcode >= 0x8
        if is_control and (not fin or length > 125):
            raise DecodeError("websocket: control frame fragmented or longer than 125 bytes")
        if rsv1 and (is_control or opcode == 0 or not self.deflate):
            raise DecodeError(
                "websocket: RSV1 set without permessage-deflate (or on a control/continuation frame)"
            )
        if length == 126:
            if len(buf) < 4:
                return False
            length = int.from_bytes(buf[2:4], "big")
            pos = 4
        elif length == 127:
            if len(buf) < 10:
                return False
            length = int.from_bytes(buf[2:10], "big")
            if length >> 63:
                raise DecodeError("websocket: 64-bit payload length with the most significant bit set")
            pos = 10
        mask: bytes | None = None
        if masked:
            if len(buf) < pos + 4:
                return False
            mask = bytes(buf[pos : pos + 4])
            pos += 4
        if not is_control:
            if opcode == 0 and not self._msg_open:
                raise DecodeError("websocket: continuation frame without a message to continue")
            if opcode != 0 and self._msg_open:
                raise DecodeError("websocket: new data message while a fragmented one is still open")
        del buf[:pos]
        self._in_payload = True
        self._opcode = opcode
        self._fin = fin
        self._rsv1 = rsv1
        self._mask = mask
        self._remaining = length
        self._mask_pos = 0
        self._control.clear()
        if not is_control:
            if opcode != 0:
                self._msg_open = True
                self._msg_opcode = opcode
                self._msg_compressed = rsv1
                self._msg_length = 0
                self._msg_fragments = 0
                self._msg_masked = masked
                self._msg_sample.clear()
                self._msg_truncated = False
                self._msg_inflated = 0
                if rsv1 and (self._inflater is None or self.no_context_takeover):
                    self._inflater = zlib.decompressobj(-15)
                    self._inflate_broken = False
            self._msg_fragments += 1
            self._msg_length += length
        return True

    def _unmask(self, chunk: bytes) -> bytes:
        if self._mask is None or not chunk:
            return chunk
        mask = self._mask
        start = self._mask_pos
        key = (mask * (len(chunk) // 4 + 2))[start % 4 : start % 4 + len(chunk)]
        self._mask_pos += len(chunk)
        return (int.from_bytes(chunk, "big") ^ int.from_bytes(key, "big")).to_bytes(len(chunk), "big")

    def _read_payload(self) -> bool:
        if self._remaining:
            n = min(self._remaining, len(self._buf))
            if n == 0:
                return False
            chunk = self._unmask(bytes(self._buf[:n]))
            del self._buf[:n]
            self._remaining -= n
            if self._opcode >= 0x8:
                self._control += chunk
            else:
                self._take_data(chunk)
        return self._remaining == 0

    def _take_data(self, chunk: bytes) -> None:
        if not self._msg_compressed:
            room = self.max_sample - len(self._msg_sample)
            if len(chunk) > room:
                self._msg_truncated = True
            self._msg_sample += chunk[: max(room, 0)]
            return
        self._inflate(chunk)

    def _inflate(self, chunk: bytes) -> None:
        if self._inflater is None or self._inflate_broken:
            self._msg_truncated = True
            return
        if self._msg_inflated >= self.max_inflate:
            # Keep the shared context usable only while we inflate everything; past the cap we stop for good.
            self._msg_truncated = True
            self._inflate_broken = True
            return
        try:
            out = self._inflater.decompress(chunk, self.max_inflate - self._msg_inflated)
        except zlib.error:
            self._msg_truncated = True
            self._inflate_broken = True
            return
        if self._inflater.unconsumed_tail:
            self._msg_truncated = True
            self._inflate_broken = True
        self._msg_inflated += len(out)
        room = self.max_sample - len(self._msg_sample)
        if len(out) > room:
            self._msg_truncated = True
        self._msg_sample += out[: max(room, 0)]

    def _finish_frame(self) -> WsMessage | None:
        self._in_payload = False
        opcode = self._opcode
        masked = self._mask is not None
        if opcode >= 0x8:
            payload = bytes(self._control)
            code: int | None = None
            reason: str | None = None
            if opcode == 0x8 and len(payload) >= 2:
                code = int.from_bytes(payload[:2], "big")
                reason = payload[2:].decode("utf-8", errors="replace")
            return WsMessage(
                kind=OPCODE_NAMES[opcode],
                length=len(payload),
                data=payload,
                masked=masked,
                close_code=code,
                close_reason=reason,
            )
        if not self._fin:
            return None
        if self._msg_compressed:
            self._inflate(_DEFLATE_TAIL)
        self._msg_open = False
        data = bytes(self._msg_sample)
        kind = OPCODE_NAMES[self._msg_opcode]
        return WsMessage(
            kind=kind,
            length=self._msg_length,
            data=data,
            text=data.decode("utf-8", errors="replace") if kind == "text" else None,
            truncated=self._msg_truncated,
            compressed=self._msg_compressed,
            fragments=self._msg_fragments,
            masked=self._msg_masked,
        )
