"""Time `tlsinspect read` against tshark on the benchmark captures, in one run, and draw the chart.

For each capture both tools run one after the other with their output going to a file under
``benchmarks/out/``. While a tool runs, the anonymous resident memory (``RssAnon`` in ``/proc/<pid>/status``, which
leaves out the pages of a memory-mapped capture) of the process and all its descendants is summed every 50 ms; the
peak is reported. Afterwards the outputs are counted: ClientHello, ServerHello and Certificate handshake messages
seen in cleartext, and HTTP requests.

    .venv/bin/python benchmarks/make_captures.py     # once: benchmarks/data/bench-{100,1000}mb.pcap
    .venv/bin/python benchmarks/run_bench.py         # all captures in benchmarks/data/, default --jobs
    .venv/bin/python benchmarks/run_bench.py --jobs 1 benchmarks/data/bench-100mb.pcap
    .venv/bin/python benchmarks/run_bench.py --repeat 5 benchmarks/data/bench-1000mb.pcap  # medians of 5

Writes ``benchmarks/out/results.json`` and ``benchmarks/out/bench.svg`` (time and memory against capture size).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
TSHARK_FILTER = "tls.handshake.type in {1,2,11} or http.request"
TSHARK_FIELDS = (
    "frame.number",
    "tls.handshake.type",
    "tls.handshake.extensions_server_name",
    "tls.handshake.ciphersuite",
    "http.request.uri",
)
TIMEOUT = 3600.0
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""Run tools as installed: a Python kept from caching bytecode recompiles every module on every start (~0.5 s)."""


@dataclass
class Run:
    tool: str
    capture: str
    size: int
    frames: int
    wall_s: float = 0.0
    """The median of `walls`."""
    peak_rss_anon: int = 0
    exit_code: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    walls: list[float] = field(default_factory=list)
    """Every timed run, in order (tools alternate, so run i of both tools ran back to back)."""

    @property
    def pkts_s(self) -> float:
        return self.frames / self.wall_s if self.wall_s else 0.0

    @property
    def mb_s(self) -> float:
        return self.size / 1e6 / self.wall_s if self.wall_s else 0.0


# -- measuring ---------------------------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def rss_anon(pid: int) -> int:
    """RssAnon in bytes of `pid` and all its descendants (0 for processes already gone)."""
    total = 0
    for p in _descendants(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("RssAnon:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def measure(cmd: list[str], out_path: Path) -> tuple[float, int, int]:
    """Run `cmd` with stdout to `out_path`; returns (wall seconds, peak RssAnon, exit code)."""
    peak = 0
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT, env=ENV)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_anon(proc.pid))
                done.wait(0.05)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        try:
            code = proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(10)
        wall = time.perf_counter() - t0
        done.set()
        th.join(5)
    return wall, peak, code


# -- counting ----------------------------------------------------------------------------------------------------


def count_tlsinspect(path: Path) -> tuple[dict[str, int], int]:
    """Handshake messages seen in cleartext and HTTP requests in tlsinspect's ndjson; and the frame count."""
    c = {"client_hello": 0, "server_hello": 0, "certificate": 0, "http_request": 0, "flows": 0}
    frames = 0
    names = {1: "client_hello", 2: "server_hello", 11: "certificate"}
    with open(path) as fh:
        for line in fh:
            d = json.loads(line)
            if d["type"] == "summary":
                frames = d["frames"]
            if d["type"] != "flow":
                continue
            c["flows"] += 1
            for m in (d.get("tls") or {}).get("handshake_messages", ()):
                name = names.get(m["type"])
                if name and not m.get("decrypted") and not m.get("encrypted"):
                    c[name] += 1
            c["http_request"] += len(d.get("http") or ())
    return c, frames


def count_tshark(path: Path) -> dict[str, int]:
    c = {"client_hello": 0, "server_hello": 0, "certificate": 0, "http_request": 0}
    names = {"1": "client_hello", "2": "server_hello", "11": "certificate"}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 5:
                continue
            for t in cols[1].split(","):
                if t in names:
                    c[names[t]] += 1
            if cols[4]:
                c["http_request"] += len(cols[4].split(","))
    return c


