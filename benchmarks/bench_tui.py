"""How the TUI keeps up with a large capture (run on demand, not in the test suite).

    python benchmarks/bench_tui.py CAPTURE [--keylog FILE] [--jobs N] [--size 160x45]
    python benchmarks/bench_tui.py --many 100000           # generates the 100k-flow capture of the tests

Runs the App headless (Pilot) on the capture and reports: time to the first rows in the list, total read time
(until the App has taken CaptureEnded), peak RSS, and the frame time while scrolling the whole list: the time of
one screen of `render_line` calls (cold: lines never drawn) and of one Page Down press through Pilot (the key,
the cursor, the scroll and the next screen drawn).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "tui"), str(ROOT / "tests" / "capture")]

from helpers_pcap import write_pcap  # noqa: E402
from tui_helpers import flow_list, make_app, many_flows  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bench(path: Path, keylog: Path | None, jobs: int, size: tuple[int, int], presses: int) -> None:
    app = make_app(path, keylog=keylog, jobs=jobs)
    t0 = time.perf_counter()
    first_rows = None
    async with app.run_test(size=size) as pilot:
        while app.ended is None and app.error is None:
            if first_rows is None and len(app.store.view):
                first_rows = time.perf_counter() - t0
            await pilot.pause(0.005)
        total = time.perf_counter() - t0
        await pilot.pause()
        fl = flow_list(app)
        n = len(app.store.view)
        print(
            f"capture            {path} ({path.stat().st_size / 1e6:.1f} MB), jobs {jobs}, {size[0]}x{size[1]}"
        )
        print(f"flows              {len(app.store)} ({n} shown)")
        print(f"time to first rows {first_rows if first_rows is not None else float('nan'):.3f} s")
        print(f"total read         {total:.2f} s (App took CaptureEnded)")
        print(f"peak RSS           {peak_rss_mb():.0f} MB")
        if app.error:
            print(f"error              {app.error}")
        if not n:
            return
        await pilot.press("home")
        h = fl.scrollable_content_region.height
        # render_line over the whole list, one screen at a time, lines never drawn before (cold cache).
        screens = []
        fl._cache.clear()
        step = max(1, n // 200)
        for top in range(0, max(1, n - h), step * h):
            fl.scroll_to(y=top, animate=False, immediate=True, force=True)
            t = time.perf_counter()
            for y in range(h):
                fl.render_line(y)
            screens.append(time.perf_counter() - t)
        print(
            f"render one screen  median {1e3 * statistics.median(screens):.2f} ms, "
            f"max {1e3 * max(screens):.2f} ms ({len(screens)} screens of {h} lines, cold)"
        )
        # Page Down through Pilot: key handling, cursor, scroll and the repaint of the next screen.
        await pilot.press("home")
        times = []
        for _ in range(presses):
            t = time.perf_counter()
            await pilot.press("pagedown")
            times.append(time.perf_counter() - t)
        print(
            f"page down (pilot)  median {1e3 * statistics.median(times):.2f} ms, "
            f"p95 {1e3 * sorted(times)[int(0.95 * len(times))]:.2f} ms over {presses} presses"
        )
        t = time.perf_counter()
        await pilot.press("end")
        print(f"End (to row {n})    {1e3 * (time.perf_counter() - t):.2f} ms")
        for label, keys in (("sort (s)", ["s"]), ("reverse (S)", ["S"])):
            t = time.perf_counter()
            await pilot.press(*keys)
            print(f"{label:<18} {1e3 * (time.perf_counter() - t):.1f} ms (rebuild of {n})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", nargs="?", type=Path)
    ap.add_argument("--many", type=int, help="generate a capture of this many short HTTP flows")
    ap.add_argument("--keylog", type=Path)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--size", default="160x45")
    ap.add_argument("--presses", type=int, default=200)
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    path = args.capture
    if args.many:
        path = Path(tempfile.mkdtemp()) / f"many-{args.many}.pcap"
        write_pcap(path, many_flows(args.many))
    if path is None:
        ap.error("a capture or --many N")
    asyncio.run(bench(path, args.keylog, args.jobs, (w, h), args.presses))


if __name__ == "__main__":
    main()
