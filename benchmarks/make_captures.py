"""Build large benchmark captures from real loopback traffic.

Two steps, both on demand (this is not a test):

1. **Seed.** Servers on 127.0.0.1 (``openssl s_server -WWW`` with a throwaway self-signed certificate, TLS 1.2
   and 1.3; Python's ``http.server`` for plain HTTP) and real clients (curl ``--tlsv1.2``/``--tlsv1.3``,
   ``openssl s_client`` with ``-sess_out``/``-sess_in`` resumption, ``gnutls-cli`` when installed, a Python
   ``ssl.MemoryBIO`` client that writes its ClientHello in two TCP segments, and curl plain HTTP with Basic
   credentials and a cookie) while ``tcpdump -i lo`` records the servers' ports. Bodies of 64 KiB to 1 MiB make
   application data dominate, as in real captures.
2. **Replicate.** The seed is copied until the target size is reached. Every copy gets its own addresses
   (10.x.y.1 client, 10.x.y.2 server), so each copy's flows have distinct 4-tuples; server ports become 443
   (TLS) and 80 (HTTP) so tshark dissects them without hints. Loopback frames are GSO super-segments of up to
   64 KiB; by default they are cut into 1448-byte segments (``--mss``), which is what the same traffic looks
   like on an Ethernet link. Timestamps keep increasing; a few copies overlap in time (``--overlap``) so flows
   interleave. Checksums are not recomputed (neither tool checks them).

    .venv/bin/python benchmarks/make_captures.py              # seed + 100 MB + 1 GB in benchmarks/data/
    .venv/bin/python benchmarks/make_captures.py --sizes 100  # only the 100 MB one
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import http.server
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SNI = "bench.tlsinspect.test"
BODIES = {"64k.bin": 64 << 10, "256k.bin": 256 << 10, "1m.bin": 1 << 20}
TIMEOUT = 30.0

PCAP_HEADER = struct.Struct("<IHHiIII")
PCAP_REC = struct.Struct("<IIII")
LINKTYPE_ETHERNET = 1


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(cmd: list[str], *, stdin: bytes = b"", timeout: float = TIMEOUT, cwd: Path | None = None) -> bool:
    """Run a client to completion (bounded); a failure is reported, not fatal."""
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, cwd=cwd, check=False)
    except subprocess.TimeoutExpired:
        log(f"  timeout: {' '.join(cmd[:3])}")
        return False
    if p.returncode != 0:
        log(f"  exit {p.returncode}: {' '.join(cmd[:4])}: {p.stderr.decode(errors='replace')[-200:]}")
    return p.returncode == 0


# -- servers ---------------------------------------------------------------------------------------------------


def make_cert(tmp: Path) -> tuple[Path, Path]:
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    ok = run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={SNI}",
            "-addext", f"subjectAltName=DNS:{SNI}",
        ]
    )  # fmt: skip
    if not ok:
        raise SystemExit("openssl req failed")
    return key, cert


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """Plain HTTP file server; demands Basic credentials (any) as a login-protected site would."""

    def do_GET(self) -> None:
        if not self.headers.get("Authorization", "").startswith("Basic "):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="bench"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def servers(tmp: Path) -> Iterator[dict[str, int]]:
    """openssl s_server (TLS 1.2 + 1.3) and http.server on free loopback ports; killed on exit."""
    www = tmp / "www"
    www.mkdir()
    for name, size in BODIES.items():
        (www / name).write_bytes(os.urandom(size))
    key, cert = make_cert(tmp)
    tls_port, http_port = free_port(), free_port()
    srv = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{tls_port}", "-key", str(key), "-cert", str(cert),
         "-WWW", "-quiet"],
        cwd=www, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def handler(*a: object, **kw: object) -> _Quiet:
        return _Quiet(*a, directory=str(www), **kw)  # type: ignore[arg-type]

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), handler)
    th = threading.Thread(target=httpd.serve_forever, daemon=True)
    th.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", tls_port), timeout=1):
                break
            time.sleep(0.05)
        yield {"tls": tls_port, "http": http_port}
    finally:
        httpd.shutdown()
        httpd.server_close()
        srv.terminate()
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait(5)


# -- clients ---------------------------------------------------------------------------------------------------


def split_hello_client(port: int, path: str, *, tls13: bool) -> bool:
    """A Python ssl client whose ClientHello record goes out in two TCP segments."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    v = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=SNI)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            first = True
            while True:
                try:
                    obj.do_handshake()
                    done = True
                except ssl.SSLWantReadError:
                    done = False
                data = out.read()
                if data and first:
                    first = False
                    cut = len(data) // 2
                    s.sendall(data[:cut])
                    time.sleep(0.02)  # the second write leaves as its own segment
                    s.sendall(data[cut:])
                elif data:
                    s.sendall(data)
                if done:
                    break
                chunk = s.recv(65536)
                if not chunk:
                    return False
                inc.write(chunk)
            obj.write(f"GET /{path} HTTP/1.0\r\n\r\n".encode())
            s.sendall(out.read())
            got = 0
            while got < 1 << 22:  # until the server's close_notify (it keeps the socket open after it)
                chunk = s.recv(65536)
                if not chunk:
                    break
                inc.write(chunk)
                if not _drain(obj):
                    break
                got += len(chunk)
            return got > 0
    except (OSError, ssl.SSLError) as e:
        log(f"  split-hello client: {e}")
        return False


