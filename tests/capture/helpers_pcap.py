"""Writers of small pcap and pcapng files for tests.

Import as ``from tests.capture.helpers_pcap import write_pcap, write_pcapng`` (or put ``tests/capture`` on the
path). Each ``*_bytes`` function returns the file contents; each ``write_*`` writes them to a path and returns it.

- `write_pcap(path, frames, linktype=1, nanos=False, big_endian=False)`: frames are ``(ts, data)`` or
  ``(ts, data, orig_len)``; ``ts`` is float seconds.
- `write_pcapng(path, interfaces, packets, dsb=None, use_spb=False)`: interfaces are link types or
  `Interface` values; packets are ``(interface, ts, data)`` or ``(interface, ts, data, orig_len)``, with
  ``ts`` float seconds or an int already in the interface's units. Concatenate `pcapng_bytes` results to make a
  file with several sections.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
TLS_KEY_LOG = 0x544C534B


class Ticks(int):
    """A pcapng timestamp given in the interface's own units rather than in seconds."""


Frame = tuple[float, bytes] | tuple[float, bytes, int]
Packet = tuple[int, float | int, bytes] | tuple[int, float | int, bytes, int]


def pcap_bytes(
    frames: Iterable[Frame],
    linktype: int = LINKTYPE_ETHERNET,
    nanos: bool = False,
    big_endian: bool = False,
    snaplen: int = 262144,
    modified: bool = False,
) -> bytes:
    """A classic pcap file; `modified` writes Kuznetsov's 0xa1b2cd34 format (24-byte records)."""
    order = ">" if big_endian else "<"
    magic = 0xA1B2CD34 if modified else 0xA1B23C4D if nanos else 0xA1B2C3D4
    units = 1_000_000_000 if nanos else 1_000_000
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for frame in frames:
        ts, data = frame[0], frame[1]
        orig_len = frame[2] if len(frame) > 2 else len(data)
        sec, frac = divmod(_to_units(ts, units), units)
        out.append(struct.pack(order + "IIII", sec, frac, len(data), orig_len))
        if modified:
            out.append(struct.pack(order + "IHBB", 0, 0x0800, 0, 0))
        out.append(data)
    return b"".join(out)


def write_pcap(
    path: str | os.PathLike[str],
    frames: Iterable[Frame],
    linktype: int = LINKTYPE_ETHERNET,
    nanos: bool = False,
    big_endian: bool = False,
    **kwargs: int | bool,
) -> str:
    """Write `pcap_bytes(...)` to `path` (gzip-compressed when the name ends in .gz); return the path."""
    return _write(path, pcap_bytes(frames, linktype, nanos, big_endian, **kwargs))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Interface:
    """An Interface Description Block."""

    link_type: int = LINKTYPE_ETHERNET
    snaplen: int = 262144
    tsresol: int | None = None
    """Raw if_tsresol byte: 6 = microseconds (the default), 9 = nanoseconds, 0x8A = 2^-10 s."""
    tsoffset: int | None = None
    """if_tsoffset in seconds."""

    @property
    def units(self) -> int:
        """Timestamp units per second."""
        res = 6 if self.tsresol is None else self.tsresol
        return 2 ** (res & 0x7F) if res & 0x80 else 10**res


def block(btype: int, body: bytes, big_endian: bool = False) -> bytes:
    """One pcapng block: type, total length, body padded to 4 bytes, total length."""
    order = ">" if big_endian else "<"
    body += b"\0" * (-len(body) & 3)
    total = len(body) + 12
    return struct.pack(order + "II", btype, total) + body + struct.pack(order + "I", total)


def _option(code: int, value: bytes, order: str) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) & 3)


def pcapng_bytes(
    interfaces: Sequence[int | Interface],
    packets: Iterable[Packet],
    dsb: Sequence[tuple[int, bytes]] | bytes | None = None,
    use_spb: bool = False,
    big_endian: bool = False,
    packet_block: str = "epb",
    extra_blocks: Sequence[bytes] = (),
) -> bytes:
    """One pcapng section: SHB, IDBs, DSBs (a bytes `dsb` is one TLS key log), `extra_blocks`, then packets.

    `packet_block` is "epb", "spb" (same as `use_spb`) or "pb" (the obsolete Packet Block, type 2).
    """
    order = ">" if big_endian else "<"
    ifaces = [i if isinstance(i, Interface) else Interface(link_type=i) for i in interfaces]
    out = [block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), big_endian)]
    for iface in ifaces:
        opts = b""
        if iface.tsresol is not None:
            opts += _option(9, bytes([iface.tsresol]), order)
        if iface.tsoffset is not None:
            opts += _option(14, struct.pack(order + "q", iface.tsoffset), order)
        if opts:
            opts += _option(0, b"", order)
        body = struct.pack(order + "HHI", iface.link_type, 0, iface.snaplen) + opts
        out.append(block(1, body, big_endian))
    if isinstance(dsb, bytes):
        dsb = [(TLS_KEY_LOG, dsb)]
    for secrets_type, secrets in dsb or ():
        out.append(block(0x0A, struct.pack(order + "II", secrets_type, len(secrets)) + secrets, big_endian))
    out.extend(extra_blocks)
    kind = "spb" if use_spb else packet_block
    for packet in packets:
        iid, ts, data = packet[0], packet[1], packet[2]
        orig_len = packet[3] if len(packet) > 3 else len(data)
        if kind == "spb":
            out.append(block(3, struct.pack(order + "I", orig_len) + data, big_endian))
            continue
        units = int(ts) if isinstance(ts, Ticks) else _to_units(ts, ifaces[iid].units)
        stamp = struct.pack(order + "II", units >> 32, units & 0xFFFFFFFF)
        lens = struct.pack(order + "II", len(data), orig_len)
        if kind == "pb":
            head = struct.pack(order + "HH", iid, 0)
        else:
            head = struct.pack(order + "I", iid)
        out.append(block(2 if kind == "pb" else 6, head + stamp + lens + data, big_endian))
    return b"".join(out)


def write_pcapng(
    path: str | os.PathLike[str],
    interfaces: Sequence[int | Interface],
    packets: Iterable[Packet],
    dsb: Sequence[tuple[int, bytes]] | bytes | None = None,
    use_spb: bool = False,
    **kwargs: object,
) -> str:
    """Write `pcapng_bytes(...)` to `path` (gzip-compressed when the name ends in .gz); return the path."""
    return _write(path, pcapng_bytes(interfaces, packets, dsb, use_spb, **kwargs))  # type: ignore[arg-type]


def _to_units(ts: float, units: int) -> int:
    """`ts` seconds in `units` per second, without losing precision on large timestamps."""
    sec = math.floor(ts)
    return sec * units + round((ts - sec) * units)


def _write(path: str | os.PathLike[str], data: bytes) -> str:
    name = os.fspath(path)
    if name.endswith(".gz"):
        data = gzip.compress(data)
    with open(name, "wb") as fh:
        fh.write(data)
    return name
