"""Tests of tlsinspect.engine.decrypt against real TLS traffic.

Wire bytes come from three real sources: Python's ssl module driven in memory (MemoryBIO pairs, TLS 1.2 and 1.3),
the openssl CLI behind a loopback relay (the five TLS 1.3 suites, KeyUpdate), and the snet capture corpus (suites
the local OpenSSL will not negotiate). Nothing leaves 127.0.0.1, every loop is bounded, subprocesses time out.
"""

from __future__ import annotations

import configparser
import datetime
import ipaddress
import select
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsinspect.capture.inputs import read_keylog
from tlsinspect.engine.decrypt import (
    CIPHERS,
    TLS12_SUITES,
    TLS13_SUITES,
    DecryptError,
    TlsDecryptor,
    session_decryptor,
)
from tlsinspect.parse.keylog import KeyLog

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "snet"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus/snet")
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
TIMEOUT = 20.0
# SSL_OP_NO_ENCRYPT_THEN_MAC from OpenSSL's ssl.h; Python exposes it only from 3.13. The tests check the
# ServerHello, so a value that did not take effect shows up as a failure, not as a silent pass.
OP_NO_ENCRYPT_THEN_MAC: int = getattr(ssl, "OP_NO_ENCRYPT_THEN_MAC", 1 << 19)

# --- wire helpers: records, hellos, a whole connection ---------------------------------------------------------


@dataclass
class Record:
    from_client: bool
    content_type: int
    version: int
    fragment: bytes


def split_records(data: bytes, from_client: bool) -> list[Record]:
    """Split one direction's byte stream into records (a trailing partial record is dropped)."""
    records = []
    offset = 0
    while offset + 5 <= len(data):
        content_type, version, length = struct.unpack_from("!BHH", data, offset)
        if offset + 5 + length > len(data):
            break
        records.append(Record(from_client, content_type, version, data[offset + 5 : offset + 5 + length]))
        offset += 5 + length
    return records


@dataclass
class Hellos:
    client_random: bytes
    server_random: bytes
    version: int
    cipher_suite: int
    encrypt_then_mac: bool
    session_id_echoed: bool = False


def read_hellos(client: list[Record], server: list[Record]) -> Hellos:
    """client_random, server_random, version, suite and EtM from the cleartext ClientHello and ServerHello."""
    ch = next(r.fragment for r in client if r.content_type == 22)
    sh_records = [r.fragment for r in server if r.content_type == 22]
    sh = sh_records[0]
    assert ch[0] == 1 and sh[0] == 2
    client_random = ch[6:38]
    body = sh[4 : 4 + int.from_bytes(sh[1:4], "big")]
    version = int.from_bytes(body[0:2], "big")
    server_random = body[2:34]
    sid_len = body[34]
    client_sid = ch[39 : 39 + ch[38]]
    offset = 35 + sid_len
    cipher_suite = int.from_bytes(body[offset : offset + 2], "big")
    offset += 3
    etm = False
    if offset + 2 <= len(body):
        end = offset + 2 + int.from_bytes(body[offset : offset + 2], "big")
        offset += 2
        while offset + 4 <= end:
            ext_type, ext_len = struct.unpack_from("!HH", body, offset)
            data = body[offset + 4 : offset + 4 + ext_len]
            if ext_type == 43:
                version = int.from_bytes(data, "big")
            elif ext_type == 22:
                etm = True
            offset += 4 + ext_len
    echoed = sid_len > 0 and body[35 : 35 + sid_len] == client_sid
    return Hellos(client_random, server_random, version, cipher_suite, etm, echoed)


@dataclass
class Decrypted:
    from_client: bool
    content_type: int
    plaintext: bytes


@dataclass
class Session:
    hellos: Hellos
    decryptor: TlsDecryptor
    records: list[Decrypted] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    decrypted_count: int = 0

    def data(self, from_client: bool, content_type: int = 23) -> bytes:
        return b"".join(
            r.plaintext
            for r in self.records
            if r.from_client == from_client and r.content_type == content_type
        )

    def handshake_types(self, from_client: bool) -> list[int]:
        """Handshake message types in one direction (decrypted and cleartext), walking reassembled messages."""
        stream = self.data(from_client, 22)
        types = []
        offset = 0
        while offset + 4 <= len(stream):
            types.append(stream[offset])
            offset += 4 + int.from_bytes(stream[offset + 1 : offset + 4], "big")
        return types


def decrypt_connection(keylog: KeyLog, client_bytes: bytes, server_bytes: bytes) -> Session:
    """Split both directions into records, build the decryptor from the hellos and run every record through it."""
    client = split_records(client_bytes, True)
    server = split_records(server_bytes, False)
    hellos = read_hellos(client, server)
    decryptor = session_decryptor(
        keylog,
        client_random=hellos.client_random,
        server_random=hellos.server_random,
        version=hellos.version,
        cipher_suite=hellos.cipher_suite,
        encrypt_then_mac=hellos.encrypt_then_mac,
    )
    assert isinstance(decryptor, TlsDecryptor), decryptor
    session = Session(hellos, decryptor)
    # The directions are independent, so per-direction order is all that matters.
    for record in client + server:
        before = decryptor.records_decrypted
        try:
            content_type, plaintext = decryptor.decrypt(
                record.from_client, record.content_type, record.version, record.fragment
            )
        except DecryptError as exc:
            session.failures.append(str(exc))
            continue
        session.decrypted_count += decryptor.records_decrypted - before
        session.records.append(Decrypted(record.from_client, content_type, plaintext))
    return session


# --- in-memory TLS with Python's ssl module --------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed RSA certificate for "localhost", written to a temporary directory."""
    directory = tmp_path_factory.mktemp("cert")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: tlsinspect-test\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nhello, world"