def _drain(obj: ssl.SSLObject) -> bool:
    """Read the decrypted bytes buffered in `obj`; False once the peer has closed (close_notify)."""
    for _ in range(1 << 12):
        try:
            if not obj.read(1 << 16):
                return False
        except ssl.SSLWantReadError:
            return True
        except ssl.SSLZeroReturnError:
            return False
    return True


def client_round(ports: dict[str, int], tmp: Path, rnd: int) -> None:
    tls, plain = ports["tls"], ports["http"]
    url = f"https://{SNI}:{tls}/"
    resolve = ["--resolve", f"{SNI}:{tls}:127.0.0.1"]
    names = list(BODIES)
    body = names[rnd % len(names)]
    for ver in ("--tlsv1.2", "--tlsv1.3"):
        extra = ["--tls-max", "1.2"] if ver == "--tlsv1.2" else []
        run(["curl", "-sk", ver, *extra, *resolve, "-o", "/dev/null", "--max-time", "20", url + body])
    for flag in ("-tls1_2", "-tls1_3"):
        sess = tmp / f"sess{flag}.pem"
        req = f"GET /{names[(rnd + 1) % len(names)]} HTTP/1.0\r\n\r\n".encode()
        base = [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{tls}",
            "-servername",
            SNI,
            flag,
            "-ign_eof",
            "-quiet",
        ]
        run([*base, "-sess_out", str(sess)], stdin=req)
        if sess.exists():
            run([*base, "-sess_in", str(sess)], stdin=req)
    if shutil.which("gnutls-cli"):
        run(
            ["gnutls-cli", "--insecure", "-p", str(tls), f"--sni-hostname={SNI}", "127.0.0.1"],
            stdin=b"GET /64k.bin HTTP/1.0\r\n\r\n",
        )
    split_hello_client(tls, body, tls13=True)
    split_hello_client(tls, names[0], tls13=False)
    for who in ("alice:s3cret", "bob:hunter2"):
        run(["curl", "-s", "-u", who, "-b", f"session=tok{rnd}", "-o", "/dev/null", "--max-time", "20",
             f"http://127.0.0.1:{plain}/{body}?user={who.split(':')[0]}"])  # fmt: skip


