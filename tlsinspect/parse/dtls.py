"""DTLS (RFC 6347, RFC 9147) over UDP: datagrams in, reassembled handshake messages out (sans-IO).

DTLS carries the same handshake messages as TLS, with a 13-byte record header (epoch and sequence number) and
a 12-byte handshake header that allows a message to be fragmented and retransmitted. `DtlsConnection.feed`
takes one datagram of one direction, walks its records, reassembles each cleartext handshake message by its
message_seq from fragments (duplicates and retransmissions dropped), and returns the complete messages in the
TLS framing (type, uint24 length, body), so the TLS connection state handles them as it handles TLS. Records of
a later epoch are encrypted and only counted; DTLS 1.3 unified-header records (first bits 001) likewise.
The ClientHello of DTLS has a cookie after the session id: `dtls_client_hello_to_tls` drops it so the one
ClientHello parser serves both. Bounded: messages, fragments and bytes held.
"""

from __future__ import annotations

from tlsinspect.errors import DecodeError
from tlsinspect.model import Anomaly

DTLS_VERSIONS = frozenset((0xFEFF, 0xFEFD, 0xFEFC, 0x0100))
"""DTLS 1.0, 1.2, 1.3 and OpenSSL's pre-standard DTLS 1.0 (0x0100)."""
CT_ALERT, CT_HANDSHAKE, CT_APPLICATION_DATA = 21, 22, 23
MAX_MESSAGE = 1 << 18
MAX_PENDING_MESSAGES = 32
MAX_ANOMALIES = 32


def looks_like_dtls(payload: bytes) -> bool:
    """A DTLS plaintext record header with a handshake or alert in epoch 0 and a plausible length."""
    if len(payload) < 13 + 12:
        return False
    ct = payload[0]
    version = (payload[1] << 8) | payload[2]
    length = (payload[11] << 8) | payload[12]
    epoch = (payload[3] << 8) | payload[4]
    return (
        ct == CT_HANDSHAKE and version in DTLS_VERSIONS and epoch == 0 and 12 <= length <= len(payload) - 13
    )


def dtls_client_hello_to_tls(body: bytes) -> bytes:
    """A DTLS ClientHello body without its cookie field, i.e. a TLS ClientHello body. Raises DecodeError."""
    pos = 2 + 32
    if len(body) < pos + 1:
        raise DecodeError("DTLS ClientHello truncated before session_id")
    pos += 1 + body[pos]
    if len(body) < pos + 1:
        raise DecodeError("DTLS ClientHello truncated before cookie")
    cookie_len = body[pos]
    if len(body) < pos + 1 + cookie_len:
        raise DecodeError("DTLS ClientHello cookie truncated")
    return body[:pos] + body[pos + 1 + cookie_len :]


class _Message:
    __slots__ = ("mtype", "length", "data", "have", "frame")

    def __init__(self, mtype: int, length: int) -> None:
        self.mtype = mtype
        self.length = length
        self.data = bytearray(length)
        self.have: list[tuple[int, int]] = []
        self.frame = 0

    def add(self, offset: int, fragment: bytes, frame: int) -> bool:
        """Add a fragment; True once the whole message is in."""
        end = offset + len(fragment)
        if end > self.length:
            raise DecodeError(f"fragment [{offset}, {end}) beyond message length {self.length}")
        self.data[offset:end] = fragment
        self.have.append((offset, end))
        self.frame = frame
        covered = 0
        for a, b in sorted(self.have):
            if a > covered:
                return False
            covered = max(covered, b)
        return covered >= self.length


class _Direction:
    __slots__ = ("next_seq", "pending", "encrypted_records", "started")

    def __init__(self) -> None:
        self.started = False
        self.next_seq = 0
        self.pending: dict[int, _Message] = {}
        self.encrypted_records = 0