@dataclass
class Wire:
    client_bytes: bytes
    server_bytes: bytes
    keylog: KeyLog
    session: ssl.SSLSession | None
    cipher: str
    version: str


def _pump(client: ssl.SSLObject, server: ssl.SSLObject, c_in: ssl.MemoryBIO, c_out: ssl.MemoryBIO,
          s_in: ssl.MemoryBIO, s_out: ssl.MemoryBIO, wire: list[bytearray]) -> None:  # fmt: skip
    """Move pending bytes both ways, recording them; bounded."""
    for _ in range(50):
        moved = False
        data = c_out.read()
        if data:
            wire[0] += data
            s_in.write(data)
            moved = True
        data = s_out.read()
        if data:
            wire[1] += data
            c_in.write(data)
            moved = True
        if not moved:
            return


def _step(obj: ssl.SSLObject) -> bool:
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        return False
    return True


def run_ssl(
    cert_files: tuple[str, str],
    keylog_path: Path,
    *,
    ciphers: str | None = None,
    tls13: bool = False,
    options: int = 0,
    session: ssl.SSLSession | None = None,
    server_ctx: ssl.SSLContext | None = None,
    client_ctx: ssl.SSLContext | None = None,
    tickets: bool = True,
    client_min: ssl.TLSVersion | None = None,
) -> tuple[Wire, ssl.SSLContext, ssl.SSLContext]:
    """One in-memory connection: handshake, one request, one response, close_notify both ways."""
    if server_ctx is None:
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(*cert_files)
        server_ctx.options |= options
        if not tickets:
            server_ctx.options |= ssl.OP_NO_TICKET
        if tls13:
            server_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        else:
            server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if ciphers:
            server_ctx.set_ciphers(ciphers)
    if client_ctx is None:
        client_ctx = _client_context(
            keylog_path, ciphers=ciphers, tls13=tls13, options=options, client_min=client_min
        )
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost", session=session)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    wire = [bytearray(), bytearray()]
    done_c = done_s = False
    for _ in range(20):
        if not done_c:
            done_c = _step(client)
        _pump(client, server, c_in, c_out, s_in, s_out, wire)
        if not done_s:
            done_s = _step(server)
        _pump(client, server, c_in, c_out, s_in, s_out, wire)
        if done_c and done_s:
            break
    assert done_c and done_s, "handshake did not finish"
    client.write(REQUEST)
    _pump(client, server, c_in, c_out, s_in, s_out, wire)
    assert server.read(4096) == REQUEST
    server.write(RESPONSE)
    _pump(client, server, c_in, c_out, s_in, s_out, wire)
    assert client.read(4096) == RESPONSE
    _pump(client, server, c_in, c_out, s_in, s_out, wire)
    got_session = client.session
    for obj in (client, server):
        try:
            obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError, ssl.SSLError):
            pass
        _pump(client, server, c_in, c_out, s_in, s_out, wire)
    cipher = client.cipher()
    version = client.version() or ""
    keylog = read_keylog(keylog_path)
    assert keylog.bad_lines == []
    result = Wire(bytes(wire[0]), bytes(wire[1]), keylog, got_session, cipher[0] if cipher else "", version)
    return result, server_ctx, client_ctx


def _client_context(
    keylog_path: Path, *, ciphers: str | None, tls13: bool, options: int, client_min: ssl.TLSVersion | None
) -> ssl.SSLContext:
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.options |= options
    client_ctx.keylog_filename = str(keylog_path)
    if tls13:
        client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    else:
        client_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if client_min is not None:
        client_ctx.minimum_version = client_min
    if ciphers:
        client_ctx.set_ciphers(ciphers)
    return client_ctx


def openssl_ciphers(spec: str) -> bool:
    """Whether the local OpenSSL (via Python's ssl) accepts a TLS 1.2 cipher string."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(spec)
    except ssl.SSLError:
        return False
    return True


# --- the openssl CLI behind a loopback relay -------------------------------------------------------------------


class Relay:
    """A one-connection TCP relay on 127.0.0.1 that records the bytes each way."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.chunks: list[tuple[bool, bytes]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        self.listener.settimeout(TIMEOUT)
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(("127.0.0.1", self.target_port), timeout=TIMEOUT)
        peers = {client: (server, True), server: (client, False)}
        open_ends = {client, server}
        while open_ends and time.monotonic() < deadline:
            readable, _, _ = select.select(list(open_ends), [], [], 0.2)
            for sock in readable:
                other, from_client = peers[sock]
                data = sock.recv(65536)
                if data:
                    self.chunks.append((from_client, data))
                    other.sendall(data)
                else:
                    open_ends.discard(sock)
                    try:
                        other.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
        client.close()
        server.close()
        self.listener.close()

    def wire(self) -> tuple[bytes, bytes]:
        self.thread.join(TIMEOUT)
        client = b"".join(data for from_client, data in self.chunks if from_client)
        server = b"".join(data for from_client, data in self.chunks if not from_client)
        return client, server