def record_seed(out: Path, rounds: int) -> None:
    if not shutil.which("tcpdump"):
        raise SystemExit("tcpdump is needed to record the seed capture")
    with tempfile.TemporaryDirectory(prefix="tlsi-bench-") as td:
        tmp = Path(td)
        with servers(tmp) as ports:
            flt = f"host 127.0.0.1 and (port {ports['tls']} or port {ports['http']})"
            raw = tmp / "seed.pcap"
            dump = subprocess.Popen(
                ["tcpdump", "-i", "lo", "-s", "0", "-U", "-c", "2000000", "-w", str(raw), flt],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            try:
                assert dump.stderr is not None
                deadline = time.monotonic() + 10
                line = b""
                while b"listening" not in line and time.monotonic() < deadline:
                    line = dump.stderr.readline()
                for r in range(rounds):
                    log(f"  round {r + 1}/{rounds}")
                    client_round(ports, tmp, r)
                time.sleep(0.5)
            finally:
                dump.send_signal(signal.SIGINT)
                try:
                    dump.wait(10)
                except subprocess.TimeoutExpired:
                    dump.kill()
                    dump.wait(5)
            meta = out.with_suffix(".ports")
            meta.write_text(f"{ports['tls']} {ports['http']}\n")
            shutil.copyfile(raw, out)


# -- replication -----------------------------------------------------------------------------------------------


def read_pcap(path: Path) -> tuple[list[tuple[float, bytes]], int]:
    buf = path.read_bytes()
    magic, _maj, _min, _tz, _sig, _snap, link = PCAP_HEADER.unpack_from(buf, 0)
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise SystemExit(f"{path}: not a little-endian pcap")
    div = 1e6 if magic == 0xA1B2C3D4 else 1e9
    pos, frames = 24, []
    while pos + 16 <= len(buf):
        sec, frac, caplen, _orig = PCAP_REC.unpack_from(buf, pos)
        frames.append((sec + frac / div, buf[pos + 16 : pos + 16 + caplen]))
        pos += 16 + caplen
    return frames, link


def resegment(frame: bytes, mss: int) -> list[bytes]:
    """Cut an Ethernet/IPv4/TCP frame whose payload exceeds `mss` into MSS-sized frames (sequence numbers kept
    consistent; FIN and PSH only on the last piece)."""
    if mss <= 0 or len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return [frame]
    ihl = (frame[14] & 0x0F) * 4
    tcp = 14 + ihl
    thl = (frame[tcp + 12] >> 4) * 4
    start = tcp + thl
    total = struct.unpack_from("!H", frame, 16)[0] or len(frame) - 14
    end = min(14 + total, len(frame))
    payload = frame[start:end]
    if len(payload) <= mss:
        return [frame]
    head = bytearray(frame[:start])
    (seq,) = struct.unpack_from("!I", frame, tcp + 4)
    flags = frame[tcp + 13]
    out = []
    for off in range(0, len(payload), mss):
        piece = payload[off : off + mss]
        last = off + mss >= len(payload)
        struct.pack_into("!H", head, 16, ihl + thl + len(piece))
        struct.pack_into("!I", head, tcp + 4, (seq + off) & 0xFFFFFFFF)
        head[tcp + 13] = flags if last else flags & ~0x09  # no FIN/PSH before the last piece
        out.append(bytes(head) + piece)
    return out


def replicate(seed: Path, out: Path, target: int, *, mss: int, overlap: int) -> None:
    frames, link = read_pcap(seed)
    if link != LINKTYPE_ETHERNET:
        raise SystemExit(f"seed link type {link}: expected Ethernet (tcpdump -i lo)")
    tls_port, http_port = (int(x) for x in seed.with_suffix(".ports").read_text().split())
    port_map = {tls_port: 443, http_port: 80}
    t0 = frames[0][0]
    # Pre-cut every seed frame once; a copy only patches addresses and ports.
    cut: list[tuple[float, bytes]] = []  # (time since the seed's first frame, frame)
    for ts, f in frames:
        if len(f) < 34 or f[12:14] != b"\x08\x00":
            continue
        for piece in resegment(f, mss):
            cut.append((ts - t0, piece))
    span = cut[-1][0] + 0.001
    gap = span / overlap if overlap > 1 else span
    copy_bytes = sum(16 + len(c[1]) for c in cut)
    n_copies = max(1, round((target - 24) / copy_bytes))
    log(
        f"seed: {len(frames)} frames -> {len(cut)} frames per copy, {copy_bytes / 1e6:.1f} MB; {n_copies} copies"
    )
    base = 1_700_000_000.0
    written = 24
    copies = 0
    tmp = out.with_suffix(".part")
    with open(tmp, "wb") as fh:
        fh.write(PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        heap: list[tuple[float, int, int]] = []  # (ts, copy, index)
        started = 0
        while started < n_copies or heap:
            # Start new copies while their start time has come (or nothing is running).
            while started < n_copies and (not heap or base + started * gap <= heap[0][0]):
                heapq.heappush(heap, (base + started * gap + cut[0][0], started, 0))
                started += 1
            ts, k, i = heapq.heappop(heap)
            f = cut[i][1]
            frame = _patch(f, k, port_map)
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1_000_000:
                sec, usec = sec + 1, usec - 1_000_000
            fh.write(PCAP_REC.pack(sec, usec, len(frame), len(frame)))
            fh.write(frame)
            written += 16 + len(frame)
            if i + 1 < len(cut):
                heapq.heappush(heap, (base + k * gap + cut[i + 1][0], k, i + 1))
            else:
                copies += 1
    os.replace(tmp, out)
    log(f"{out}: {written / 1e6:.1f} MB, {copies} copies of the seed")


def _patch(f: bytes, k: int, port_map: dict[int, int]) -> bytes:
    """Copy `k` of a seed frame: 127.0.0.1 -> 10.a.b.1 (client) / 10.a.b.2 (server), server ports mapped."""
    b = bytearray(f)
    ihl = (b[14] & 0x0F) * 4
    tcp = 14 + ihl
    sport, dport = struct.unpack_from("!HH", b, tcp)
    net = bytes((10, (k >> 8) & 0xFF, k & 0xFF))
    if sport in port_map:  # from the server
        b[26:30] = net + b"\x02"
        b[30:34] = net + b"\x01"
        struct.pack_into("!H", b, tcp, port_map[sport])
    else:
        b[26:30] = net + b"\x01"
        b[30:34] = net + b"\x02"
        if dport in port_map:
            struct.pack_into("!H", b, tcp + 2, port_map[dport])
    # Copies beyond 65536 also vary the client port so 4-tuples stay distinct.
    if k >> 16 and sport not in port_map:
        struct.pack_into("!H", b, tcp, (sport + (k >> 16)) & 0xFFFF or 1)
    elif k >> 16:
        struct.pack_into("!H", b, tcp + 2, (dport + (k >> 16)) & 0xFFFF or 1)
    return bytes(b)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--sizes", default="100,1000", help="capture sizes in MB, comma-separated (default 100,1000)"
    )
    ap.add_argument("--rounds", type=int, default=4, help="client rounds in the seed capture (default 4)")
    ap.add_argument(
        "--mss", type=int, default=1448, help="cut loopback frames to this TCP payload; 0 keeps them"
    )
    ap.add_argument("--overlap", type=int, default=4, help="copies of the seed in flight at once (default 4)")
    ap.add_argument("--reseed", action="store_true", help="record a new seed even if one exists")
    ap.add_argument("--out", type=Path, default=DATA)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seed = args.out / "seed.pcap"
    if args.reseed or not seed.exists():
        log(f"recording {seed} ({args.rounds} rounds of real loopback clients)")
        record_seed(seed, args.rounds)
    for mb in (int(s) for s in args.sizes.split(",") if s):
        replicate(seed, args.out / f"bench-{mb}mb.pcap", mb * 1_000_000, mss=args.mss, overlap=args.overlap)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
