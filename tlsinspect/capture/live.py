"""Live capture from a network interface: the only module of tlsinspect that imports scapy.

scapy opens the Linux packet socket (`L2ListenSocket`) and compiles and attaches the BPF filter (through
libpcap). Frames are then read as raw bytes straight from that socket, with no scapy dissection, by a sniffer
thread that puts ``(ts, link_type, data, orig_len)`` tuples on a bounded `queue.Queue`. When the pipeline falls
behind and the queue is full, the frame is dropped and counted (`LiveCapture.queue_dropped`); the kernel's own
drop count (PACKET_STATISTICS) is read from the socket. Neither is ever silent: the interface source (`tlsinspect.session.interface_source`) reports both.

Errors that stop a capture before it starts are `CaptureError` with a one-line message that says how to fix
them: no permission, unknown interface, bad filter.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tlsinspect.errors import CaptureError

__all__ = [
    "ARPHRD_TO_LINKTYPE",
    "InterfaceInfo",
    "LiveCapture",
    "LiveFrame",
    "check_filter",
    "interface_names",
    "list_interfaces",
    "permission_fix",
]

LiveFrame = tuple[float, int, bytes, int]
"""(ts, link_type, data, orig_len) as the sniffer thread queues it."""

ARPHRD_TO_LINKTYPE: dict[int, int] = {
    1: 1,  # ARPHRD_ETHER -> LINKTYPE_ETHERNET
    6: 1,  # ARPHRD_IEEE802
    772: 1,  # ARPHRD_LOOPBACK: Linux gives lo a zeroed Ethernet header
    65534: 101,  # ARPHRD_NONE (tun, wireguard): raw IP
    776: 101,  # ARPHRD_SIT
    778: 101,  # ARPHRD_IPGRE
    768: 101,  # ARPHRD_TUNNEL
    769: 101,  # ARPHRD_TUNNEL6
    803: 127,  # ARPHRD_IEEE80211_RADIOTAP
    801: 105,  # ARPHRD_IEEE80211
    824: 253,  # ARPHRD_NETLINK
}
"""Linux ARPHRD_* hardware types -> pcap LINKTYPE_* values, for what a PF_PACKET SOCK_RAW socket returns."""

LINKTYPE_NAMES = {
    1: "Ethernet",
    101: "raw IP",
    105: "802.11",
    113: "Linux cooked",
    127: "802.11 radiotap",
    253: "netlink",
}

_SOL_PACKET = 263
_PACKET_STATISTICS = 6
_PACKET_AUXDATA = 8
_SO_TIMESTAMPNS = 35
_PACKET_OUTGOING = 4
_TP_STATUS_VLAN_VALID = 0x10
_TP_STATUS_VLAN_TPID_VALID = 0x40
_AUXDATA = struct.Struct("IIIHHHH")  # status, len, snaplen, mac, net, vlan_tci, vlan_tpid
_TIMESPEC = struct.Struct("qq")
_STATS = struct.Struct("II")
_SNAP = 262144
_SO_RCVBUFFORCE = 33
DEFAULT_BUFFER = 64 << 20
"""Socket receive buffer for a live capture (scapy's default, 64 KiB, drops frames at a few hundred TLS
connections per second on loopback)."""
_ANC = socket.CMSG_SPACE(_AUXDATA.size) + socket.CMSG_SPACE(_TIMESPEC.size) + 64


def _quiet_scapy() -> None:
    """scapy logs warnings at import (routes, IPv6, libpcap); keep stderr to our own one-line messages."""
    for name in ("scapy", "scapy.runtime", "scapy.loading", "scapy.interactive"):
        logging.getLogger(name).setLevel(logging.ERROR)


def permission_fix() -> str:
    """The one-line fix for a missing capture permission, naming this interpreter."""
    py = os.path.realpath(sys.executable)
    return f"run it with sudo, or grant this Python the capture capabilities once: sudo setcap cap_net_raw,cap_net_admin+eip {py}"


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    """One capture interface as `tlsinspect interfaces` lists it."""

    name: str
    index: int
    link_type: int | None
    """pcap LINKTYPE_* of what a capture on it returns; None when the hardware type is not known here."""
    hardware_type: int
    """Linux ARPHRD_* value (/sys/class/net/NAME/type)."""
    up: bool
    addresses: tuple[str, ...] = field(default=())
    mac: str | None = None

    @property
    def link_type_name(self) -> str:
        if self.link_type is None:
            return f"unknown (ARPHRD {self.hardware_type})"
        return LINKTYPE_NAMES.get(self.link_type, f"linktype {self.link_type}")


def _sys_read(name: str, attr: str) -> str | None:
    try:
        with open(f"/sys/class/net/{name}/{attr}", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


def interface_names() -> list[str]:
    """Names of the network interfaces of this host (/sys/class/net, else socket.if_nameindex)."""
    try:
        return sorted(os.listdir("/sys/class/net"))
    except OSError:
        try:
            return sorted(n for _, n in socket.if_nameindex())
        except OSError:
            return []


def list_interfaces() -> list[InterfaceInfo]:
    """The capture interfaces: name, link type, state and addresses (addresses from scapy's interface table)."""
    ips: dict[str, tuple[str, ...]] = {}
    try:
        _quiet_scapy()
        import scapy.arch  # noqa: F401 - loads the interface provider
        from scapy.config import conf

        for name, iface in (conf.ifaces or {}).items():
            addrs: list[str] = []
            for fam in (4, 6):
                addrs.extend(iface.ips.get(fam, []))
            ips[str(name)] = tuple(addrs)
    except Exception:  # noqa: BLE001 - addresses are a nicety; the list still comes from /sys
        pass
    out = []
    for name in interface_names():
        hw = _sys_read(name, "type")
        hwt = int(hw) if hw and hw.isdigit() else -1
        flags = _sys_read(name, "flags") or "0x0"
        try:
            up = bool(int(flags, 16) & 0x1)
        except ValueError:
            up = False
        idx = _sys_read(name, "ifindex")
        mac = _sys_read(name, "address")
        out.append(
            InterfaceInfo(
                name=name,
                index=int(idx) if idx and idx.isdigit() else 0,
                link_type=ARPHRD_TO_LINKTYPE.get(hwt),
                hardware_type=hwt,
                up=up,
                addresses=ips.get(name, ()),
                mac=mac or None,
            )
        )
    return out


def _check_interface(name: str) -> None:
    names = interface_names()
    if name not in names:
        raise CaptureError(
            f"no interface {name!r}; capture interfaces: {', '.join(names) or '(none found)'} (see `tlsinspect interfaces`)"
        )


def check_filter(expr: str, link_type: int = 1) -> None:
    """Compile a BPF filter with libpcap (no privileges needed). Raises CaptureError with libpcap's message."""
    _quiet_scapy()
    try:
        from scapy.arch.common import compile_filter
        from scapy.error import Scapy_Exception
    except ImportError as e:  # pragma: no cover - scapy is installed with the live extra
        raise CaptureError(f"live capture needs scapy: pip install 'tlsinspect[live]' ({e})") from e
    try:
        prog = compile_filter(expr, linktype=link_type)
    except ImportError as e:
        raise CaptureError(
            f"cannot compile the BPF filter: {e} (install libpcap: apt install libpcap0.8)"
        ) from e
    except Scapy_Exception as e:
        raise CaptureError(f"bad BPF filter: {e} (syntax: man pcap-filter)") from e
    with contextlib.suppress(Exception):
        from scapy.arch.common import free_filter

        free_filter(prog)


class LiveCapture:
    """Sniff an interface in a background thread into a bounded queue of raw frames.

    Args:
        iface: interface name (see `list_interfaces`).
        bpf: optional BPF filter expression, applied in the kernel.
        queue_size: frames the queue holds; beyond it frames are dropped and counted in `queue_dropped`.
        count: stop after this many frames were captured (0: no limit).
        promisc: put the interface in promiscuous mode.
        buffer_size: kernel receive buffer asked for, in bytes; it absorbs bursts while the analysis holds the
            GIL. Above net.core.rmem_max it needs CAP_NET_ADMIN (SO_RCVBUFFORCE), else rmem_max is used.

    `open()` raises CaptureError for an unknown interface, a bad filter or missing permission; `start()` runs
    the thread; `stop()` ends it and closes the socket. Consume `queue`; `done` is set once the thread has
    stopped (count reached, stop() called, or a read error, which is kept in `error`).
    """

    def __init__(
        self,
        iface: str,
        *,
        bpf: str | None = None,
        queue_size: int = 20_000,
        count: int = 0,
        promisc: bool = False,
        buffer_size: int = DEFAULT_BUFFER,
    ) -> None:
        self.iface = iface
        self.bpf = bpf
        self.count = count
        self.promisc = promisc
        self.buffer_size = buffer_size
        self.buffer_bytes = 0
        """The socket receive buffer the kernel granted (SO_RCVBUF as read back)."""
        self.queue: queue.Queue[LiveFrame] = queue.Queue(maxsize=queue_size)
        self.queue_size = queue_size
        self.link_type = 1
        self.captured = 0
        """Frames read from the socket (queued or dropped)."""
        self.queue_dropped = 0
        self.kernel_received = 0
        self.kernel_dropped = 0
        self.kernel_stats = False
        """True once the socket gave PACKET_STATISTICS (the kernel counters are meaningful)."""
        self.error: str | None = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self._sock: Any = None
        self._fd: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._skip_outgoing = False
        self._stats_lock = threading.Lock()

    def open(self) -> None:
        """Check the interface and filter, and open the packet socket. Raises CaptureError."""
        _check_interface(self.iface)
        hw = _sys_read(self.iface, "type")
        hwt = int(hw) if hw and hw.isdigit() else 1
        self.link_type = ARPHRD_TO_LINKTYPE.get(hwt, 1)
        if self.bpf:
            check_filter(self.bpf, self.link_type)
        _quiet_scapy()
        try:
            from scapy.arch.linux import L2ListenSocket
            from scapy.error import Scapy_Exception
        except ImportError as e:
            raise CaptureError(
                f"live capture needs scapy on Linux: pip install 'tlsinspect[live]' ({e})"
            ) from e
        try:
            self._sock = L2ListenSocket(iface=self.iface, filter=self.bpf or None, promisc=self.promisc)
        except PermissionError as e:
            raise CaptureError(f"no permission to capture on {self.iface}: {permission_fix()}") from e
        except Scapy_Exception as e:
            raise CaptureError(f"bad BPF filter: {e}") from e
        except OSError as e:
            if e.errno in (1, 13):  # EPERM, EACCES
                raise CaptureError(f"no permission to capture on {self.iface}: {permission_fix()}") from e
            if e.errno == 19:  # ENODEV
                raise CaptureError(
                    f"no interface {self.iface!r}: {e.strerror} (see `tlsinspect interfaces`)"
                ) from e
            raise CaptureError(f"cannot capture on {self.iface}: {e.strerror or e}") from e
        self._fd = self._sock.ins
        self.buffer_bytes = _grow_buffer(self._fd, self.buffer_size)
        hatype = self._fd.getsockname()[3]
        self.link_type = ARPHRD_TO_LINKTYPE.get(hatype, self.link_type)
        # On loopback every packet passes twice (out, then in); keep the incoming copy as libpcap does.
        self._skip_outgoing = hatype == 772
        self._read_stats()  # reset the counters: count from here

    def start(self) -> None:
        if self._sock is None:
            self.open()
        self._thread = threading.Thread(target=self._run, name=f"tlsinspect-sniff-{self.iface}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd = self._fd
        assert fd is not None
        put = self.queue.put_nowait
        full = queue.Full
        stop = self._stop
        skip_out = self._skip_outgoing
        link = self.link_type
        limit = self.count
        try:
            while not stop.is_set():
                r, _, _ = select.select([fd], [], [], 0.1)
                if not r:
                    continue
                # Read what is ready without going back to select for each frame.
                for _ in range(256):
                    try:
                        data, anc, _flags, addr = fd.recvmsg(_SNAP, _ANC, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    if skip_out and addr[2] == _PACKET_OUTGOING:
                        continue
                    ts, orig = _ancillary(anc, data)
                    if orig < 0:
                        data, orig = _vlan(data, anc, orig)
                    self.captured += 1
                    try:
                        put((ts, link, data, orig))
                    except full:
                        self.queue_dropped += 1
                    if limit and self.captured >= limit:
                        stop.set()
                        break
        except OSError as e:
            if not stop.is_set():
                self.error = f"capture on {self.iface} failed: {e.strerror or e}"
        finally:
            self._read_stats()
            self.done.set()

    def _read_stats(self) -> None:
        """Add the kernel's PACKET_STATISTICS (reset on each read) to the running totals."""
        fd = self._fd
        if fd is None:
            return
        with self._stats_lock:
            try:
                raw = fd.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, _STATS.size)
            except OSError:
                return
            packets, drops = _STATS.unpack(raw)
            self.kernel_received += packets
            self.kernel_dropped += drops
            self.kernel_stats = True

    def stats(self) -> dict[str, int | bool]:
        """Counters so far: captured, queue_dropped, kernel_received, kernel_dropped, kernel_stats, queued."""
        if not self.done.is_set():
            self._read_stats()
        return {
            "captured": self.captured,
            "queue_dropped": self.queue_dropped,
            "kernel_received": self.kernel_received,
            "kernel_dropped": self.kernel_dropped,
            "kernel_stats": self.kernel_stats,
            "queued": self.queue.qsize(),
        }

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread (bounded wait) and close the socket; kernel counters are read one last time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sock is not None:
            if self._thread is None:
                self._read_stats()
            with contextlib.suppress(Exception):
                self._sock.close()
            self._sock = None
            self._fd = None

    def __enter__(self) -> LiveCapture:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _grow_buffer(fd: socket.socket, size: int) -> int:
    """Ask for a `size`-byte receive buffer (forced past rmem_max when allowed); returns what was granted."""
    for opt in (_SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            fd.setsockopt(socket.SOL_SOCKET, opt, size)
            break
        except OSError:
            continue
    try:
        return int(fd.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    except OSError:
        return 0


def _ancillary(anc: list[tuple[int, int, bytes]], data: bytes) -> tuple[float, int]:
    """Timestamp (SO_TIMESTAMPNS) and original length (PACKET_AUXDATA) of a frame; orig < 0 flags a VLAN tag."""
    ts = 0.0
    orig = len(data)
    vlan = False
    for level, typ, body in anc:
        if level == socket.SOL_SOCKET and typ == _SO_TIMESTAMPNS and len(body) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(body)
            ts = sec + nsec / 1e9
        elif level == _SOL_PACKET and typ == _PACKET_AUXDATA and len(body) >= _AUXDATA.size:
            status, length, _snap, _mac, _net, tci, _tpid = _AUXDATA.unpack_from(body)
            orig = length
            vlan = bool(status & _TP_STATUS_VLAN_VALID) or tci != 0
    if not ts:
        ts = time.time()
    return ts, (-orig - 1 if vlan else orig)


def _vlan(data: bytes, anc: list[tuple[int, int, bytes]], neg_orig: int) -> tuple[bytes, int]:
    """Put back the 802.1Q tag the kernel stripped (PACKET_AUXDATA), as libpcap does."""
    orig = -neg_orig - 1
    for level, typ, body in anc:
        if level == _SOL_PACKET and typ == _PACKET_AUXDATA and len(body) >= _AUXDATA.size:
            status, _len, _snap, _mac, _net, tci, tpid = _AUXDATA.unpack_from(body)
            if not status & _TP_STATUS_VLAN_TPID_VALID or not tpid:
                tpid = 0x8100
            if len(data) >= 12:
                tag = struct.pack("!HH", tpid, tci)
                return data[:12] + tag + data[12:], orig + 4
    return data, orig
