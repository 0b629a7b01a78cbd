"""The TLS record layer of one direction of a stream: bytes in, records out (sans-IO).

`RecordStream.feed` takes in-order stream bytes and calls the sink for each complete record. Application-data
records are skipped by their length when nobody will decrypt them: only the 5-byte header is read and the body
is counted, never buffered or copied. This is what keeps `read` fast on captures where bulk data dominates.

Partial records are buffered up to one maximum record (5 + 2^16 bytes): the buffer is bounded by the format.
A byte sequence that cannot be a record header loses sync for the direction; the stream then looks for the next
plausible header and records both events through the sink's `anomaly` callback.
"""

from __future__ import annotations

from typing import Protocol

CT_CHANGE_CIPHER_SPEC = 20
CT_ALERT = 21
CT_HANDSHAKE = 22
CT_APPLICATION_DATA = 23
CT_HEARTBEAT = 24
CT_TLS12_CID = 25
VALID_CONTENT_TYPES = frozenset((20, 21, 22, 23, 24, 25))
MAX_RECORD_PLAINTEXT = 1 << 14
MAX_RECORD_CIPHERTEXT = MAX_RECORD_PLAINTEXT + 2048
SSLV2_HELLO = -2
"""Pseudo content type of an SSLv2-compatible CLIENT-HELLO record."""
SSLV2_SERVER_HELLO = -4
"""Pseudo content type of an SSLv2 SERVER-HELLO record (the server speaks SSL 2.0)."""


class RecordSink(Protocol):
    """Who receives the records of one direction."""

    def on_record(self, from_client: bool, ctype: int, version: int, body: bytes, frame: int) -> None: ...

    def on_skipped(self, from_client: bool, ctype: int, length: int, frame: int) -> None: ...

    def on_anomaly(self, kind: str, message: str, frame: int) -> None: ...


def plausible_header(data: bytes, pos: int) -> bool:
    """Whether data[pos:pos+5] can start a TLS record (content type, version 3.x or DTLS, sane length)."""
    if len(data) - pos < 5:
        return False
    ct, major, minor = data[pos], data[pos + 1], data[pos + 2]
    length = (data[pos + 3] << 8) | data[pos + 4]
    return ct in VALID_CONTENT_TYPES and major == 3 and minor <= 4 and 0 < length <= MAX_RECORD_CIPHERTEXT


def looks_like_sslv2_client_hello(data: bytes) -> bool:
    """An SSLv2 record header (2-byte, high bit set) holding a CLIENT-HELLO with a 2.0 or 3.x version."""
    return (
        len(data) >= 5
        and data[0] & 0x80 != 0
        and data[2] == 1
        and ((data[3] == 0 and data[4] == 2) or (data[3] == 3 and data[4] <= 4))
        and ((data[0] & 0x7F) << 8 | data[1]) >= 9
    )


def looks_like_sslv2_server_hello(data: bytes) -> bool:
    """An SSLv2 record header (2-byte) holding a SERVER-HELLO (message type 4) with version 2.0."""
    return len(data) >= 7 and data[0] & 0x80 != 0 and data[2] == 4 and data[5] == 0 and data[6] == 2


def looks_like_tls(data: bytes) -> bool:
    """Content sniffing for a stream's first bytes: a TLS handshake/alert record or an SSLv2 hello."""
    if len(data) >= 5 and data[0] in (CT_HANDSHAKE, CT_ALERT) and plausible_header(data, 0):
        return True
    return looks_like_sslv2_client_hello(data)


def find_client_hello(data: bytes, start: int = 0) -> int:
    """Offset of the first TLS record that starts a ClientHello in `data` (for STARTTLS and mid-stream
    starts), or -1."""
    pos = data.find(b"\x16\x03", start)
    while pos != -1:
        if plausible_header(data, pos) and len(data) > pos + 5 and data[pos + 5] == 1 and data[pos + 2] <= 4:
            return pos
        pos = data.find(b"\x16\x03", pos + 1)
    return -1