# -- the run -----------------------------------------------------------------------------------------------------


def tlsinspect_cmd(capture: Path, jobs: int | None) -> list[str]:
    exe = Path(sys.executable).with_name("tlsinspect")
    cmd = [str(exe), "read", str(capture), "--format", "ndjson", "--no-progress"]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    return cmd


def tshark_cmd(capture: Path) -> list[str]:
    cmd = ["tshark", "-n", "-r", str(capture), "-Y", TSHARK_FILTER, "-T", "fields"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    return cmd


def bench(capture: Path, jobs: int | None, with_tshark: bool, repeat: int) -> list[Run]:
    """Time tlsinspect and tshark `repeat` times each, alternating, so both see the same machine load."""
    size = capture.stat().st_size
    r = Run("tlsinspect", capture.name, size, 0)
    t = Run("tshark", capture.name, size, 0)
    for _ in range(repeat):
        out = OUT / f"{capture.stem}.tlsinspect.ndjson"
        wall, peak, code = measure(tlsinspect_cmd(capture, jobs), out)
        r.walls.append(wall)
        r.peak_rss_anon, r.exit_code = max(r.peak_rss_anon, peak), code or r.exit_code
        r.counts, r.frames = count_tlsinspect(out)
        if with_tshark:
            out = OUT / f"{capture.stem}.tshark.tsv"
            wall, peak, code = measure(tshark_cmd(capture), out)
            t.walls.append(wall)
            t.peak_rss_anon, t.exit_code = max(t.peak_rss_anon, peak), code or t.exit_code
            t.counts, t.frames = count_tshark(out), r.frames
    for run in (r, t):
        if run.walls:
            run.wall_s = statistics.median(run.walls)
    return [r, t] if with_tshark else [r]


def report(runs: list[Run]) -> None:
    head = (
        f"{'capture':<22} {'tool':<10} {'wall s':>8} {'range s':>13} {'pkts/s':>10} {'MB/s':>8} "
        f"{'RssAnon MiB':>12}  counts"
    )
    print(head)
    print("-" * len(head))
    for r in runs:
        counts = " ".join(f"{k}={v}" for k, v in r.counts.items())
        spread = f"{min(r.walls):.2f}-{max(r.walls):.2f}" if r.walls else ""
        print(
            f"{r.capture:<22} {r.tool:<10} {r.wall_s:8.2f} {spread:>13} {r.pkts_s:10.0f} {r.mb_s:8.1f} "
            f"{r.peak_rss_anon / 2**20:12.1f}  {counts}" + (f" (exit {r.exit_code})" if r.exit_code else "")
        )
    by_cap: dict[str, dict[str, Run]] = {}
    for r in runs:
        by_cap.setdefault(r.capture, {})[r.tool] = r
    for cap, tools in by_cap.items():
        if "tshark" in tools and "tlsinspect" in tools:
            ti, ts = tools["tlsinspect"], tools["tshark"]
            same = all(ti.counts.get(k) == v for k, v in ts.counts.items())
            pairs = sorted(b / a for a, b in zip(ti.walls, ts.walls, strict=False) if a)
            each = f" (run by run: {', '.join(f'{x:.1f}x' for x in pairs)})" if len(pairs) > 1 else ""
            print(
                f"{cap}: tlsinspect is {ts.wall_s / ti.wall_s:.1f}x faster than tshark (medians){each}; "
                f"memory {ti.peak_rss_anon / 2**20:.0f} vs {ts.peak_rss_anon / 2**20:.0f} MiB; "
                f"counts {'identical' if same else 'DIFFER'}"
            )


# -- chart -------------------------------------------------------------------------------------------------------


def svg_chart(runs: list[Run], path: Path) -> None:
    """Two panels (wall time, peak RssAnon) against capture size, one line per tool; plain SVG."""
    colours = {"tlsinspect": "#1f77b4", "tshark": "#d62728"}
    w, h, pad = 360, 240, 48
    panels = [
        ("wall time (s)", lambda r: r.wall_s),
        ("peak RssAnon (MiB)", lambda r: r.peak_rss_anon / 2**20),
    ]
    xmax = max(r.size for r in runs) / 1e6 * 1.05
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w + 20}" height="{h + 40}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{2 * w + 20}" height="{h + 40}" fill="white"/>',
    ]
    for i, (title, val) in enumerate(panels):
        x0 = i * (w + 20)
        ymax = max(val(r) for r in runs) * 1.1 or 1
        pw, ph = w - pad - 10, h - pad - 10

        def px(mb: float, x0: int = x0, pw: int = pw) -> float:
            return x0 + pad + mb / xmax * pw

        def py(v: float, ymax: float = ymax, ph: int = ph) -> float:
            return 20 + ph - v / ymax * ph

        parts.append(f'<text x="{x0 + w / 2}" y="14" text-anchor="middle" font-weight="bold">{title}</text>')
        parts.append(
            f'<path d="M{x0 + pad},20 V{20 + ph} H{x0 + pad + pw}" fill="none" stroke="#333" stroke-width="1"/>'
        )
        for k in range(5):
            v = ymax * k / 4
            y = py(v)
            parts.append(f'<text x="{x0 + pad - 4}" y="{y + 4:.1f}" text-anchor="end">{v:.0f}</text>')
            parts.append(
                f'<line x1="{x0 + pad}" x2="{x0 + pad + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            )
        for k in range(5):
            mb = xmax * k / 4
            parts.append(f'<text x="{px(mb):.1f}" y="{36 + ph}" text-anchor="middle">{mb:.0f}</text>')
        parts.append(
            f'<text x="{x0 + pad + pw / 2}" y="{h + 10}" text-anchor="middle">capture size (MB)</text>'
        )
        for j, tool in enumerate(("tlsinspect", "tshark")):
            pts = sorted((r.size / 1e6, val(r)) for r in runs if r.tool == tool)
            if not pts:
                continue
            d = " ".join(f"{'M' if n == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for n, (x, y) in enumerate(pts))
            c = colours[tool]
            parts.append(f'<path d="{d}" fill="none" stroke="{c}" stroke-width="2"/>')
            for x, y in pts:
                parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
            parts.append(f'<rect x="{x0 + pad + 10}" y="{26 + 14 * j}" width="10" height="3" fill="{c}"/>')
            parts.append(f'<text x="{x0 + pad + 24}" y="{31 + 14 * j}">{tool}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("captures", nargs="*", type=Path, help="default: every *.pcap in benchmarks/data/")
    ap.add_argument("--jobs", type=int, help="passed to tlsinspect read --jobs (default: its own default)")
    ap.add_argument("--no-tshark", action="store_true", help="time tlsinspect only")
    ap.add_argument("--chart", type=Path, default=OUT / "bench.svg")
    ap.add_argument(
        "--repeat", type=int, default=1, help="time each tool this many times, alternating; report medians"
    )
    args = ap.parse_args()
    caps = args.captures or sorted((HERE / "data").glob("*.pcap"), key=lambda p: p.stat().st_size)
    if not caps:
        print("no captures: run benchmarks/make_captures.py first", file=sys.stderr)
        return 2
    with_tshark = not args.no_tshark and shutil.which("tshark") is not None
    OUT.mkdir(exist_ok=True)
    runs: list[Run] = []
    for cap in caps:
        print(f"# {cap} ({cap.stat().st_size / 1e6:.0f} MB)", file=sys.stderr, flush=True)
        runs += bench(cap, args.jobs, with_tshark, max(1, args.repeat))
    report(runs)
    (OUT / "results.json").write_text(
        json.dumps([asdict(r) | {"pkts_s": r.pkts_s, "mb_s": r.mb_s} for r in runs], indent=1) + "\n"
    )
    svg_chart(runs, args.chart)
    print(f"chart: {args.chart}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
