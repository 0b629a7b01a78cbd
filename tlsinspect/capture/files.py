"""Streaming reader for capture files: classic pcap and pcapng, optionally gzip-compressed.

This is the only file I/O of the read pipeline. An uncompressed regular file is memory-mapped and read in
place; a gzip file or a pipe is read in large chunks into one bytes buffer. Either way frames are cut out with
precompiled `struct.Struct` layouts, so the per-frame cost is one header unpack, one slice and one tuple. Memory
use does not grow with the file size: a mapping is file-backed page cache (it shows in RssFile, not RssAnon, and
the kernel drops pages already read), and the chunk buffer holds one chunk plus at most one partial block.
Mapping saves the copy of every chunk into a new buffer and the join of a partial block with the next chunk,
about a quarter of the reading time on a 1 GB capture (benchmarks/README.md).

Two ways to read: `raw_frames()` yields one tuple per frame with the frame's bytes, and `push(handle, n)`
calls ``handle(number, ts, link_type, buf, start, end, orig_len, interface)`` for up to n frames, with the
frame's bytes still in place in `buf` (the mapping, or the chunk buffer). The read engine uses `push`: a
call per frame and no copy, no tuple and no generator resume, which was a third of the engine's time on the
1 GB benchmark; a handle that wants only some frames (a `read --jobs N` worker keeps a share of the flows)
copies only those. `raw_frames` is built on `push`.

The record walk itself (classic pcap records, pcapng Enhanced Packet Blocks) runs in a small C helper when it is
built (`_fastwalk.c`, compiled by pip through setup.py when a compiler is there): it was the one measured hot
path pure Python could not make fast enough (0.4 s of a 1 GB read, plus 0.3 s per `--jobs` worker passing over
the other workers' frames). It hands over exactly the frames the Python loops would, and passes over another
shard's frames only when told the shard (`push(..., shard=(k, n))`); anything unusual (a block of another
kind, a record cut by the end of the buffer, a bad length) is left to the Python loops, which stay the
reference: `TLSINSPECT_PURE_PYTHON=1` turns the helper off, and the tests run both and compare them.

Malformed input never raises once the file is open. A truncated or corrupt tail is recorded in
`CaptureFile.anomalies` (layer "capture") and iteration stops there. The anomaly kinds are:

- ``truncated``: the file (or its gzip stream) ends inside a record or block. ``frame`` is the number the
  partial packet would have had, or None when the partial block is not a packet block.
- ``corrupt-block``: a pcapng block with an impossible length, a trailer length that disagrees with its
  header, a body too short for its type, a bad byte-order magic, or a packet for an interface never described.
- ``oversized-packet``: a captured length above the interface snapshot length or above 256 KiB (the pcap
  format has no way to resynchronise after a bad length, so reading stops).
- ``corrupt-gzip``: the gzip stream fails to decompress (bad data or checksum).
- ``read-error``: the operating system failed a read part-way through.

Frames are numbered from 1 in file order, counting every packet record (pcap record, pcapng EPB, SPB and the
obsolete Packet Block), as Wireshark numbers them. Other pcapng blocks (NRB, ISB, custom, systemd journal...)
are skipped without comment.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
import zlib
from collections.abc import Callable, Generator, Iterator
from itertools import repeat
from types import TracebackType
from typing import BinaryIO, NamedTuple

from tlsinspect.errors import CaptureError
from tlsinspect.model import Anomaly

try:  # the optional C record walker (setup.py); without it the Python loop below does the same
    from tlsinspect.capture import _fastwalk
except ImportError:  # pragma: no cover - depends on the build
    _fastwalk = None  # type: ignore[assignment]
if os.environ.get("TLSINSPECT_PURE_PYTHON"):  # to compare, or to rule the C walker out
    _fastwalk = None  # type: ignore[assignment]

__all__ = [
    "MAX_PACKET",
    "RawFrame",
    "TLS_KEY_LOG_SECRETS",
    "CaptureFile",
    "Frame",
    "open_capture",
    "sniff_format",
]

MAX_PACKET = 262144
"""Largest captured length accepted (Wireshark's limit for ordinary link types)."""

TLS_KEY_LOG_SECRETS = 0x544C534B
"""pcapng Decryption Secrets Block type of an NSS key log ("TLSK")."""

_MAX_BLOCK = 16 << 20
"""Largest pcapng block accepted; anything longer is treated as a corrupt length."""

_GZIP_RAW_CHUNK = 1 << 20

# pcapng block types
_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_PB = 0x00000002
_SPB = 0x00000003
_EPB = 0x00000006
_DSB = 0x0000000A
_PACKET_BLOCKS = (_EPB, _SPB, _PB)

_BOM_LE = b"\x4d\x3c\x2b\x1a"
_BOM_BE = b"\x1a\x2b\x3c\x4d"

# classic pcap magic numbers, as read little-endian: (byte order, fraction divisor, record header length)
_PCAP_MAGIC: dict[int, tuple[str, int, int]] = {
    0xA1B2C3D4: ("<", 1_000_000, 16),
    0xA1B23C4D: ("<", 1_000_000_000, 16),
    0xA1B2CD34: ("<", 1_000_000, 24),
    0xD4C3B2A1: (">", 1_000_000, 16),
    0x4D3CB2A1: (">", 1_000_000_000, 16),
    0x34CDB2A1: (">", 1_000_000, 24),
}

_U32LE = struct.Struct("<I")
_NEW = tuple.__new__

RawFrame = tuple[int, float, int, bytes, int, int]
"""A frame as a plain tuple: (number, ts, link_type, data, orig_len, interface), see `Frame`."""

_Buffer = bytes | mmap.mmap

Handle = Callable[[int, float, int, _Buffer, int, int, int, int], object]
"""`handle(number, ts, link_type, buf, start, end, orig_len, interface)`, called by `CaptureFile.push` for each
frame, whose bytes are buf[start:end]. `buf` is only valid during the call: copy what you keep."""

_RELEASE_EVERY = 64 << 20
"""A mapped file's pages already read are released from the process's mappings every this many bytes, so its
RSS stays flat too (the page cache keeps them for other readers)."""


class Frame(NamedTuple):
    """One packet record as read from the file."""

    number: int
    """1-based position among the packet records of the file, as Wireshark numbers frames."""
    ts: float
    """Capture time in seconds since the epoch (0.0 for a pcapng Simple Packet Block, which has none)."""
    link_type: int
    """LINKTYPE_* value of the interface the frame came from (1 Ethernet, 101 raw IP, 276 SLL2...)."""
    data: bytes
    """The captured bytes."""
    orig_len: int
    """Length of the packet on the wire (may exceed len(data) when the capture was sliced)."""
    interface: int
    """Index into `CaptureFile.link_types`: the pcapng interface, numbered across sections (0 for pcap)."""


class _Layout:
    """The precompiled structs of one byte order."""

    __slots__ = ("u32", "epb", "pb", "spb", "idb", "dsb", "opt", "i64", "pcap_rec")

    def __init__(self, order: str) -> None:
        self.u32 = struct.Struct(order + "I")
        self.epb = struct.Struct(order + "7I")  # type, len, interface, ts high, ts low, caplen, orig len
        self.pb = struct.Struct(
            order + "IIHHIIII"
        )  # type, len, interface, drops, ts high, ts low, caplen, orig
        self.spb = struct.Struct(order + "3I")  # type, len, orig len
        self.idb = struct.Struct(order + "IIHHI")  # type, len, link type, reserved, snaplen
        self.dsb = struct.Struct(order + "4I")  # type, len, secrets type, secrets length
        self.opt = struct.Struct(order + "HH")
        self.i64 = struct.Struct(order + "q")
        self.pcap_rec = struct.Struct(order + "4I")  # ts sec, ts frac, caplen, orig len


_LAYOUTS = {"<": _Layout("<"), ">": _Layout(">")}


class _Problem(NamedTuple):
    kind: str
    message: str


class _Interface(NamedTuple):
    link_type: int
    divisor: int
    """Timestamp units per second."""
    offset: int
    """if_tsoffset, seconds."""
    limit: int
    """The snaplen (when set), never above MAX_PACKET: the captured length of a Simple Packet Block. An EPB
    longer than the snaplen is still read (as tshark does); only MAX_PACKET stops reading."""
    slot: int
    """Index in CaptureFile.link_types."""


def sniff_format(first_bytes: bytes) -> str | None:
    """Say what kind of capture file starts with these bytes.

    Args:
        first_bytes: at least the first 4 bytes of the file.

    Returns:
        "pcap", "pcapng", "gzip" (the content still has to be sniffed), or None for anything else.
    """
    if first_bytes[:2] == b"\x1f\x8b":
        return "gzip"
    if len(first_bytes) < 4:
        return None
    magic = _U32LE.unpack_from(first_bytes)[0]
    if magic == _SHB:
        return "pcapng"
    if magic in _PCAP_MAGIC:
        return "pcap"
    return None


def _describe_magic(head: bytes) -> str:
    """A short description of unrecognised leading bytes for an error message."""
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "it is zstd-compressed, which is not supported: decompress it first"
    if head[:4] == b"\x04\x22\x4d\x18":
        return "it is lz4-compressed, which is not supported: decompress it first"
    shown = head[:4].hex(" ")
    sample = head[:64]
    if sample and all(32 <= c < 127 or c in (9, 10, 13) for c in sample):
        return f"it starts with {shown}, which looks like text"
    return f"it starts with {shown}"


class _GzipStream:
    """Incremental gzip decompression that keeps what it could decode when the stream is cut short.

    `gzip.GzipFile.read` loses the data of the failing call on a truncated stream; this keeps it, handles
    multi-member files, and bounds each output chunk.
    """

    def __init__(self, raw: BinaryIO, initial: bytes) -> None:
        self._raw = raw
        self._d = zlib.decompressobj(31)
        self._pending = initial
        self._started = False
        self._done = False
        self.truncated = False
        """True once the compressed data ended before the end of a gzip member."""

    def read(self, size: int) -> bytes:
        """Return some decompressed bytes (at most `size`), or b"" at the end. Raises zlib.error on bad data."""
        while not self._done:
            if not self._pending:
                self._pending = self._raw.read(_GZIP_RAW_CHUNK)
                if not self._pending:
                    if self._started and not self._d.eof:
                        self.truncated = True
                    return b""
            d = self._d
            if d.eof:
                if self._pending[:2] != b"\x1f\x8b":
                    # Trailing bytes after the last member (often zero padding): ignore, as gzip(1) does.
                    self._pending = b""
                    self._done = True
                    return b""
                d = self._d = zlib.decompressobj(31)
            self._started = True
            data = d.decompress(self._pending, size)
            self._pending = d.unused_data if d.eof else d.unconsumed_tail
            if data:
                return data
        return b""

    def close(self) -> None:
        """Close the underlying file."""
        self._raw.close()


class CaptureFile:
    """A capture file opened for one streaming pass over its frames.

    Opening reads the file header (and, for pcapng, the blocks before the first packet), so a file that is not
    a capture fails here with one `CaptureError`. Iterating yields `Frame` tuples; a damaged tail ends the
    iteration quietly with an entry in `anomalies`.

    Attributes:
        format: "pcap" or "pcapng".
        link_types: link type of each interface, in order; for pcapng it grows as interface blocks are read,
            numbered across sections.
        secrets: (secrets_type, secrets_data) of each pcapng Decryption Secrets Block read so far.
        anomalies: what was wrong with the file, in the order found.
        frames_read: frames yielded so far (exact between chunks and once iteration ends).
        bytes_read: sum of the captured lengths of those frames.
        compressed: True when the file is gzip-compressed.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, chunk_size: int = 1 << 22, map_file: bool = True
    ) -> None:
        """Open `path` and read its header.

        Args:
            path: the capture file (.pcap, .pcapng, .cap, optionally gzip-compressed).
            chunk_size: how many bytes to read at a time when the file is not mapped.
            map_file: memory-map an uncompressed regular file instead of reading it in chunks (the tests
                run both ways).

        Raises:
            CaptureError: the file cannot be opened or is not a capture file; the message is one line.
        """
        self.path = os.fspath(path)
        self.format = ""
        self.link_types: list[int] = []
        self.secrets: list[tuple[int, bytes]] = []
        self.anomalies: list[Anomaly] = []
        self.frames_read = 0
        self.bytes_read = 0
        self.compressed = False
        self._chunk = max(int(chunk_size), 4096)
        self._gzip: _GzipStream | None = None
        self._raw: Generator[RawFrame, None, None] | None = None
        self._done = False
        """The end of the file (or a fatal problem) has been reached; `push` has nothing more."""
        self.use_c = True
        """Walk classic pcap records with the C walker when it is built (the tests turn it off to compare)."""
        self.last_ts: float | None = None
        self._released = 0
        self._buf: _Buffer = b""
        self._pos = 0
        self._map: mmap.mmap | None = None
        """The whole file, when it is mapped: then `_buf` is this mapping and there is nothing to refill."""
        self._map_file = map_file
        # pcap state
        self._pcap_divisor = 1_000_000
        self._pcap_rec_len = 16
        self._pcap_limit = MAX_PACKET
        # pcapng state
        self._layout = _LAYOUTS["<"]
        self._ifaces: list[_Interface] = []

        name = self.path
        try:
            fh: BinaryIO = open(name, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise CaptureError(f"cannot read {name!r}: no such file") from None
        except IsADirectoryError:
            raise CaptureError(f"cannot read {name!r}: it is a directory, not a capture file") from None
        except PermissionError:
            raise CaptureError(f"cannot read {name!r}: permission denied") from None
        except OSError as e:
            raise CaptureError(f"cannot read {name!r}: {e.strerror or e}") from None
        self._fh = fh
        try:
            self._open(name)
        except BaseException:
            fh.close()
            raise

    def _open(self, name: str) -> None:
        try:
            head = self._fh.read(self._chunk)
        except OSError as e:
            raise CaptureError(f"cannot read {name!r}: {e.strerror or e}") from None
        if not head:
            raise CaptureError(f"{name!r} is empty, not a capture file")
        if head[:2] == b"\x1f\x8b":
            self.compressed = True
            self._gzip = _GzipStream(self._fh, head)
            try:
                head = self._gzip.read(self._chunk)
            except (zlib.error, OSError) as e:
                raise CaptureError(f"{name!r} is not a valid gzip file ({e})") from None
            if not head:
                raise CaptureError(f"{name!r} is gzip-compressed but empty inside")
            inner = " inside its gzip compression"
        else:
            inner = ""
        # make sure the first bytes of the header are there despite short reads
        while len(head) < 64:
            more = self._read(self._chunk)
            if not more:
                break
            head += more
        kind = sniff_format(head)
        if kind == "pcap":
            self._open_pcap(name, head, inner)
        elif kind == "pcapng":
            self._open_pcapng(name, head, inner)
        elif kind == "gzip":
            raise CaptureError(f"{name!r} is gzip-compressed twice; decompress it first")
        else:
            raise CaptureError(f"{name!r} is not a pcap or pcapng file{inner}: {_describe_magic(head)}")
        if self._map_file and self._gzip is None:
            self._try_map()

    def _try_map(self) -> None:
        """Map a regular file read so far from offset 0, so `_buf` positions are file offsets; else keep
        reading in chunks (pipes, special files, a failing mmap)."""
        try:
            st = os.fstat(self._fh.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size < len(self._buf):
                return
            m = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return
        if hasattr(m, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
            try:
                m.madvise(mmap.MADV_SEQUENTIAL)
            except OSError:
                pass
        self._map = m
        self._buf = m

    def _open_pcap(self, name: str, head: bytes, inner: str) -> None:
        if len(head) < 24:
            raise CaptureError(
                f"{name!r} is truncated: its pcap file header{inner} has only {len(head)} bytes"
            )
        order, divisor, rec_len = _PCAP_MAGIC[_U32LE.unpack_from(head)[0]]
        snaplen, network = struct.unpack_from(order + "II", head, 16)
        self.format = "pcap"
        self.link_types = [network & 0x03FFFFFF]
        self._pcap_divisor = divisor
        self._pcap_rec_len = rec_len
        self._pcap_limit = MAX_PACKET  # like tshark: a record longer than the snaplen is still read
        self._layout = _LAYOUTS[order]
        self._buf = head
        self._pos = 24

    def _open_pcapng(self, name: str, head: bytes, inner: str) -> None:
        self.format = "pcapng"
        if len(head) < 12:
            raise CaptureError(
                f"{name!r} is truncated: its pcapng section header{inner} has only {len(head)} bytes"
            )
        bom = head[8:12]
        if bom not in (_BOM_LE, _BOM_BE):
            raise CaptureError(f"{name!r} is not a valid pcapng file: bad byte-order magic {bom.hex(' ')}")
        layout = _LAYOUTS["<" if bom == _BOM_LE else ">"]
        blen = layout.u32.unpack_from(head, 4)[0]
        if blen < 28 or blen & 3 or blen > _MAX_BLOCK:
            raise CaptureError(f"{name!r} is not a valid pcapng file: section header length {blen}")
        while len(head) < blen:
            more = self._read(max(self._chunk, blen - len(head)))
            if not more:
                raise CaptureError(f"{name!r} is truncated inside its pcapng section header{inner}")
            head += more
        self._buf = head
        self._pos = 0
        # Apply the SHB and the interface blocks before the first packet, so link_types is known at once.
        self._prescan()

    def _read(self, size: int) -> bytes:
        if self._gzip is not None:
            return self._gzip.read(size)
        return self._fh.read(size)

    def _prescan(self) -> None:
        """Apply the whole non-packet blocks at the start of the buffer (the SHB, IDBs, DSBs...).

        Anything unusual is left for the iterator, which records it as an anomaly.
        """
        buf, pos = self._buf, self._pos
        end = len(buf)
        while end - pos >= 12:
            if _U32LE.unpack_from(buf, pos)[0] == _SHB:
                bom = buf[pos + 8 : pos + 12]
                if bom not in (_BOM_LE, _BOM_BE):
                    break
                layout = _LAYOUTS["<" if bom == _BOM_LE else ">"]
            else:
                layout = self._layout
            btype, blen = layout.dsb.unpack_from(buf, pos)[:2] if end - pos >= 16 else (-1, 0)
            if btype in _PACKET_BLOCKS or blen < 12 or blen & 3 or blen > _MAX_BLOCK or pos + blen > end:
                break
            if self._block(btype, buf, pos, blen, layout, self.frames_read + 1) is not None:
                break
            pos += blen
        self._pos = pos

    def _meta_block(self, btype: int, buf: _Buffer, pos: int, blen: int, layout: _Layout) -> _Problem | None:
        """Apply one whole non-packet block; return what is wrong with it, or None."""
        if btype == _SHB:
            if blen < 28:
                return _corrupt(f"section header block of {blen} bytes")
            self._layout = layout
            self._ifaces = []
        elif btype == _IDB:
            if blen < 20:
                return _corrupt(f"interface description block of {blen} bytes")
            _, _, link_type, _, snaplen = layout.idb.unpack_from(buf, pos)
            divisor, offset = 1_000_000, 0
            for code, value in _options(buf, pos + 16, pos + blen - 4, layout):
                if code == 9 and len(value) >= 1:
                    res = value[0]
                    divisor = 2 ** (res & 0x7F) if res & 0x80 else 10**res
                elif code == 14 and len(value) >= 8:
                    offset = layout.i64.unpack_from(value)[0]
            limit = min(snaplen, MAX_PACKET) if snaplen else MAX_PACKET
            self._ifaces.append(_Interface(link_type, divisor, offset, limit, len(self.link_types)))
            self.link_types.append(link_type)
        elif btype == _DSB:
            if blen < 20:
                return _corrupt(f"decryption secrets block of {blen} bytes")
            _, _, secrets_type, secrets_len = layout.dsb.unpack_from(buf, pos)
            if 16 + secrets_len + 4 > blen:
                return _corrupt(
                    f"decryption secrets block of {blen} bytes claims {secrets_len} bytes of secrets"
                )
            self.secrets.append((secrets_type, buf[pos + 16 : pos + 16 + secrets_len]))
        return None

    def __iter__(self) -> Iterator[Frame]:
        """Stream the frames as `Frame` tuples.

        There is a single pass: iterating again (or mixing with `raw_frames`) continues where the last
        iteration stopped.
        """
        return map(_NEW, repeat(Frame), self.raw_frames())

    def raw_frames(self) -> Iterator[RawFrame]:
        """Stream the frames as plain tuples, in `Frame` field order; cheaper than `Frame`s.

        Use as ``for number, ts, link_type, data, orig_len, interface in cap.raw_frames(): ...``. Do not mix
        with `push` on the same file: frames are read ahead in batches.
        """
        if self._raw is None:
            self._raw = self._tuples()
        return self._raw

    def _tuples(self) -> Generator[RawFrame, None, None]:
        out: list[RawFrame] = []
        add = out.append

        def collect(
            number: int, ts: float, lt: int, buf: _Buffer, start: int, end: int, ol: int, i: int
        ) -> None:
            add((number, ts, lt, buf[start:end], ol, i))

        while True:
            nbytes = self.bytes_read
            more = self.push(collect, 1024)
            frames_end, bytes_end = self.frames_read, self.bytes_read
            # The counters follow what has been yielded, so they are right when the caller stops early.
            for frame in out:
                nbytes += len(frame[3])
                self.frames_read, self.bytes_read = frame[0], nbytes
                yield frame
            self.frames_read, self.bytes_read = frames_end, bytes_end
            out.clear()
            if not more:
                return

    def push(
        self,
        handle: Handle,
        max_frames: int,
        shard: tuple[int, int] = (0, 1),
        tcp: Callable[..., object] | None = None,
    ) -> bool:
        """Call `handle` for each of the next frames, at most `max_frames` of them; False once the file is done.

        A call returns early after a pcapng Decryption Secrets Block, so that the caller can apply the new
        `secrets` before the next frame. `frames_read` and `bytes_read` are exact when it returns.

        `shard` (k, n) with n > 1: the handle belongs to shard k of a `read --jobs n` (tlsinspect.parallel), and
        the C record walker, when it is built, passes over the frames that
        plainly belong to another shard (`tlsinspect.decode.fast.shard_of` of a frame `decode.fast.fast_tcp`
        takes) without calling the handle; the handle must still judge every frame it gets. `last_ts` is then
        the time of the last frame walked, passed over or not (None when the handle saw every frame).

        `tcp`: where the C walker hands the frames the engine's fast path would take, with the header fields it
        has read: tcp(number, ts, size, src, dst, sport, dport, seq, ack, flags, buf, payload_start,
        payload_end) (`Engine.tcp_at`). Without the C walker every frame goes to `handle`.
        """
        self.last_ts = None
        if self._done:
            return False
        if self.format == "pcap":
            more = self._push_pcap(handle, max_frames, shard, tcp)
        else:
            more = self._push_pcapng(handle, max_frames, shard, tcp)
        if not more:
            self._done = True
            self._buf, self._pos = b"", 0
        elif self._map is not None and self._pos - self._released >= _RELEASE_EVERY:
            self._release()
        return more

    def _release(self) -> None:
        upto = self._pos & ~(mmap.PAGESIZE - 1)
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED") and upto > self._released:
            try:
                self._map.madvise(mmap.MADV_DONTNEED, self._released, upto - self._released)
            except (OSError, ValueError):
                pass
            self._released = upto

    def _anomaly(self, kind: str, message: str, frame: int | None = None) -> None:
        self.anomalies.append(Anomaly(layer="capture", kind=kind, message=message, frame=frame))

    def _refill(self, buf: _Buffer, pos: int, need: int) -> bytes | None:
        """Return the unread part of `buf` followed by more file data, or None at the end of the file.

        Read errors and gzip errors are recorded as anomalies and treated as the end of the file. A mapped
        file is all in `buf` already.
        """
        if self._map is not None:
            return None
        try:
            data = self._read(max(self._chunk, need))
        except zlib.error as e:
            self._anomaly("corrupt-gzip", f"gzip data is corrupt after {self.frames_read} frames: {e}")
            return None
        except (OSError, EOFError) as e:
            self._anomaly("read-error", f"read failed after {self.frames_read} frames: {e}")
            return None
        if not data:
            return None
        return buf[pos:] + data

    def _end(self, buf: _Buffer, pos: int, partial_frame: int | None) -> None:
        """Record what is wrong with the end of the file, if anything."""
        left = len(buf) - pos
        stopped_early = bool(self.anomalies) and self.anomalies[-1].kind in ("corrupt-gzip", "read-error")
        if left and not stopped_early:
            what = f"frame {partial_frame}" if partial_frame is not None else "a block"
            self._anomaly(
                "truncated",
                f"the file ends in the middle of {what} ({left} bytes of it present)",
                partial_frame,
            )
        elif self._gzip is not None and self._gzip.truncated and not stopped_early:
            self._anomaly("truncated", "the gzip stream ends before its end marker", None)
        self._buf = b""
        self._pos = 0

    def _push_pcap(
        self, handle: Handle, max_frames: int, shard: tuple[int, int], tcp: Callable[..., object] | None
    ) -> bool:
        buf, pos = self._buf, self._pos
        unpack = self._layout.pcap_rec.unpack_from
        divisor = float(self._pcap_divisor)
        link_type = self.link_types[0]
        rec_len = self._pcap_rec_len
        limit = self._pcap_limit
        number = self.frames_read
        stop = number + max_frames
        walk = _fastwalk.walk_pcap if _fastwalk is not None and self.use_c else None
        big_endian = self._layout is _LAYOUTS[">"]
        while True:
            end = len(buf)
            last = end - rec_len
            if walk is not None:
                # The C walker takes the well-formed records; the loop below takes whatever it stops at.
                pos, walked, nbytes, ts = walk(
                    handle,
                    tcp,
                    buf,
                    pos,
                    rec_len,
                    big_endian,
                    divisor,
                    limit,
                    link_type,
                    number,
                    stop,
                    *shard,
                )
                if walked > number:
                    self.frames_read, self.bytes_read = walked, self.bytes_read + nbytes
                    self._buf, self._pos = buf, pos
                    self.last_ts = ts
                    number = walked
            # Records are back to back, so the captured bytes are counted from positions, not per frame.
            pos0, number0 = pos, number
            caplen = 0
            try:
                while pos <= last and number < stop:
                    sec, frac, caplen, orig_len = unpack(buf, pos)
                    start = pos + rec_len
                    nxt = start + caplen
                    if nxt > end or caplen > limit:
                        break
                    number += 1
                    pos = nxt
                    handle(number, sec + frac / divisor, link_type, buf, start, nxt, orig_len, 0)
                else:
                    caplen = 0
            finally:
                self.bytes_read += pos - pos0 - rec_len * (number - number0)
                self.frames_read = number
                self._buf, self._pos = buf, pos
                if number > number0:
                    self.last_ts = None  # the handle saw the last frames itself
            if number >= stop:
                return True
            if caplen > limit:
                self._anomaly(*_oversized(number + 1, caplen, limit), number + 1)
                return False
            more = self._refill(buf, pos, rec_len + caplen)
            if more is None:
                self._end(buf, pos, number + 1)
                return False
            buf, pos = more, 0

    def _push_pcapng(
        self, handle: Handle, max_frames: int, shard: tuple[int, int], tcp: Callable[..., object] | None
    ) -> bool:
        buf, pos = self._buf, self._pos
        number = self.frames_read
        nbytes = self.bytes_read
        stop = number + max_frames
        walk = _fastwalk.walk_pcapng if _fastwalk is not None and self.use_c else None
        try:
            while True:
                layout = self._layout
                epb = layout.epb.unpack_from
                u32 = layout.u32.unpack_from
                ifaces = self._ifaces
                end = len(buf)
                if walk is not None:
                    # The C walker takes the well-formed Enhanced Packet Blocks; the loops below the rest.
                    big_endian = layout is _LAYOUTS[">"]
                    pos, walked, walked_bytes, ts = walk(
                        handle, tcp, buf, pos, big_endian, ifaces, number, stop, *shard
                    )
                    if walked > number:
                        number, nbytes = walked, nbytes + walked_bytes
                        self.last_ts = ts
                    if number >= stop:
                        return True
                python_from = number
                # Fast path: whole, well-formed Enhanced Packet Blocks.
                last = end - 28
                while pos <= last and number < stop:
                    btype, blen, iid, ts_high, ts_low, caplen, orig_len = epb(buf, pos)
                    nxt = pos + blen
                    if btype != 6 or nxt > end:
                        break
                    try:
                        link_type, divisor, offset, limit, index = ifaces[iid]
                    except IndexError:
                        break
                    if caplen > MAX_PACKET or blen < caplen + 32 or blen & 3 or u32(buf, nxt - 4)[0] != blen:
                        break
                    number += 1
                    nbytes += caplen
                    start = pos + 28
                    pos = nxt
                    ts = ((ts_high << 32) | ts_low) / divisor + offset
                    handle(number, ts, link_type, buf, start, start + caplen, orig_len, index)
                if number > python_from:
                    self.last_ts = None  # the handle saw the last frames itself
                if number >= stop:
                    return True
                # Slow path: one block of any kind, a refill, or the end.
                btype = u32(buf, pos)[0] if end - pos >= 4 else -1
                need = 12
                if end - pos >= 12:
                    if btype == _SHB:
                        bom = buf[pos + 8 : pos + 12]
                        if bom not in (_BOM_LE, _BOM_BE):
                            self._anomaly(
                                "corrupt-block",
                                f"section header after frame {number} has a bad byte-order magic {bom.hex(' ')}",
                            )
                            return False
                        layout = _LAYOUTS["<" if bom == _BOM_LE else ">"]
                    blen = layout.u32.unpack_from(buf, pos + 4)[0]
                    if blen < 12 or blen & 3 or blen > _MAX_BLOCK:
                        self._anomaly(
                            "corrupt-block",
                            f"block of type {btype:#x} after frame {number} has an impossible length {blen}",
                        )
                        return False
                    need = blen
                    if pos + blen <= end:
                        got = self._block(btype, buf, pos, blen, layout, number + 1)
                        if isinstance(got, _Problem):
                            frame = number + 1 if btype in _PACKET_BLOCKS else None
                            self._anomaly(got.kind, got.message, frame)
                            return False
                        pos += blen
                        if got is not None:
                            number += 1
                            nbytes += len(got[3])
                            handle(got[0], got[1], got[2], got[3], 0, len(got[3]), got[4], got[5])
                            self.last_ts = None
                        elif btype == _DSB:
                            return True  # let the caller apply the new secrets before the next frame
                        continue
                more = self._refill(buf, pos, need)
                if more is None:
                    self._end(buf, pos, number + 1 if btype in _PACKET_BLOCKS else None)
                    return False
                buf, pos = more, 0
        finally:
            self.frames_read, self.bytes_read = number, nbytes
            self._buf, self._pos = buf, pos

    def _block(
        self, btype: int, buf: _Buffer, pos: int, blen: int, layout: _Layout, number: int
    ) -> RawFrame | _Problem | None:
        """Handle one whole pcapng block: a frame tuple for a packet block, a _Problem, or None."""
        if layout.u32.unpack_from(buf, pos + blen - 4)[0] != blen:
            return _corrupt(
                f"block of type {btype:#x} before frame {number} has a trailing length that disagrees "
                f"with its header ({blen})"
            )
        if btype not in _PACKET_BLOCKS:
            return self._meta_block(btype, buf, pos, blen, layout)
        if btype == _SPB:
            if blen < 16:
                return _corrupt(f"simple packet block of {blen} bytes for frame {number}")
            if not self._ifaces:
                return _corrupt(
                    f"simple packet block for frame {number} comes before any interface description"
                )
            orig_len = layout.spb.unpack_from(buf, pos)[2]
            link_type, _, _, limit, index = self._ifaces[0]
            caplen = orig_len if limit == MAX_PACKET else min(orig_len, limit)
            if caplen > MAX_PACKET:
                return _oversized(number, caplen, MAX_PACKET)
            if caplen + 16 > blen:
                return _corrupt(
                    f"simple packet block of {blen} bytes is too short for the {caplen} bytes of frame {number}"
                )
            return (number, 0.0, link_type, buf[pos + 12 : pos + 12 + caplen], orig_len, index)
        if blen < 32:
            return _corrupt(f"packet block of {blen} bytes for frame {number}")
        if btype == _EPB:
            _, _, iid, ts_high, ts_low, caplen, orig_len = layout.epb.unpack_from(buf, pos)
        else:
            _, _, iid, _, ts_high, ts_low, caplen, orig_len = layout.pb.unpack_from(buf, pos)
        if iid >= len(self._ifaces):
            return _corrupt(f"frame {number} is for interface {iid}, which its section does not describe")
        link_type, divisor, offset, limit, index = self._ifaces[iid]
        if caplen > MAX_PACKET:
            return _oversized(number, caplen, MAX_PACKET)
        if caplen + 32 > blen:
            return _corrupt(
                f"packet block of {blen} bytes is too short for the {caplen} bytes of frame {number}"
            )
        ts = ((ts_high << 32) | ts_low) / divisor + offset
        return (number, ts, link_type, buf[pos + 28 : pos + 28 + caplen], orig_len, index)

    def close(self) -> None:
        """Stop iterating and close the file."""
        if self._raw is not None:
            self._raw.close()
        self._buf = b""
        if self._gzip is not None:
            self._gzip.close()
        if self._map is not None:
            self._map.close()
            self._map = None
        self._fh.close()

    def __enter__(self) -> CaptureFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<CaptureFile {self.path!r} {self.format} link_types={self.link_types}>"


def _corrupt(message: str) -> _Problem:
    return _Problem("corrupt-block", message)


def _oversized(number: int, caplen: int, limit: int) -> _Problem:
    return _Problem(
        "oversized-packet",
        f"frame {number} claims {caplen} captured bytes, more than the limit of {limit}; "
        "the rest of the file cannot be read",
    )


def _options(buf: _Buffer, pos: int, end: int, layout: _Layout) -> Iterator[tuple[int, bytes]]:
    """Yield (code, value) of the pcapng options between pos and end; stop quietly at a malformed one."""
    unpack = layout.opt.unpack_from
    while pos + 4 <= end:
        code, length = unpack(buf, pos)
        if code == 0:
            return
        start = pos + 4
        if start + length > end:
            return
        yield code, buf[start : start + length]
        pos = start + length + (-length & 3)


def open_capture(
    path: str | os.PathLike[str], *, chunk_size: int = 1 << 22, map_file: bool = True
) -> CaptureFile:
    """Open a capture file; the same as `CaptureFile(path)`."""
    return CaptureFile(path, chunk_size=chunk_size, map_file=map_file)