class DtlsConnection:
    """Both directions of one DTLS association (keyed by the engine on the UDP 4-tuple)."""

    def __init__(self) -> None:
        self._dirs = {True: _Direction(), False: _Direction()}
        self._anomalies: list[Anomaly] = []
        self.version: int | None = None
        self.records = 0
        self.alerts: list[tuple[bool, int, int, int]] = []
        """Cleartext alerts: (from_client, level, description, frame)."""

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        return tuple(self._anomalies)

    def _anomaly(self, kind: str, message: str, frame: int) -> None:
        if len(self._anomalies) < MAX_ANOMALIES:
            self._anomalies.append(Anomaly(layer="dtls", kind=kind, message=message, frame=frame))

    def feed(self, datagram: bytes, from_client: bool, frame: int) -> list[tuple[bool, bytes, int]]:
        """Walk one datagram; return complete handshake messages as (from_client, TLS-framed bytes, frame)."""
        out: list[tuple[bool, bytes, int]] = []
        d = self._dirs[from_client]
        pos = 0
        n = len(datagram)
        while n - pos >= 13:
            ct = datagram[pos]
            if ct & 0xE0 == 0x20:  # DTLS 1.3 unified header: always encrypted
                d.encrypted_records += 1
                return out
            version = (datagram[pos + 1] << 8) | datagram[pos + 2]
            epoch = (datagram[pos + 3] << 8) | datagram[pos + 4]
            length = (datagram[pos + 11] << 8) | datagram[pos + 12]
            if version not in DTLS_VERSIONS or ct not in (20, 21, 22, 23, 24, 25):
                self._anomaly(
                    "dtls-record-malformed",
                    f"bytes {datagram[pos : pos + 5].hex()} are not a DTLS record",
                    frame,
                )
                return out
            body = datagram[pos + 13 : pos + 13 + length]
            if len(body) < length:
                self._anomaly(
                    "dtls-record-truncated", f"record of {length} bytes, {len(body)} in the datagram", frame
                )
                return out
            pos += 13 + length
            self.records += 1
            if self.version is None:
                self.version = version
            if epoch:
                d.encrypted_records += 1
                continue
            if ct == CT_HANDSHAKE:
                try:
                    self._handshake(d, from_client, body, frame, out)
                except DecodeError as e:
                    self._anomaly("dtls-handshake-malformed", str(e), frame)
            elif ct == CT_ALERT and len(body) == 2:
                self.alerts.append((from_client, body[0], body[1], frame))
        return out

    def _handshake(
        self, d: _Direction, from_client: bool, body: bytes, frame: int, out: list[tuple[bool, bytes, int]]
    ) -> None:
        pos = 0
        while len(body) - pos >= 12:
            mtype = body[pos]
            length = int.from_bytes(body[pos + 1 : pos + 4], "big")
            seq = int.from_bytes(body[pos + 4 : pos + 6], "big")
            frag_off = int.from_bytes(body[pos + 6 : pos + 9], "big")
            frag_len = int.from_bytes(body[pos + 9 : pos + 12], "big")
            frag = body[pos + 12 : pos + 12 + frag_len]
            if len(frag) < frag_len:
                raise DecodeError(f"handshake fragment of {frag_len} bytes, {len(frag)} in the record")
            pos += 12 + frag_len
            if length > MAX_MESSAGE:
                raise DecodeError(f"handshake message of {length} bytes")
            if not d.started:
                d.started = True
                d.next_seq = seq  # a capture that starts mid-handshake begins at the first message it has
            if seq < d.next_seq:
                continue  # a retransmission of a message already delivered
            msg = d.pending.get(seq)
            if msg is None:
                if len(d.pending) >= MAX_PENDING_MESSAGES:
                    raise DecodeError("too many incomplete handshake messages")
                msg = d.pending[seq] = _Message(mtype, length)
            elif msg.mtype != mtype or msg.length != length:
                raise DecodeError(f"fragments of message {seq} disagree on its type or length")
            msg.add(frag_off, frag, frame)
            # Deliver messages in sequence order as they complete.
            while True:
                nxt = d.pending.get(d.next_seq)
                if nxt is None or not _complete(nxt):
                    break
                del d.pending[d.next_seq]
                d.next_seq += 1
                data = bytes(nxt.data)
                if nxt.mtype == 1:
                    data = dtls_client_hello_to_tls(data)
                out.append((from_client, bytes([nxt.mtype]) + len(data).to_bytes(3, "big") + data, nxt.frame))


def _complete(msg: _Message) -> bool:
    covered = 0
    for a, b in sorted(msg.have):
        if a > covered:
            return False
        covered = max(covered, b)
    return covered >= msg.length