class RecordStream:
    """One direction of TLS records. `keep_app_data` decides whether application-data bodies are delivered."""

    __slots__ = (
        "from_client",
        "sink",
        "keep_app_data",
        "_pending",
        "skip",
        "_skip_ct",
        "lost",
        "hunting",
        "ignore",
        "first",
        "records",
    )

    def __init__(self, from_client: bool, sink: RecordSink, *, keep_app_data: bool = False) -> None:
        self.from_client = from_client
        self.sink = sink
        self.keep_app_data = keep_app_data
        self._pending = b""
        self.skip = 0
        """Bytes of the current application-data record still to come, which nothing reads. A caller holding
        in-order bytes that all fall inside it (``len(data) <= skip``) may subtract them here instead of
        calling `feed`: the effect is the same, without copying them (the engine's fast path does this)."""
        self._skip_ct = 0
        self.lost = False
        self.hunting = False
        """Looking for the first record in a stream that began with other bytes (STARTTLS): no anomaly."""
        self.first = True
        self.ignore = False
        """Set once the connection turned out to be SSL 2.0: the rest of the stream is only counted."""
        self.records = 0

    def feed(self, data: bytes, frame: int) -> None:
        """Consume in-order stream bytes; complete records go to the sink."""
        if self.ignore:
            return
        skip = self.skip
        if skip:
            n = len(data)
            if n <= skip:
                self.skip = skip - n
                return
            data = data[skip:]
            self.skip = 0
        if self._pending:
            data = self._pending + data
            self._pending = b""
        if self.lost:
            pos = _resync(data)
            if pos < 0:
                self._pending = data[-4:]
                return
            self.lost = False
            if self.hunting:
                self.hunting = False
            else:
                self.sink.on_anomaly("tls-resync", "record stream resynchronised after lost data", frame)
            data = data[pos:]
        pos = 0
        n = len(data)
        sink = self.sink
        fc = self.from_client
        while n - pos >= 5:
            if self.first:
                self.first = False
                v2 = SSLV2_HELLO if looks_like_sslv2_client_hello(data[pos:]) else 0
                if not v2 and not fc and looks_like_sslv2_server_hello(data[pos:]):
                    v2 = SSLV2_SERVER_HELLO
                if v2:
                    length = ((data[pos] & 0x7F) << 8) | data[pos + 1]
                    if n - pos - 2 < length:
                        self.first = True
                        break
                    sink.on_record(fc, v2, 2, data[pos + 2 : pos + 2 + length], frame)
                    pos += 2 + length
                    if self.ignore:  # an SSL 2.0 session: its later records are not TLS records
                        return
                    continue
            ct = data[pos]
            if ct not in VALID_CONTENT_TYPES or data[pos + 1] != 3:
                self.lost = True
                sink.on_anomaly(
                    "tls-record-malformed",
                    f"bytes {data[pos : pos + 5].hex()} are not a TLS record header; skipping to the next plausible one",
                    frame,
                )
                # Resynchronise in place: this used to call feed() again on a copy of the rest, one stack frame
                # per bad header, so a chunk with a few thousand of them raised RecursionError.
                nxt = _resync(data, pos + 1)
                if nxt < 0:
                    self._pending = data[max(pos + 1, n - 4) :]
                    return
                self.lost = False
                if self.hunting:
                    self.hunting = False
                else:
                    sink.on_anomaly("tls-resync", "record stream resynchronised after lost data", frame)
                pos = nxt
                continue
            version = (data[pos + 1] << 8) | data[pos + 2]
            length = (data[pos + 3] << 8) | data[pos + 4]
            self.records += 1
            if ct == CT_APPLICATION_DATA and not self.keep_app_data:
                sink.on_skipped(fc, ct, length, frame)
                avail = n - pos - 5
                if avail < length:
                    self.skip = length - avail
                    return
                pos += 5 + length
                continue
            if n - pos - 5 < length:
                self.records -= 1
                break
            sink.on_record(fc, ct, version, data[pos + 5 : pos + 5 + length], frame)
            pos += 5 + length
        if pos < n:
            self._pending = data[pos:]

    def feed_lost(self, data: bytes, frame: int) -> None:
        """Feed bytes while sync is lost (used internally after a bad header)."""
        self.lost = True
        if data:
            self.feed(data, frame)

    def gap(self, length: int, frame: int) -> None:
        """`length` bytes of this direction were not captured. Inside a skipped body nothing is lost."""
        if self.skip >= length:
            self.skip -= length
            return
        self.skip = 0
        self._pending = b""
        if not self.lost:
            self.lost = True
            self.sink.on_anomaly(
                "tls-gap", f"{length} bytes missing from the capture; record sync lost", frame
            )

    @property
    def buffered(self) -> int:
        return len(self._pending)


def _resync(data: bytes, start: int = 0) -> int:
    for pos in range(start, max(0, len(data) - 4)):
        if plausible_header(data, pos) and data[pos] in (
            CT_HANDSHAKE,
            CT_APPLICATION_DATA,
            CT_ALERT,
            CT_CHANGE_CIPHER_SPEC,
        ):
            nxt = pos + 5 + ((data[pos + 3] << 8) | data[pos + 4])
            if nxt + 5 > len(data) or plausible_header(data, nxt):
                return pos
    return -1
