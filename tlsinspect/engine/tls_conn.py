"""The TLS side of one connection: records in both directions -> handshake state -> a frozen `TlsInfo`.

`TlsConnection` is the `RecordSink` of the two `RecordStream`s of a flow. Handshake messages are reassembled
across records (bounded), dispatched through the `HANDLERS` table by handshake type, and the facts they carry
are kept on the connection until `snapshot()` freezes them. With a key log, a `TlsDecryptor` turns encrypted
records back into inner records, which take the same path (so a TLS 1.3 Certificate decrypted from the wire is
handled by the same handler as a TLS 1.2 cleartext one).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from typing import Any

from tlsinspect.errors import DecodeError
from tlsinspect.model import (
    Alert,
    Anomaly,
    Certificate,
    ClientHello,
    HandshakeMessage,
    KeyExchange,
    ServerHello,
    TlsInfo,
    evolve,
)
from tlsinspect.parse import tls_handshake as hs
from tlsinspect.parse.fingerprints import first_alpn_bytes, ja3, ja3s, ja4
from tlsinspect.parse.reader import Reader
from tlsinspect.parse.tls_extensions import (
    EXT_ALPN,
    EXT_ENCRYPT_THEN_MAC,
    EXT_PRE_SHARED_KEY,
    EXT_SESSION_TICKET,
)
from tlsinspect.parse.tls_stream import (
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    SSLV2_HELLO,
    SSLV2_SERVER_HELLO,
    RecordStream,
)
from tlsinspect.parse.x509 import decode_certificate
from tlsinspect.registry import cipher_suite_info

MAX_HANDSHAKE_MESSAGE = 1 << 20
"""Largest handshake message reassembled (certificate chains of a few hundred KiB exist; 1 MiB is ample)."""
MAX_EARLY_RECORDS = 256
"""Records kept while waiting for the ServerHello to set up decryption."""
MAX_ANOMALIES = 64

TLS13 = 0x0304
DTLS13 = 0xFEFC


class TlsConnection:
    """Mutable TLS state of one flow; `snapshot()` gives the frozen view."""

    def __init__(
        self,
        *,
        keylog: Any = None,
        app_sink: Callable[[bool, bytes, int], None] | None = None,
        transport: str = "t",
    ) -> None:
        self.keylog = keylog
        self.transport = transport
        """JA4 transport letter: "t" (TCP) or "q" (QUIC)."""
        self.app_sink = app_sink
        """Receives decrypted application data (from_client, bytes, frame)."""
        self.client = RecordStream(True, self, keep_app_data=False)
        self.server = RecordStream(False, self, keep_app_data=False)
        self._hs_buf = [b"", b""]  # server, client (index by from_client)
        self._encrypted = [False, False]  # after ChangeCipherSpec (<= 1.2) or ServerHello (1.3)
        self.client_hello: ClientHello | None = None
        self.client_hello2: ClientHello | None = None
        self.hrr: ServerHello | None = None
        self.server_hello: ServerHello | None = None
        self.certificates: tuple[Certificate, ...] = ()
        self.cert_visibility = "none"
        self.client_certificates: tuple[Certificate, ...] = ()
        self.alerts: list[Alert] = []
        self.messages: list[HandshakeMessage] = []
        self.key_exchange: KeyExchange | None = None
        self.ocsp = False
        self.tickets = 0
        self.cert_request = False
        self.app_records = [0, 0]
        self.app_bytes = [0, 0]
        self.ccs = [0, 0]
        self.enc_hs = [0, 0]
        self.anomalies: list[Anomaly] = []
        self.decryptor: Any = None
        self.decryption: str | None = None
        self.decrypted_records = 0
        self._early: list[tuple[bool, int, int, bytes, int]] = []
        self._inner = False
        self.finished_seen = [False, False]
        self.server_sent_certificate = False
        self._rv = 0
        self._hs_rv = [0, 0]
        self.ee_alpn: str | None = None
        """ALPN chosen in EncryptedExtensions (TLS 1.3, visible only after decryption)."""
        self.sslv2_server: tuple[int, int | None] | None = None
        """(version, first cipher spec) of an SSLv2 SERVER-HELLO: the connection speaks SSL 2.0."""

    # -- RecordSink -------------------------------------------------------------------------------------------

    def on_anomaly(self, kind: str, message: str, frame: int) -> None:
        if len(self.anomalies) < MAX_ANOMALIES:
            self.anomalies.append(Anomaly(layer="tls", kind=kind, message=message, frame=frame))

    def on_skipped(self, from_client: bool, ctype: int, length: int, frame: int) -> None:
        i = int(from_client)
        self.app_records[i] += 1
        self.app_bytes[i] += length

    def on_record(self, from_client: bool, ctype: int, version: int, body: bytes, frame: int) -> None:
        i = int(from_client)
        self._rv = version
        if ctype == SSLV2_HELLO:
            self._sslv2_hello(body, frame)
            return
        if ctype == SSLV2_SERVER_HELLO:
            self._sslv2_server_hello(body, frame)
            return
        if self.decryptor is None and self.keylog and ctype != CT_CHANGE_CIPHER_SPEC:
            if self._encrypted[i] or (ctype == CT_APPLICATION_DATA and self.server_hello is None):
                if len(self._early) < MAX_EARLY_RECORDS and self.server_hello is None:
                    self._early.append((from_client, ctype, version, body, frame))
                    return
        if (
            self.decryptor is not None
            and ctype != CT_CHANGE_CIPHER_SPEC
            and (self._encrypted[i] or ctype == CT_APPLICATION_DATA)
        ):
            self._decrypt(from_client, ctype, version, body, frame)
            return
        self._plain_record(from_client, ctype, body, frame, encrypted=self._encrypted[i])

    def _plain_record(
        self, from_client: bool, ctype: int, body: bytes, frame: int, *, encrypted: bool
    ) -> None:
        i = int(from_client)
        if ctype == CT_HANDSHAKE:
            if encrypted:
                self.enc_hs[i] += 1
                self.messages.append(
                    HandshakeMessage(
                        frame=frame, sender=_who(from_client), msg_type=-1, length=len(body), encrypted=True
                    )
                )
                return
            self._handshake_bytes(from_client, body, frame)
        elif ctype == CT_CHANGE_CIPHER_SPEC:
            self.ccs[i] += 1
            # TLS 1.3 middlebox-compatibility CCS (also the one sent before a second ClientHello after an
            # HRR) changes nothing; in TLS <= 1.2 the sender's next records are encrypted.
            if self.server_hello is not None and not self._is_tls13():
                self._encrypted[i] = True
                if self.decryptor is not None:
                    self.decryptor.change_cipher_spec(from_client)
        elif ctype == CT_ALERT:
            self._alert(from_client, body, frame, encrypted=encrypted)
        elif ctype == CT_APPLICATION_DATA:
            self.app_records[i] += 1
            self.app_bytes[i] += len(body)

    def crypto_data(
        self, from_client: bool, data: bytes, frame: int, *, decrypted: bool = False, record_version: int = 0
    ) -> None:
        """Handshake bytes without a TLS record layer (QUIC CRYPTO frames, reassembled DTLS messages);
        `decrypted` for the QUIC Handshake space, `record_version` the DTLS record's version."""
        self._rv = record_version
        if decrypted:
            self._inner = True
            self.decrypted_records += 1
            self.decryption = "decrypted"
        try:
            self._handshake_bytes(from_client, data, frame)
        finally:
            self._inner = False

    # -- handshake reassembly ---------------------------------------------------------------------------------

    def _handshake_bytes(self, from_client: bool, body: bytes, frame: int) -> None:
        i = int(from_client)
        if not self._hs_buf[i]:
            self._hs_rv[i] = self._rv
        buf = self._hs_buf[i] + body if self._hs_buf[i] else body
        pos = 0
        while len(buf) - pos >= 4:
            mtype = buf[pos]
            mlen = int.from_bytes(buf[pos + 1 : pos + 4], "big")
            if mlen > MAX_HANDSHAKE_MESSAGE:
                self.on_anomaly(
                    "tls-handshake-too-long", f"handshake message type {mtype} claims {mlen} bytes", frame
                )
                buf = b""
                pos = 0
                break
            if len(buf) - pos - 4 < mlen:
                break
            self._message(from_client, mtype, buf[pos + 4 : pos + 4 + mlen], frame)
            pos += 4 + mlen
        self._hs_buf[i] = buf[pos:]

    def _message(self, from_client: bool, mtype: int, body: bytes, frame: int) -> None:
        self.messages.append(
            HandshakeMessage(
                frame=frame, sender=_who(from_client), msg_type=mtype, length=len(body), decrypted=self._inner
            )
        )
        handler = HANDLERS.get(mtype)
        if handler is None:
            return
        try:
            handler(self, from_client, body, frame)
        except DecodeError as e:
            self.on_anomaly("tls-handshake-malformed", f"handshake type {mtype}: {e}", frame)

    def _client_hello(self, from_client: bool, body: bytes, frame: int) -> None:
        if not from_client:
            self.on_anomaly("tls-unexpected-message", "ClientHello sent by the server side", frame)
        rv = self._record_version_hint(from_client)
        problems: list[str] = []
        ch = hs.parse_client_hello(body, frame=frame, record_version=rv, problems=problems)
        for p in problems:
            self.on_anomaly("tls-handshake-malformed", f"ClientHello: {p}", frame)
        ch = _fingerprinted(ch, self.transport)
        if self.client_hello is None:
            self.client_hello = ch
            self._maybe_keep_early(ch)
        elif self.hrr is not None and self.client_hello2 is None:
            self.client_hello2 = ch
        elif self.client_hello2 is None and self.server_hello is None:
            self.client_hello2 = ch  # a duplicate hello before any server answer
        else:
            self.on_anomaly(
                "tls-renegotiation", "another ClientHello (renegotiation) seen in cleartext", frame
            )

    def _server_hello(self, from_client: bool, body: bytes, frame: int) -> None:
        rv = self._record_version_hint(from_client)
        problems: list[str] = []
        sh = hs.parse_server_hello(body, frame=frame, record_version=rv, problems=problems)
        for p in problems:
            self.on_anomaly("tls-handshake-malformed", f"ServerHello: {p}", frame)
        full, md5 = ja3s(sh)
        sh = evolve(sh, ja3s_full=full, ja3s=md5)
        if sh.is_hrr:
            self.hrr = sh
            return
        if self.server_hello is not None:
            self.on_anomaly("tls-renegotiation", "another ServerHello seen in cleartext", frame)
            return
        self.server_hello = sh
        if self._is_tls13():
            self._encrypted = [True, True]
        self._setup_decryption()

    def _certificate(self, from_client: bool, body: bytes, frame: int, *, tls13: bool | None = None) -> None:
        ders, _ctx = hs.parse_certificate_list(body, tls13=self._is_tls13() if tls13 is None else tls13)
        certs = tuple(decode_certificate(d) for d in ders)
        for c in certs:
            if c.error:
                self.on_anomaly("x509-undecodable", f"certificate could not be decoded: {c.error}", frame)
        if from_client:
            self.client_certificates = certs
        else:
            self.certificates = certs
            self.server_sent_certificate = True
            self.cert_visibility = "decrypted" if self._inner else "cleartext"

    def _compressed_certificate(self, from_client: bool, body: bytes, frame: int) -> None:
        alg, ulen, data = hs.parse_compressed_certificate(body)
        if ulen > MAX_HANDSHAKE_MESSAGE:
            raise DecodeError(f"compressed certificate claims {ulen} bytes")
        try:
            raw = _decompress_certificate(alg, data, ulen)
        except DecodeError:
            raise
        except Exception as e:  # the third-party decoders raise their own error types
            raise DecodeError(f"decompression failed: {e}") from e
        if raw is None:
            self.on_anomaly(
                "tls-compressed-certificate", f"certificate compressed with unknown algorithm {alg}", frame
            )
            return
        self._certificate(from_client, raw, frame, tls13=True)  # RFC 8879 compresses TLS 1.3 Certificates

    def _server_key_exchange(self, from_client: bool, body: bytes, frame: int) -> None:
        info = cipher_suite_info(self.server_hello.cipher_suite) if self.server_hello else None
        kx = info.kx if info else "unknown"
        tls12 = bool(self.server_hello and self.server_hello.legacy_version >= 0x0303)
        self.key_exchange = hs.parse_server_key_exchange(body, frame=frame, kx=kx, tls12=tls12)

    def _new_session_ticket(self, from_client: bool, body: bytes, frame: int) -> None:
        self.tickets += 1
        hs.parse_new_session_ticket(body, tls13=self._is_tls13())

    def _encrypted_extensions(self, from_client: bool, body: bytes, frame: int) -> None:
        r = Reader(body)
        exts = hs.parse_extensions(r, "ee")
        alpn = next((e.decoded for e in exts if e.type == EXT_ALPN and isinstance(e.decoded, tuple)), None)
        if alpn:
            self.ee_alpn = alpn[0]

    def negotiated_alpn(self) -> str | None:
        """The protocol the server chose: from the ServerHello (TLS <= 1.2) or EncryptedExtensions (1.3)."""
        if self.server_hello is not None and self.server_hello.alpn:
            return self.server_hello.alpn
        return self.ee_alpn

    def _certificate_request(self, from_client: bool, body: bytes, frame: int) -> None:
        self.cert_request = True

    def _certificate_status(self, from_client: bool, body: bytes, frame: int) -> None:
        self.ocsp = True

    def _finished(self, from_client: bool, body: bytes, frame: int) -> None:
        self.finished_seen[int(from_client)] = True

    # -- alerts ---------------------------------------------------------------------------------------------

    def add_alert(self, from_client: bool, level: int, description: int, frame: int) -> None:
        """A cleartext alert read outside the TLS record layer (DTLS)."""
        self._alert(from_client, bytes((level, description)), frame, encrypted=False)

    def _alert(self, from_client: bool, body: bytes, frame: int, *, encrypted: bool) -> None:
        who = _who(from_client)
        if encrypted and len(body) == 2 and body[0] in (1, 2):
            encrypted = (
                False  # an encrypted alert is never 2 bytes (MAC/AEAD tag): this one was sent in clear
            )
        if encrypted or len(body) % 2 or not body:
            self.alerts.append(Alert(frame=frame, sender=who, level=None, description=None, encrypted=True))
            return
        for k in range(0, len(body), 2):
            level, desc = body[k], body[k + 1]
            if level not in (1, 2):
                self.alerts.append(
                    Alert(frame=frame, sender=who, level=None, description=None, encrypted=True)
                )
                return
            self.alerts.append(Alert(frame=frame, sender=who, level=level, description=desc, encrypted=False))

    def _sslv2_hello(self, body: bytes, frame: int) -> None:
        try:
            ch = hs.parse_sslv2_client_hello(body, frame=frame)
        except DecodeError as e:
            self.on_anomaly("tls-sslv2-malformed", f"SSLv2 CLIENT-HELLO: {e}", frame)
            return
        self.messages.append(HandshakeMessage(frame=frame, sender="client", msg_type=1, length=len(body)))
        if self.client_hello is None:
            self.client_hello = _fingerprinted(ch, self.transport)

    def _sslv2_server_hello(self, body: bytes, frame: int) -> None:
        try:
            version, der, suites = hs.parse_sslv2_server_hello(body)
        except DecodeError as e:
            self.on_anomaly("tls-sslv2-malformed", f"SSLv2 SERVER-HELLO: {e}", frame)
            return
        self.messages.append(HandshakeMessage(frame=frame, sender="server", msg_type=2, length=len(body)))
        self.sslv2_server = (version, suites[0] if suites else None)
        if der is not None:
            self.certificates = (decode_certificate(der),)
            self.cert_visibility = "cleartext"
            self.server_sent_certificate = True
        # The rest of an SSL 2.0 session is in SSLv2 records, which are not parsed further.
        self.client.ignore = True
        self.server.ignore = True

    # -- decryption -----------------------------------------------------------------------------------------

    def _maybe_keep_early(self, ch: ClientHello) -> None:
        if self.keylog and self.keylog.secrets(ch.random):
            self.client.keep_app_data = True
            self.server.keep_app_data = True

    def _setup_decryption(self) -> None:
        if not self.keylog or self.client_hello is None or self.server_hello is None:
            return
        from tlsinspect.engine.decrypt import session_decryptor

        sh = self.server_hello
        etm = any(e.type == EXT_ENCRYPT_THEN_MAC for e in sh.extensions)
        res = session_decryptor(
            self.keylog,
            client_random=self.client_hello.random,
            server_random=sh.random,
            version=self.version or sh.legacy_version,
            cipher_suite=sh.cipher_suite,
            encrypt_then_mac=etm,
        )
        if isinstance(res, str):
            self.decryption = res
            self.client.keep_app_data = False
            self.server.keep_app_data = False
            early, self._early = self._early, []
            for fc, ct, _v, body, fr in early:
                self._plain_record(fc, ct, body, fr, encrypted=True)
            return
        self.decryptor = res
        self.decryption = res.limitation or "decrypted"
        self.client.keep_app_data = True
        self.server.keep_app_data = True
        early, self._early = self._early, []
        for fc, ct, v, body, fr in early:
            self._decrypt(fc, ct, v, body, fr)

    def _decrypt(self, from_client: bool, ctype: int, version: int, body: bytes, frame: int) -> None:
        from tlsinspect.engine.decrypt import DecryptError

        try:
            inner_type, plain = self.decryptor.decrypt(from_client, ctype, version, body)
        except DecryptError as e:
            if self.decrypted_records == 0:
                self.decryption = f"decryption failed: {e}"
            self.on_anomaly("decrypt-failed", f"record not decrypted: {e}", frame)
            self._plain_record(from_client, ctype, body, frame, encrypted=True)
            return
        self.decrypted_records += 1
        self._inner = True
        try:
            if inner_type == CT_APPLICATION_DATA:
                i = int(from_client)
                self.app_records[i] += 1
                self.app_bytes[i] += len(plain)
                if self.app_sink is not None and plain:
                    self.app_sink(from_client, plain, frame)
            elif inner_type == CT_HANDSHAKE:
                self._handshake_bytes(from_client, plain, frame)
            elif inner_type == CT_ALERT:
                self._alert(from_client, plain, frame, encrypted=False)
        finally:
            self._inner = False

    # -- helpers --------------------------------------------------------------------------------------------

    def _record_version_hint(self, from_client: bool) -> int:
        return self._hs_rv[int(from_client)]

    @property
    def version(self) -> int | None:
        sh = self.server_hello
        if sh is None:
            return self.sslv2_server[0] if self.sslv2_server else None
        return sh.selected_version or sh.legacy_version

    def _is_tls13(self) -> bool:
        v = self.version
        return v is not None and (v in (TLS13, DTLS13) or (v >> 8) == 0x7F or v in (0x7E01, 0x7E02, 0xFB1A))

    def resumption(self) -> str | None:
        """How the session was resumed: "psk", "session-id", "ticket" or None."""
        ch, sh = self.client_hello, self.server_hello
        if ch is None or sh is None:
            return None
        if self._is_tls13():
            return "psk" if any(e.type == EXT_PRE_SHARED_KEY for e in sh.extensions) else None
        if self.server_sent_certificate or self.key_exchange is not None:
            return None
        if sh.session_id and sh.session_id == ch.session_id:
            return "session-id"
        ticket = next((e for e in ch.extensions if e.type == EXT_SESSION_TICKET), None)
        if ticket is not None and ticket.data and self.ccs[0]:
            return "ticket"
        if (
            sh.session_id
            and self.ccs[0]
            and not any(m.msg_type == hs.HT_SERVER_HELLO_DONE for m in self.messages)
        ):
            return "ticket" if ticket is not None else "session-id"
        return None

    def snapshot(self) -> TlsInfo:
        """The frozen view of everything seen so far."""
        sh = self.server_hello
        if sh is not None and sh.alpn is None and self.ee_alpn is not None:
            sh = evolve(sh, alpn=self.ee_alpn)  # TLS 1.3: the choice was in EncryptedExtensions
        vis = self.cert_visibility
        if vis == "none" and sh is not None and self._is_tls13() and self.resumption() is None:
            vis = "encrypted"
        resumed = self.resumption()
        decryption = self.decryption
        if decryption is None and self.keylog:
            if self.client_hello is None:
                decryption = (
                    "capture started after the handshake: no ClientHello, so no client_random to look up"
                )
            elif sh is None and self.sslv2_server is None:
                decryption = "no ServerHello seen: the cipher suite is unknown"
        return TlsInfo(
            client_hello=self.client_hello,
            hello_retry_request=self.hrr,
            client_hello_after_hrr=self.client_hello2,
            server_hello=sh,
            version=self.version,
            cipher_suite=sh.cipher_suite if sh else (self.sslv2_server[1] if self.sslv2_server else None),
            certificates=self.certificates,
            certificates_visibility=vis,
            client_certificates=self.client_certificates,
            alerts=tuple(self.alerts),
            resumed=resumed is not None,
            resumption=resumed,
            decrypted=self.decrypted_records > 0,
            decryption=decryption,
            handshake_messages=tuple(self.messages[:512]),
            key_exchange=self.key_exchange,
            ocsp_stapled=self.ocsp,
            session_tickets=self.tickets,
            certificate_requested=self.cert_request,
            app_data_records=(self.app_records[1], self.app_records[0]),
            app_data_bytes=(self.app_bytes[1], self.app_bytes[0]),
            change_cipher_spec=(self.ccs[1], self.ccs[0]),
            encrypted_handshake_records=(self.enc_hs[1], self.enc_hs[0]),
        )


