"""Live capture under load: short TLS connections on loopback at rising rates; where do the first drops appear?

For each rate (connections per second) the benchmark runs `tlsinspect live -i lo -f 'tcp port P' --format ndjson
--duration D` as a subprocess, and meanwhile opens short TLS 1.3 connections (handshake, one HTTP request,
close) to a TLS server in another process, paced at that rate for `--seconds`. It then reads the tool's summary
and its stderr line: frames, flows, queue drops (the sniffer -> analysis queue was full), kernel drops (the
socket buffer overflowed), and the backlog (how long after the capture stopped the analysis still ran).

Needs capture rights (root). Bounded: at most len(rates) runs of `--seconds` + a few seconds each.

    .venv/bin/python benchmarks/bench_live.py                      # 50 100 200 400 800 conn/s, 3 s each
    .venv/bin/python benchmarks/bench_live.py --rates 100 400 --seconds 2 --queue-size 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import re
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "capture"))
from live_helpers import TLSINSPECT, can_capture, make_cert  # noqa: E402

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def _serve(cert: str, key: str, port_q: Any, stop: Any) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
            w.write(RESPONSE)
            await w.drain()
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
            pass
        finally:
            w.close()

    async def main() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx, backlog=4096)
        port_q.put(srv.sockets[0].getsockname()[1])
        while not stop.is_set():
            await asyncio.sleep(0.1)
        srv.close()

    asyncio.run(main())


async def _load(port: int, rate: float, seconds: float) -> tuple[int, int, float]:
    """Open rate*seconds short TLS connections, paced; returns (attempted, succeeded, achieved seconds)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ok = 0
    total = int(rate * seconds)

    async def one(i: int) -> None:
        nonlocal ok
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=f"c{i}.bench.test"), 10
            )
            w.write(b"GET /%d HTTP/1.1\r\nHost: bench\r\n\r\n" % i)
            await w.drain()
            await asyncio.wait_for(r.read(), 10)
            w.close()
            ok += 1
        except (TimeoutError, OSError, ssl.SSLError):
            pass

    t0 = time.perf_counter()
    tasks = []
    for i in range(total):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    sent = time.perf_counter() - t0
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    return total, ok, sent


def run_rate(port: int, rate: float, seconds: float, queue_size: int) -> dict[str, Any]:
    duration = seconds + 1.5
    cmd = [TLSINSPECT, "live", "-i", "lo", "-f", f"tcp port {port}", "--format", "ndjson", "--duration", str(duration),
           "--no-env-keylog", "--queue-size", str(queue_size)]  # fmt: skip
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    p.stdout.readline()  # the capture line: the socket is open
    time.sleep(0.3)
    attempted, ok, sent = asyncio.run(_load(port, rate, seconds))
    out, err = p.communicate(timeout=duration + 300)
    lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    summary = lines[-1] if lines and lines[-1].get("type") == "summary" else {}
    m = re.search(r"(\d+) frames captured, kernel dropped (\d+), queue dropped (\d+)", err)
    captured, kernel, queued = (int(x) for x in m.groups()) if m else (-1, -1, -1)
    return {
        "rate": rate,
        "achieved_rate": round(attempted / sent, 1) if sent else 0.0,
        "connections": attempted,
        "ok": ok,
        "flows": summary.get("flows"),
        "tls_flows": summary.get("tls_flows"),
        "frames": summary.get("frames"),
        "captured": captured,
        "kernel_dropped": kernel,
        "queue_dropped": queued,
        "backlog_s": round(summary.get("elapsed_s", 0.0) - duration, 2),
        "exit": p.returncode,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", type=float, nargs="+", default=[50, 100, 200, 400, 800])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--queue-size", type=int, default=20_000)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    a = ap.parse_args()
    if not can_capture():
        print("bench_live: needs capture rights (run as root)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    cert, key = make_cert(tmp)
    port_q: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    srv = multiprocessing.Process(target=_serve, args=(cert, key, port_q, stop), daemon=True)
    srv.start()
    port = port_q.get(timeout=10)
    results = []
    first_drop = None
    try:
        print(
            f"{'rate':>6} {'achieved':>8} {'conns':>6} {'ok':>6} {'flows':>6} {'frames':>7} {'kernel':>7} {'queue':>7} {'backlog':>8}"
        )
        for rate in a.rates:
            r = run_rate(port, rate, a.seconds, a.queue_size)
            results.append(r)
            print(
                f"{r['rate']:>6.0f} {r['achieved_rate']:>8} {r['connections']:>6} {r['ok']:>6} {r['flows']!s:>6} "
                f"{r['frames']!s:>7} {r['kernel_dropped']:>7} {r['queue_dropped']:>7} {r['backlog_s']:>7}s",
                flush=True,
            )
            if first_drop is None and (r["kernel_dropped"] > 0 or r["queue_dropped"] > 0):
                first_drop = rate
    finally:
        stop.set()
        srv.join(5)
        if srv.is_alive():
            srv.kill()
    print(f"first drops at: {first_drop:.0f} conn/s" if first_drop else "no drops at any rate tried")
    if a.json:
        print(json.dumps({"results": results, "first_drop_rate": first_drop}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
