"""Time a bare iteration over a capture with `tlsinspect.capture.files.CaptureFile`.

On demand, not a test. Either give a capture file, or let the script build a synthetic one:

    .venv/bin/python benchmarks/bench_capture_reader.py                      # 1 GiB pcap in /tmp
    .venv/bin/python benchmarks/bench_capture_reader.py --format pcapng --size-mb 256
    .venv/bin/python benchmarks/bench_capture_reader.py path/to/capture.pcap

The synthetic capture mixes frame sizes like real TLS traffic (ACKs, handshakes, full-size segments), about
700 bytes per frame on average. Prints frames/s, MB/s and the cost per frame.
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tlsinspect.capture.files import CaptureFile  # noqa: E402

_SIZES = (54, 54, 66, 66, 120, 517, 583, 1514, 1514, 1514, 1514, 1200, 300, 80)


def _records(fmt: str, count: int, seed: int = 1) -> bytes:
    """`count` packet records (pcap records or pcapng EPBs) with a realistic size mix."""
    rnd = random.Random(seed)
    out = []
    ts = 1_700_000_000_000_000
    for _ in range(count):
        size = rnd.choice(_SIZES)
        data = rnd.randbytes(size)
        ts += rnd.randrange(1, 5000)
        if fmt == "pcap":
            out.append(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, size, size) + data)
        else:
            pad = -size & 3
            blen = 32 + size + pad
            out.append(
                struct.pack("<7I", 6, blen, 0, ts >> 32, ts & 0xFFFFFFFF, size, size)
                + data
                + b"\0" * pad
                + struct.pack("<I", blen)
            )
    return b"".join(out)


def build(path: str, fmt: str, size_mb: int) -> None:
    """Write a synthetic capture of about `size_mb` MiB to `path`."""
    block = _records(fmt, 20_000)
    with open(path, "wb") as fh:
        if fmt == "pcap":
            fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        else:
            fh.write(struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28))
            fh.write(struct.pack("<IIHHI", 1, 20, 1, 0, 262144) + struct.pack("<I", 20))
        written = 0
        while written < size_mb << 20:
            fh.write(block)
            written += len(block)


def _once(path: str, chunk_size: int, raw: bool) -> tuple[float, CaptureFile]:
    start = time.perf_counter()
    with CaptureFile(path, chunk_size=chunk_size) as cap:
        for _frame in cap.raw_frames() if raw else cap:
            pass
    return time.perf_counter() - start, cap


def run(path: str, chunk_size: int, repeat: int) -> None:
    """Iterate over `path` `repeat` times each way and print the best throughput."""
    size = os.path.getsize(path)
    for raw in (False, True):
        elapsed, cap = min((_once(path, chunk_size, raw) for _ in range(repeat)), key=lambda r: r[0])
        n = cap.frames_read
        how = "raw_frames()" if raw else "Frame iteration"
        print(f"{path} ({cap.format}, {size / 1e6:.0f} MB, {n} frames) {how}, best of {repeat}:")
        print(
            f"  {elapsed:.2f} s  {n / elapsed / 1e6:.2f} M frames/s  {size / elapsed / 1e6:.0f} MB/s  "
            f"{elapsed / max(n, 1) * 1e9:.0f} ns/frame  anomalies: {len(cap.anomalies)}"
        )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", nargs="?", help="capture to read (default: build a synthetic one)")
    parser.add_argument("--format", choices=("pcap", "pcapng"), default="pcap")
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--chunk-size", type=int, default=1 << 22)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the synthetic capture")
    args = parser.parse_args()
    if args.capture:
        run(args.capture, args.chunk_size, args.repeat)
        return
    fd, path = tempfile.mkstemp(suffix="." + args.format, prefix="bench-capture-")
    os.close(fd)
    try:
        build(path, args.format, args.size_mb)
        run(path, args.chunk_size, args.repeat)
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            os.unlink(path)


if __name__ == "__main__":
    main()