def _decompress_certificate(alg: int, data: bytes, ulen: int) -> bytes | None:
    """RFC 8879 certificate decompression (1 zlib, 2 brotli, 3 zstd), never producing more than `ulen` bytes
    (a decompression bomb stops there). None for an algorithm with no decoder."""
    if alg == 1:
        try:
            return zlib.decompressobj().decompress(data, ulen)
        except zlib.error as e:
            raise DecodeError(f"zlib: {e}") from e
    # brotli and zstandard are imported here, at their first use: few captures need them, and every read would
    # otherwise pay their import (about 10 ms) before its first frame.
    if alg == 2:
        import brotli

        return bytes(brotli.Decompressor().process(data, output_buffer_limit=ulen))[:ulen]
    if alg == 3:
        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
            return bytes(reader.read(ulen))
    return None


def _who(from_client: bool) -> str:
    return "client" if from_client else "server"


_FINGERPRINTS: dict[tuple[Any, ...], tuple[str, str, str, str]] = {}
_FINGERPRINTS_MAX = 4096


def _fingerprinted(ch: ClientHello, transport: str) -> ClientHello:
    """The ClientHello with its JA3 and JA4. Both are functions of a few fields only, which one client program
    sends the same way in every connection, so they are computed once per distinct set of those fields (the
    key below holds every input of `ja3` and `ja4`; the test compares cached and fresh values)."""
    key = (
        transport,
        ch.sslv2,
        ch.legacy_version,
        ch.cipher_suites,
        tuple(e.type for e in ch.extensions),
        first_alpn_bytes(ch),
        ch.supported_versions,
        ch.supported_groups,
        ch.signature_algorithms,
        ch.ec_point_formats,
    )
    found = _FINGERPRINTS.get(key)
    if found is None:
        if len(_FINGERPRINTS) >= _FINGERPRINTS_MAX:
            _FINGERPRINTS.clear()
        full, md5 = ja3(ch)
        j4, j4r = ja4(ch, transport)
        found = _FINGERPRINTS[key] = (full, md5, j4, j4r)
    full, md5, j4, j4r = found
    return evolve(ch, ja3_full=full, ja3=md5, ja4=j4, ja4_r=j4r)


HANDLERS: dict[int, Callable[[TlsConnection, bool, bytes, int], None]] = {
    hs.HT_CLIENT_HELLO: TlsConnection._client_hello,
    hs.HT_SERVER_HELLO: TlsConnection._server_hello,
    hs.HT_NEW_SESSION_TICKET: TlsConnection._new_session_ticket,
    hs.HT_CERTIFICATE: TlsConnection._certificate,
    hs.HT_COMPRESSED_CERTIFICATE: TlsConnection._compressed_certificate,
    hs.HT_SERVER_KEY_EXCHANGE: TlsConnection._server_key_exchange,
    hs.HT_CERTIFICATE_REQUEST: TlsConnection._certificate_request,
    hs.HT_ENCRYPTED_EXTENSIONS: TlsConnection._encrypted_extensions,
    hs.HT_CERTIFICATE_STATUS: TlsConnection._certificate_status,
    hs.HT_FINISHED: TlsConnection._finished,
}
"""Handshake type -> handler. Types not listed are recorded in the message ladder only."""