def _read_until(proc: subprocess.Popen[bytes], marker: bytes, lines: list[bytes]) -> bool:
    """Read proc's stdout lines until one holds marker, with a deadline."""
    assert proc.stdout is not None
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if not ready:
            if proc.poll() is not None:
                return False
            continue
        line = proc.stdout.readline()
        if not line:
            return False
        lines.append(line)
        if marker in line:
            return True
    return False


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def run_openssl_tls13(
    cert_files: tuple[str, str], tmp_path: Path, ciphersuite: str, *, key_update: bool
) -> tuple[bytes, bytes, KeyLog]:
    """openssl s_client -> relay -> s_server -www, TLS 1.3 with one suite, optionally a two-way KeyUpdate."""
    port = _free_port()
    keylog_path = tmp_path / "openssl.keylog"
    server = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "1", "-www", "-tls1_3",
         "-ciphersuites", ciphersuite, "-cert", cert_files[0], "-key", cert_files[1]],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0,
    )  # fmt: skip
    client: subprocess.Popen[bytes] | None = None
    try:
        server_lines: list[bytes] = []
        if not _read_until(server, b"ACCEPT", server_lines):
            pytest.skip(f"openssl s_server did not start: {b''.join(server_lines)[-200:]!r}")
        relay = Relay(port)
        client = subprocess.Popen(
            [OPENSSL, "s_client", "-connect", f"127.0.0.1:{relay.port}", "-tls1_3", "-ciphersuites", ciphersuite,
             "-keylogfile", str(keylog_path), "-servername", "localhost", "-crlf"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0,
        )  # fmt: skip
        assert client.stdin is not None
        client_lines: list[bytes] = []
        if not _read_until(client, b"Verify return code", client_lines):
            pytest.skip(f"openssl s_client handshake failed: {b''.join(client_lines)[-300:]!r}")
        time.sleep(0.3)
        if key_update:
            client.stdin.write(b"K\n")
            client.stdin.flush()
            time.sleep(0.5)
        client.stdin.write(b"GET / HTTP/1.0\n\n")
        client.stdin.flush()
        _read_until(client, b"</HTML>", client_lines)
        client.stdin.close()
        client.wait(TIMEOUT)
        server.wait(TIMEOUT)
        client_bytes, server_bytes = relay.wire()
    finally:
        for proc in (client, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(TIMEOUT)
    return client_bytes, server_bytes, read_keylog(keylog_path)


# --- TLS 1.2 and below through Python's ssl --------------------------------------------------------------------

TLS12_CASES = [
    # (cipher string, options, expected suite, expect EtM)
    pytest.param("ECDHE-RSA-AES128-GCM-SHA256", 0, 0xC02F, False, id="ECDHE-RSA-AES128-GCM-SHA256"),
    pytest.param("ECDHE-RSA-AES256-GCM-SHA384", 0, 0xC030, False, id="ECDHE-RSA-AES256-GCM-SHA384"),
    pytest.param("AES256-GCM-SHA384", 0, 0x009D, False, id="RSA-AES256-GCM-SHA384"),
    pytest.param("ECDHE-RSA-CHACHA20-POLY1305", 0, 0xCCA8, False, id="ECDHE-RSA-CHACHA20-POLY1305"),
    pytest.param("ECDHE-RSA-AES128-SHA", 0, 0xC013, True, id="ECDHE-RSA-AES128-SHA-EtM"),
    pytest.param(
        "ECDHE-RSA-AES128-SHA", OP_NO_ENCRYPT_THEN_MAC, 0xC013, False, id="ECDHE-RSA-AES128-SHA-MtE"
    ),
    pytest.param("AES128-SHA256", 0, 0x003C, True, id="RSA-AES128-SHA256-EtM"),
    pytest.param("AES128-SHA256", OP_NO_ENCRYPT_THEN_MAC, 0x003C, False, id="RSA-AES128-SHA256-MtE"),
    pytest.param(
        "ECDHE-RSA-AES256-SHA384", OP_NO_ENCRYPT_THEN_MAC, 0xC028, False, id="ECDHE-RSA-AES256-SHA384"
    ),
    pytest.param("AES128-CCM", 0, 0xC09C, False, id="RSA-AES128-CCM"),
    pytest.param("AES256-CCM8", 0, 0xC0A1, False, id="RSA-AES256-CCM8"),
    pytest.param("CAMELLIA256-SHA256:@SECLEVEL=0", 0, 0x00C0, True, id="RSA-CAMELLIA256-SHA256"),
    pytest.param("DES-CBC3-SHA:@SECLEVEL=0", OP_NO_ENCRYPT_THEN_MAC, 0x000A, False, id="RSA-3DES-SHA"),
]


def _expect_http(session: Session) -> None:
    assert session.failures == []
    assert session.data(True) == REQUEST
    assert session.data(False) == RESPONSE


@pytest.mark.parametrize(("ciphers", "options", "suite", "etm"), TLS12_CASES)
def test_tls12_suites(
    cert_files: tuple[str, str], tmp_path: Path, ciphers: str, options: int, suite: int, etm: bool
) -> None:
    if not openssl_ciphers(ciphers):
        pytest.skip(f"local OpenSSL has no {ciphers}")
    try:
        wire, _, _ = run_ssl(cert_files, tmp_path / "keylog.txt", ciphers=ciphers, options=options)
    except ssl.SSLError as exc:
        pytest.skip(f"local OpenSSL will not negotiate {ciphers}: {exc}")
    session = decrypt_connection(wire.keylog, wire.client_bytes, wire.server_bytes)
    assert session.hellos.version == 0x0303
    assert session.hellos.cipher_suite == suite
    assert session.hellos.encrypt_then_mac is etm
    _expect_http(session)
    # Both Finished messages are encrypted and decrypt to handshake type 20.
    assert session.handshake_types(True)[-1] == 20
    assert 20 in session.handshake_types(False)
    # Request and response plus the two Finished, plus close_notify alerts.
    assert session.decrypted_count >= 4


@pytest.fixture(scope="module")
def dh_params(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("dh") / "dh.pem"
    result = subprocess.run(
        [
            OPENSSL,
            "genpkey",
            "-genparam",
            "-algorithm",
            "DH",
            "-pkeyopt",
            "group:ffdhe2048",
            "-out",
            str(path),
        ],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip("openssl cannot write DH parameters")
    return str(path)


@pytest.mark.parametrize(
    ("ciphers", "suite"), [("DHE-RSA-AES128-GCM-SHA256", 0x009E), ("DHE-RSA-AES256-SHA", 0x0039)]
)
def test_tls12_dhe(
    cert_files: tuple[str, str], dh_params: str, tmp_path: Path, ciphers: str, suite: int
) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*cert_files)
    server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.set_ciphers(ciphers)
    try:
        server_ctx.load_dh_params(dh_params)
    except ssl.SSLError as exc:
        pytest.skip(f"cannot load DH parameters: {exc}")
    wire, _, _ = run_ssl(cert_files, tmp_path / "keylog.txt", ciphers=ciphers, server_ctx=server_ctx)
    session = decrypt_connection(wire.keylog, wire.client_bytes, wire.server_bytes)
    assert session.hellos.cipher_suite == suite
    _expect_http(session)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize(
    ("version", "wire_version"), [(ssl.TLSVersion.TLSv1, 0x0301), (ssl.TLSVersion.TLSv1_1, 0x0302)]
)
@pytest.mark.parametrize("options", [0, OP_NO_ENCRYPT_THEN_MAC], ids=["EtM", "MtE"])
def test_tls10_tls11_cbc(
    cert_files: tuple[str, str], tmp_path: Path, version: ssl.TLSVersion, wire_version: int, options: int
) -> None:
    """TLS 1.0 chains the CBC IV across records, TLS 1.1 sends one per record; both use the MD5/SHA-1 PRF."""
    ciphers = "ECDHE-RSA-AES256-SHA:@SECLEVEL=0"
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*cert_files)
    server_ctx.options |= options
    try:
        server_ctx.minimum_version = version
        server_ctx.maximum_version = version
        server_ctx.set_ciphers(ciphers)
    except (ssl.SSLError, ValueError) as exc:
        pytest.skip(f"local OpenSSL refuses {version.name}: {exc}")
    try:
        wire, _, _ = run_ssl(
            cert_files,
            tmp_path / "keylog.txt",
            ciphers=ciphers,
            options=options,
            server_ctx=server_ctx,
            client_min=version,
        )
    except ssl.SSLError as exc:
        pytest.skip(f"local OpenSSL will not negotiate {version.name}: {exc}")
    session = decrypt_connection(wire.keylog, wire.client_bytes, wire.server_bytes)
    assert session.hellos.version == wire_version
    assert session.hellos.cipher_suite == 0xC014
    _expect_http(session)


def resumed_session(cert_files: tuple[str, str], keylog_path: Path, **kw: Any) -> Session:
    """Two connections through the same contexts (`run_ssl` options `kw`), the second resuming the first's
    ticket; the second one decrypted."""
    first, server_ctx, client_ctx = run_ssl(cert_files, keylog_path, **kw)
    assert first.session is not None and first.session.has_ticket
    second, _, _ = run_ssl(
        cert_files, keylog_path, session=first.session, server_ctx=server_ctx, client_ctx=client_ctx, **kw
    )
    return decrypt_connection(second.keylog, second.client_bytes, second.server_bytes)


def test_tls12_resumption_with_ticket(cert_files: tuple[str, str], tmp_path: Path) -> None:
    session = resumed_session(cert_files, tmp_path / "keylog.txt", ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    # An abbreviated handshake: no Certificate, the server's Finished comes first, both decrypt.
    assert 11 not in session.handshake_types(False)
    assert session.handshake_types(False)[-1] == 20
    _expect_http(session)


# --- TLS 1.3 through Python's ssl ------------------------------------------------------------------------------


def test_tls13_default_suite(cert_files: tuple[str, str], tmp_path: Path) -> None:
    wire, _, _ = run_ssl(cert_files, tmp_path / "keylog.txt", tls13=True)
    session = decrypt_connection(wire.keylog, wire.client_bytes, wire.server_bytes)
    assert session.hellos.version == 0x0304
    assert session.hellos.cipher_suite in TLS13_SUITES
    assert session.decryptor.limitation is None
    _expect_http(session)
    server_types = session.handshake_types(False)
    # ServerHello is cleartext; EncryptedExtensions, Certificate, CertificateVerify, Finished decrypted.
    assert server_types[:5] == [2, 8, 11, 15, 20]
    assert 4 in server_types  # NewSessionTicket, under the application key
    assert session.handshake_types(True)[-1] == 20
    certificate = _first_message(session.data(False, 22), 11)
    # certificate_request_context (empty), then the list: the DER of our certificate is in there.
    der = x509.load_pem_x509_certificate(Path(cert_files[0]).read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    assert der in certificate


def _first_message(stream: bytes, msg_type: int) -> bytes:
    offset = 0
    while offset + 4 <= len(stream):
        length = int.from_bytes(stream[offset + 1 : offset + 4], "big")
        if stream[offset] == msg_type:
            return stream[offset + 4 : offset + 4 + length]
        offset += 4 + length
    raise AssertionError(f"no handshake message {msg_type}")


def test_tls13_resumption_with_ticket(cert_files: tuple[str, str], tmp_path: Path) -> None:
    session = resumed_session(cert_files, tmp_path / "keylog.txt", tls13=True)
    assert 11 not in session.handshake_types(False)  # PSK resumption: no Certificate
    assert session.handshake_types(False)[:3] == [2, 8, 20]
    _expect_http(session)


# --- TLS 1.3 suites and KeyUpdate through the openssl CLI ------------------------------------------------------

TLS13_CLI_SUITES = [
    ("TLS_AES_128_GCM_SHA256", 0x1301),
    ("TLS_AES_256_GCM_SHA384", 0x1302),
    ("TLS_CHACHA20_POLY1305_SHA256", 0x1303),
    ("TLS_AES_128_CCM_SHA256", 0x1304),
    ("TLS_AES_128_CCM_8_SHA256", 0x1305),
]


@pytest.mark.skipif(not Path(OPENSSL).exists(), reason="no openssl CLI")
@pytest.mark.parametrize(("name", "code"), TLS13_CLI_SUITES, ids=[name for name, _ in TLS13_CLI_SUITES])
def test_tls13_suites_openssl(cert_files: tuple[str, str], tmp_path: Path, name: str, code: int) -> None:
    client_bytes, server_bytes, keylog = run_openssl_tls13(cert_files, tmp_path, name, key_update=False)
    session = decrypt_connection(keylog, client_bytes, server_bytes)
    assert session.hellos.cipher_suite == code
    assert session.failures == []
    assert session.data(True).startswith(b"GET / HTTP/1.0\r\n")
    assert b"HTTP/1.0 200 ok" in session.data(False)
    assert session.handshake_types(False)[:5] == [2, 8, 11, 15, 20]


@pytest.mark.skipif(not Path(OPENSSL).exists(), reason="no openssl CLI")
def test_tls13_key_update_both_ways(cert_files: tuple[str, str], tmp_path: Path) -> None:
    """s_client's "K" sends KeyUpdate(update_requested); the server answers with its own KeyUpdate."""
    client_bytes, server_bytes, keylog = run_openssl_tls13(
        cert_files, tmp_path, "TLS_AES_256_GCM_SHA384", key_update=True
    )
    session = decrypt_connection(keylog, client_bytes, server_bytes)
    assert session.failures == []
    assert 24 in session.handshake_types(True)
    assert 24 in session.handshake_types(False)
    # The request was sent after the client's KeyUpdate, so it decrypted under the next traffic secret.
    assert session.data(True).startswith(b"GET / HTTP/1.0\r\n")
    assert b"HTTP/1.0 200 ok" in session.data(False)


# --- the snet capture corpus ----------------------------------------------------------------------------------


def pcap_tcp_streams(data: bytes) -> list[tuple[bytes, bytes]]:
    """(client bytes, server bytes) of each TCP connection in a classic little/big-endian Ethernet pcap.

    Minimal on purpose: IPv4 only, segments taken in capture order, retransmissions dropped by sequence number;
    the client is the side that sent the first payload.
    """
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link_type = struct.unpack_from(endian + "I", data, 20)[0]
    assert link_type == 1, "Ethernet only"
    flows: dict[tuple[tuple[str, int], tuple[str, int]], dict[tuple[str, int], bytearray]] = {}
    first_sender: dict[tuple[tuple[str, int], tuple[str, int]], tuple[str, int]] = {}
    next_seq: dict[tuple[str, int], int] = {}
    offset = 24
    while offset + 16 <= len(data):
        incl_len = struct.unpack_from(endian + "I", data, offset + 8)[0]
        frame = data[offset + 16 : offset + 16 + incl_len]
        offset += 16 + incl_len
        ether_type = int.from_bytes(frame[12:14], "big")
        ip = frame[14:]
        if ether_type == 0x8100:
            ether_type, ip = int.from_bytes(frame[16:18], "big"), frame[18:]
        if ether_type != 0x0800 or len(ip) < 20 or ip[9] != 6:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = int.from_bytes(ip[2:4], "big")
        tcp = ip[ihl:total]
        src = (socket.inet_ntoa(ip[12:16]), int.from_bytes(tcp[0:2], "big"))
        dst = (socket.inet_ntoa(ip[16:20]), int.from_bytes(tcp[2:4], "big"))
        seq = int.from_bytes(tcp[4:8], "big")
        flags = tcp[13]
        payload = tcp[(tcp[12] >> 4) * 4 :]
        key = (min(src, dst), max(src, dst))
        if flags & 0x02:  # SYN: a new connection on this 4-tuple starts
            next_seq[src] = (seq + 1) & 0xFFFFFFFF
            if flags & 0x10 == 0:
                flows.pop(key, None)
                first_sender.pop(key, None)
            continue
        if not payload:
            continue
        expected = next_seq.get(src)
        if expected is not None and (seq - expected) & 0xFFFFFFFF >= 0x80000000:
            continue  # a retransmission of bytes already taken
        next_seq[src] = (seq + len(payload)) & 0xFFFFFFFF
        first_sender.setdefault(key, src)
        flows.setdefault(key, {}).setdefault(src, bytearray()).extend(payload)
    streams = []
    for key, by_sender in flows.items():
        client = first_sender[key]
        server = key[1] if client == key[0] else key[0]
        streams.append((bytes(by_sender.get(client, b"")), bytes(by_sender.get(server, b""))))
    return streams


def corpus_cases() -> list[tuple[str, str, int]]:
    conf = CORPUS / "tests.conf"
    if not conf.is_file():
        return []
    parser = configparser.ConfigParser()
    parser.read(conf)
    return [
        (parser[name]["pcap"].rsplit("/", 1)[1], parser[name]["keylog"].rsplit("/", 1)[1],
         int(parser[name]["decrypted_records_count"]))
        for name in parser.sections()
    ]  # fmt: skip


def corpus_decrypted_count(pcap: str, keylog_name: str) -> tuple[int, list[str]]:
    """Records the decryptor authenticated over every TLS connection of one corpus capture, and the failures."""
    directory = CORPUS / "decrypt_by_keylog"
    keylog = read_keylog(directory / keylog_name)
    total = 0
    problems: list[str] = []
    for client_bytes, server_bytes in pcap_tcp_streams((directory / pcap).read_bytes()):
        client = split_records(client_bytes, True)
        server = split_records(server_bytes, False)
        if not any(r.content_type == 22 for r in client) or not any(r.content_type == 22 for r in server):
            continue
        hellos = read_hellos(client, server)
        decryptor = session_decryptor(
            keylog,
            client_random=hellos.client_random,
            server_random=hellos.server_random,
            version=hellos.version,
            cipher_suite=hellos.cipher_suite,
            encrypt_then_mac=hellos.encrypt_then_mac,
        )
        if isinstance(decryptor, str):
            problems.append(decryptor)
            continue
        for record in client + server:
            try:
                decryptor.decrypt(record.from_client, record.content_type, record.version, record.fragment)
            except DecryptError as exc:
                problems.append(str(exc))
        total += decryptor.records_decrypted
    return total, problems


NULL_SUITE_NOTE = "snet counts 0 for MAC-only (NULL cipher) records; we authenticate them"


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "tests.conf").is_file(), reason="corpus not present")
@pytest.mark.parametrize(("pcap", "keylog_name", "expected"), corpus_cases() or [("none", "none", 0)])
def test_corpus_decrypted_record_counts(pcap: str, keylog_name: str, expected: int) -> None:
    """Cross-check against the snet corpus: suites and versions the local OpenSSL cannot make (SSL 3.0, CCM,
    Camellia, anon, NULL, DSA, EdDSA client certificates, KeyUpdate)."""
    count, problems = corpus_decrypted_count(pcap, keylog_name)
    if "ARIA" in pcap:
        assert count == 0
        assert problems and all(p.startswith("unsupported cipher suite 0xc0") for p in problems)
        return  # ARIA is not in cryptography: the documented outcome is "unsupported cipher suite"
    if "NULL" in pcap:
        assert expected == 0, NULL_SUITE_NOTE
        assert problems == []
        assert count == 13, NULL_SUITE_NOTE
        return
    assert count == expected
    # tls1_1.pcap holds one connection the key log has no line for.
    assert problems == ([] if pcap != "tls1_1.pcap" else ["no secret for this client_random"])


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "tests.conf").is_file(), reason="corpus not present")
@pytest.mark.parametrize(
    ("pcap", "keylog_name", "expected"),
    [
        ("tls1.3_ccm.pcap", "log.txt", 12),
        ("tls1.3_ccm8.pcap", "log.txt", 12),
        ("tls1.3_chacha.pcap", "log.txt", 14),
        ("tls1.3_session_resumption.pcap", "log.txt", 9),
        ("tls1_2_dhe_rsa.pcap", "tls1_2_dhe_rsa.keylog", 13),
    ],
)
def test_corpus_captures_outside_tests_conf(pcap: str, keylog_name: str, expected: int) -> None:
    """Captures in the corpus without a tests.conf line: every record authenticates (counts measured once)."""
    count, problems = corpus_decrypted_count(pcap, keylog_name)
    assert problems == []
    assert count == expected


# --- failure cases ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gcm12(cert_files: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Wire:
    path = tmp_path_factory.mktemp("gcm12") / "keylog.txt"
    return run_ssl(cert_files, path, ciphers="ECDHE-RSA-AES128-GCM-SHA256")[0]


@pytest.fixture(scope="module")
def cbc12(cert_files: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Wire:
    path = tmp_path_factory.mktemp("cbc12") / "keylog.txt"
    return run_ssl(cert_files, path, ciphers="ECDHE-RSA-AES128-SHA", options=OP_NO_ENCRYPT_THEN_MAC)[0]


@pytest.fixture(scope="module")
def tls13(cert_files: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Wire:
    path = tmp_path_factory.mktemp("tls13") / "keylog.txt"
    return run_ssl(cert_files, path, tls13=True)[0]


def _hellos(wire: Wire) -> Hellos:
    return read_hellos(split_records(wire.client_bytes, True), split_records(wire.server_bytes, False))


def _decryptor(keylog: KeyLog, wire: Wire) -> TlsDecryptor | str:
    hellos = _hellos(wire)
    return session_decryptor(
        keylog,
        client_random=hellos.client_random,
        server_random=hellos.server_random,
        version=hellos.version,
        cipher_suite=hellos.cipher_suite,
        encrypt_then_mac=hellos.encrypt_then_mac,
    )


def _flip_secrets(keylog: KeyLog, client_random: bytes) -> KeyLog:
    """The same key log with every secret of this connection changed in its last byte."""
    text = "\n".join(
        f"{label} {client_random.hex()} {(secret[:-1] + bytes([secret[-1] ^ 1])).hex()}"
        for label, secret in keylog.secrets(client_random).items()
    )
    return KeyLog.parse(text)


@pytest.mark.parametrize("name", ["gcm12", "cbc12", "tls13"])
def test_wrong_secret_fails_authentication(request: pytest.FixtureRequest, name: str) -> None:
    wire: Wire = request.getfixturevalue(name)
    decryptor = _decryptor(_flip_secrets(wire.keylog, _hellos(wire).client_random), wire)
    assert isinstance(decryptor, TlsDecryptor)
    errors = []
    for record in split_records(wire.client_bytes, True):
        try:
            decryptor.decrypt(True, record.content_type, record.version, record.fragment)
        except DecryptError as exc:
            errors.append(str(exc))
    assert errors, "an encrypted record decrypted under the wrong secret"
    assert all(message.endswith("failed") for message in errors), errors
    assert decryptor.records_failed == len(errors)


@pytest.mark.parametrize("name", ["gcm12", "tls13"])
def test_missing_client_random_is_a_reason(request: pytest.FixtureRequest, name: str) -> None:
    wire: Wire = request.getfixturevalue(name)
    assert _decryptor(KeyLog.parse("# empty\n"), wire) == "no secret for this client_random"


def test_unsupported_version_and_suite_are_reasons(gcm12: Wire) -> None:
    def reason(version: int, suite: int) -> TlsDecryptor | str:
        return session_decryptor(
            gcm12.keylog,
            client_random=bytes(32),
            server_random=bytes(32),
            version=version,
            cipher_suite=suite,
        )

    assert reason(0xFEFD, 0xC02F) == "unsupported version"
    assert reason(0x0303, 0xC050) == "unsupported cipher suite 0xc050"  # ARIA
    assert reason(0x0304, 0xC02F) == "unsupported cipher suite 0xc02f"
    assert reason(0x0303, 0x1301) == "unsupported cipher suite 0x1301"
    assert reason(0x0303, 0x0003) == "unsupported cipher suite 0x0003"  # export


@pytest.mark.parametrize("name", ["gcm12", "cbc12", "tls13"])
def test_corrupted_record_fails_and_the_next_one_still_decrypts(
    request: pytest.FixtureRequest, name: str
) -> None:
    wire: Wire = request.getfixturevalue(name)
    decryptor = _decryptor(wire.keylog, wire)
    assert isinstance(decryptor, TlsDecryptor)
    records = split_records(wire.server_bytes, False)
    # The server's last records: ... response, close_notify. Corrupt the response, then the alert must decrypt.
    app = [i for i, r in enumerate(records) if r.content_type == 23]
    target = app[-2] if name == "tls13" else app[-1]
    plaintexts = []
    for i, record in enumerate(records):
        fragment = record.fragment
        if i == target:
            fragment = fragment[:-1] + bytes([fragment[-1] ^ 0x80])
            with pytest.raises(DecryptError):
                decryptor.decrypt(False, record.content_type, record.version, fragment)
            continue
        plaintexts.append(decryptor.decrypt(False, record.content_type, record.version, fragment))
    assert plaintexts[-1] == (21, b"\x01\x00")  # close_notify


def test_tls12_explicit_change_cipher_spec_call(gcm12: Wire) -> None:
    """The engine may call change_cipher_spec() instead of passing the ChangeCipherSpec record."""
    decryptor = _decryptor(gcm12.keylog, gcm12)
    assert isinstance(decryptor, TlsDecryptor)
    out = b""
    for record in split_records(gcm12.client_bytes, True):
        if record.content_type == 20:
            decryptor.change_cipher_spec(True)
            continue
        content_type, plaintext = decryptor.decrypt(
            True, record.content_type, record.version, record.fragment
        )
        if content_type == 23:
            out += plaintext
    assert out == REQUEST


def test_tls13_only_handshake_secrets(tls13: Wire) -> None:
    client_random = _hellos(tls13).client_random
    secrets = tls13.keylog.secrets(client_random)
    text = "".join(
        f"{label} {client_random.hex()} {secrets[label].hex()}\n"
        for label in ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET")
    )
    decryptor = _decryptor(KeyLog.parse(text), tls13)
    assert isinstance(decryptor, TlsDecryptor)
    assert decryptor.limitation == "only handshake secrets"
    handshake = b""
    failures = 0
    for record in split_records(tls13.server_bytes, False):
        try:
            content_type, plaintext = decryptor.decrypt(
                False, record.content_type, record.version, record.fragment
            )
        except DecryptError:
            failures += 1
            continue
        if content_type == 22:
            handshake += plaintext
    assert _first_message(handshake, 11)  # the Certificate is readable
    assert _first_message(handshake, 20)  # and the server Finished
    assert failures >= 2  # NewSessionTicket / response / close_notify need the application secret


def test_tls13_capture_starting_after_the_handshake(tls13: Wire) -> None:
    """Records from the middle of a connection: trial decryption finds the application key and its position."""
    decryptor = _decryptor(tls13.keylog, tls13)
    assert isinstance(decryptor, TlsDecryptor)
    server = [r for r in split_records(tls13.server_bytes, False) if r.content_type == 23]
    # Skip the encrypted handshake flight and the first NewSessionTicket record.
    out = []
    for record in server[2:]:
        out.append(decryptor.decrypt(False, record.content_type, record.version, record.fragment))
    assert (23, RESPONSE) in out


def test_tls13_missed_key_update(cert_files: tuple[str, str], tmp_path: Path) -> None:
    """A KeyUpdate record lost from the capture: the next generation of the secret is tried as well."""
    client_bytes, server_bytes, keylog = run_openssl_tls13(
        cert_files, tmp_path, "TLS_AES_128_GCM_SHA256", key_update=True
    )
    client = split_records(client_bytes, True)
    hellos = read_hellos(client, split_records(server_bytes, False))
    decryptor = session_decryptor(
        keylog,
        client_random=hellos.client_random,
        server_random=hellos.server_random,
        version=hellos.version,
        cipher_suite=hellos.cipher_suite,
    )
    assert isinstance(decryptor, TlsDecryptor)
    # Decrypt everything once to find the KeyUpdate record, then replay without it.
    probe = session_decryptor(
        keylog,
        client_random=hellos.client_random,
        server_random=hellos.server_random,
        version=hellos.version,
        cipher_suite=hellos.cipher_suite,
    )
    assert isinstance(probe, TlsDecryptor)
    key_update_index = None
    for i, record in enumerate(client):
        content_type, plaintext = probe.decrypt(True, record.content_type, record.version, record.fragment)
        if content_type == 22 and plaintext[:1] == b"\x18":
            key_update_index = i
    assert key_update_index is not None
    request = b""
    for i, record in enumerate(client):
        if i == key_update_index:
            continue
        content_type, plaintext = decryptor.decrypt(
            True, record.content_type, record.version, record.fragment
        )
        if content_type == 23:
            request += plaintext
    assert request.startswith(b"GET / HTTP/1.0\r\n")


@pytest.fixture(scope="module")
def fuzz_decryptors(gcm12: Wire, cbc12: Wire, tls13: Wire) -> list[TlsDecryptor]:
    """Decryptors of several kinds, already switched to their keys."""
    result = []
    for wire in (gcm12, cbc12, tls13):
        decryptor = _decryptor(wire.keylog, wire)
        assert isinstance(decryptor, TlsDecryptor)
        result.append(decryptor)
    keylog = KeyLog.parse(f"CLIENT_RANDOM {'11' * 32} {'22' * 48}\n")
    for version, suite in [(0x0301, 0x002F), (0x0302, 0x0035), (0x0300, 0x000A), (0x0303, 0x0005),
                           (0x0303, 0x0002), (0x0303, 0xCCA8), (0x0303, 0xC0A0), (0x0303, 0x0041)]:  # fmt: skip
        for etm in (False, True):
            decryptor = session_decryptor(
                keylog,
                client_random=bytes.fromhex("11" * 32),
                server_random=bytes(32),
                version=version,
                cipher_suite=suite,
                encrypt_then_mac=etm,
            )
            assert isinstance(decryptor, TlsDecryptor), (version, suite)
            result.append(decryptor)
    for decryptor in result:
        decryptor.change_cipher_spec(True)
        decryptor.change_cipher_spec(False)
    return result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    from_client=st.booleans(),
    content_type=st.one_of(st.sampled_from([20, 21, 22, 23]), st.integers(-5, 300)),
    version=st.one_of(st.sampled_from([0x0301, 0x0303]), st.integers(-1, 0x10000)),
    fragment=st.binary(max_size=600),
)
def test_random_records_raise_only_decrypt_error(
    fuzz_decryptors: list[TlsDecryptor], from_client: bool, content_type: int, version: int, fragment: bytes
) -> None:
    for decryptor in fuzz_decryptors:
        try:
            result = decryptor.decrypt(from_client, content_type, version, fragment)
        except DecryptError:
            continue
        assert isinstance(result, tuple) and isinstance(result[1], bytes)


def test_oversized_record_is_rejected(tls13: Wire) -> None:
    decryptor = _decryptor(tls13.keylog, tls13)
    assert isinstance(decryptor, TlsDecryptor)
    with pytest.raises(DecryptError, match="too long"):
        decryptor.decrypt(True, 23, 0x0303, bytes(2**14 + 2049))


def test_suite_tables_are_consistent() -> None:
    assert set(TLS13_SUITES) == {0x1301, 0x1302, 0x1303, 0x1304, 0x1305}
    assert not set(TLS12_SUITES) & set(TLS13_SUITES)
    for suite in [*TLS12_SUITES.values(), *TLS13_SUITES.values()]:
        assert suite.cipher in CIPHERS
        assert (suite.mac is None) == (CIPHERS[suite.cipher].mode == "aead")
        assert suite.prf in ("sha256", "sha384")


def _openssl_client(port: int, keylog_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-keylogfile", str(keylog_path),
         "-servername", "localhost", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0,
    )  # fmt: skip


@pytest.mark.skipif(not Path(OPENSSL).exists(), reason="no openssl CLI")
def test_tls13_early_data(cert_files: tuple[str, str], tmp_path: Path) -> None:
    """0-RTT: a resumed connection whose first client records use the early traffic secret."""
    port = _free_port()
    keylog_path = tmp_path / "openssl.keylog"
    session_path = tmp_path / "session.pem"
    early_path = tmp_path / "early.txt"
    early_path.write_bytes(b"EARLY DATA: GET /zero-rtt\n")
    server = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "2", "-early_data", "-tls1_3",
         "-cert", cert_files[0], "-key", cert_files[1]],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0,
    )  # fmt: skip
    clients: list[subprocess.Popen[bytes]] = []
    try:
        lines: list[bytes] = []
        if not _read_until(server, b"ACCEPT", lines):
            pytest.skip("openssl s_server did not start")
        for args in (
            ("-sess_out", str(session_path)),
            ("-sess_in", str(session_path), "-early_data", str(early_path)),
        ):
            relay = Relay(port)
            client = _openssl_client(relay.port, keylog_path, *args)
            clients.append(client)
            assert client.stdin is not None
            if not _read_until(client, b"Verify return code", lines):
                pytest.skip(f"openssl s_client failed: {b''.join(lines)[-300:]!r}")
            time.sleep(0.5)  # let the NewSessionTicket (first run) or the early data (second run) through
            client.stdin.close()
            client.wait(TIMEOUT)
            client_bytes, server_bytes = relay.wire()
    finally:
        for proc in [*clients, server]:
            if proc.poll() is None:
                proc.kill()
                proc.wait(TIMEOUT)
    keylog = read_keylog(keylog_path)
    session = decrypt_connection(keylog, client_bytes, server_bytes)
    if "CLIENT_EARLY_TRAFFIC_SECRET" not in keylog.secrets(session.hellos.client_random):
        pytest.skip("openssl did not send early data")
    assert session.failures == []
    assert session.data(True).startswith(b"EARLY DATA: GET /zero-rtt\n")
    client_types = session.handshake_types(True)
    assert client_types[0] == 1  # cleartext ClientHello
    assert client_types[-2:] == [5, 20]  # EndOfEarlyData (early key), Finished (handshake key)
