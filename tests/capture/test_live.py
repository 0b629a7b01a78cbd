"""Live capture pieces: the pcapng writer, key log following and the sniffer on lo (the run loop over them is
tests/session/test_interface_source.py)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from live_helpers import can_capture, exchange

from tlsinspect.capture.files import TLS_KEY_LOG_SECRETS, CaptureFile
from tlsinspect.capture.inputs import KeyLogFollower
from tlsinspect.capture.live import ARPHRD_TO_LINKTYPE, LiveCapture, check_filter, list_interfaces
from tlsinspect.capture.pcapng_writer import PcapngWriter
from tlsinspect.engine.engine import Engine
from tlsinspect.errors import CaptureError

live = pytest.mark.live
needs_capture = pytest.mark.skipif(not can_capture(), reason="no capture rights (run as root, CI does)")

CR = "aa" * 32
LINE1 = f"CLIENT_RANDOM {CR} {'11' * 48}\n"
LINE2 = f"CLIENT_TRAFFIC_SECRET_0 {CR} {'22' * 32}\n"


# -- pcapng writer ---------------------------------------------------------------------------------------------


def test_pcapng_writer_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "w.pcapng"
    with PcapngWriter(path, interface_name="lo") as w:
        w.secrets(b"# header\n")
        w.packet(1_700_000_000.123456, 1, b"\x00" * 14 + b"abc")
        w.secrets(LINE1.encode())
        w.packet(1_700_000_001.5, 101, b"\x45" + b"\x00" * 20, orig_len=1500)
        w.packet(1_700_000_002.0, 1, b"x" * 5)
        w.secrets(b"")  # nothing to write
    assert (w.frames_written, w.secrets_written) == (3, 2)
    cap = CaptureFile(path)
    with cap:
        frames = list(cap)
    assert cap.anomalies == []
    assert cap.format == "pcapng" and cap.link_types == [1, 101]
    assert [(f.number, f.link_type, f.interface) for f in frames] == [(1, 1, 0), (2, 101, 1), (3, 1, 0)]
    assert frames[0].ts == pytest.approx(1_700_000_000.123456, abs=1e-6)
    assert frames[1].orig_len == 1500 and len(frames[1].data) == 21
    assert frames[2].data == b"x" * 5
    assert cap.secrets == [(TLS_KEY_LOG_SECRETS, b"# header\n"), (TLS_KEY_LOG_SECRETS, LINE1.encode())]


def test_pcapng_writer_blocks_are_aligned(tmp_path: Path) -> None:
    """Every block length is a multiple of 4 and repeated in its trailer (pcapng's own framing check)."""
    import struct

    path = tmp_path / "a.pcapng"
    with PcapngWriter(path) as w:
        for n in range(1, 9):
            w.packet(1.0 + n, 1, b"z" * n)
        w.secrets(b"odd length\n")
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        assert blen % 4 == 0 and blen >= 12
        assert struct.unpack_from("<I", data, pos + blen - 4)[0] == blen
        pos += blen
    assert pos == len(data)


@pytest.mark.tshark
def test_pcapng_writer_read_by_tshark(tmp_path: Path) -> None:
    path = tmp_path / "t.pcapng"
    with PcapngWriter(path, interface_name="lo") as w:
        w.secrets(LINE1.encode())
        for i in range(3):
            w.packet(1_700_000_000 + i, 1, b"\x00" * 12 + b"\x08\x00" + b"\x45" + b"\x00" * 19)
    r = subprocess.run(
        [shutil.which("tshark") or "tshark", "-r", str(path)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 3


# -- key log following ----------------------------------------------------------------------------------------


def test_keylog_follower_partial_lines_growth_and_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    fl = KeyLogFollower(str(path))
    assert fl.poll() == b""  # not there yet
    path.write_text(LINE1[:40])
    assert fl.poll() == b""  # no complete line
    with path.open("a") as f:
        f.write(LINE1[40:] + LINE2[:10])
    assert fl.poll() == LINE1.encode()
    assert fl.poll() == b""
    with path.open("a") as f:
        f.write(LINE2[10:])
    assert fl.poll() == LINE2.encode()
    assert fl.lines == 2
    path.write_text("# rewritten\n")  # shrank: read again from the start
    assert fl.poll() == b"# rewritten\n"


# -- interfaces and filters (no privileges needed) -------------------------------------------------------------


def test_list_interfaces_has_loopback() -> None:
    ifaces = {i.name: i for i in list_interfaces()}
    lo = ifaces["lo"]
    assert lo.link_type == 1 and lo.hardware_type == 772 and lo.up
    assert "127.0.0.1" in lo.addresses and lo.link_type_name == "Ethernet"


def test_arphrd_map() -> None:
    assert ARPHRD_TO_LINKTYPE[1] == 1 and ARPHRD_TO_LINKTYPE[772] == 1 and ARPHRD_TO_LINKTYPE[65534] == 101


def test_check_filter() -> None:
    check_filter("tcp port 443 or udp port 53")
    with pytest.raises(CaptureError, match="bad BPF filter.*syntax error"):
        check_filter("tcp prt 443")
    with pytest.raises(CaptureError, match="unknown port"):
        check_filter("tcp port nosuchservice")


def test_unknown_interface() -> None:
    with pytest.raises(CaptureError, match="no interface 'nosuch0'; capture interfaces: .*lo"):
        LiveCapture("nosuch0").open()

    # -- the sniffer on lo ----------------------------------------------------------------------------------------


def _drain(cap: LiveCapture) -> list[tuple[float, int, bytes, int]]:
    out = []
    while not cap.queue.empty():
        out.append(cap.queue.get_nowait())
    return out


@live
@needs_capture
def test_sniffer_loopback_frames_once_each(echo_port: int) -> None:
    cap = LiveCapture("lo", bpf=f"tcp port {echo_port}")
    cap.start()
    try:
        exchange(echo_port)
        time.sleep(0.3)
    finally:
        cap.stop()
    frames = _drain(cap)
    assert cap.link_type == 1 and cap.queue_dropped == 0 and cap.error is None
    assert all(lt == 1 for _, lt, _, _ in frames)
    assert len({d for _, _, d, _ in frames}) == len(
        frames
    )  # the outgoing copy on lo is skipped, as libpcap does
    ts = [t for t, _, _, _ in frames]
    assert ts == sorted(ts) and abs(ts[0] - time.time()) < 10
    assert cap.buffer_bytes >= 1 << 20  # not scapy's 64 KiB: bursts must not overflow the socket
    st = cap.stats()
    assert st["kernel_stats"] is True and st["kernel_dropped"] == 0 and st["captured"] == len(frames)
    eng = Engine()
    for i, (t, lt, d, _) in enumerate(frames, 1):
        eng.process(i, t, lt, d)
    (flow,) = list(eng.finish())
    assert flow.server == f"127.0.0.1:{echo_port}" and flow.bytes_client == 4 and flow.bytes_server == 4
    assert flow.state == "closed"


@live
@needs_capture
def test_sniffer_queue_overflow_is_counted(echo_port: int) -> None:
    cap = LiveCapture("lo", bpf=f"tcp port {echo_port}", queue_size=2)
    cap.start()
    try:
        for _ in range(3):
            exchange(echo_port)
        time.sleep(0.3)
    finally:
        cap.stop()
    assert cap.queue.qsize() == 2
    assert cap.queue_dropped > 0 and cap.captured == 2 + cap.queue_dropped
    assert cap.stats()["queue_dropped"] == cap.queue_dropped


@live
@needs_capture
def test_sniffer_count_limit(echo_port: int) -> None:
    cap = LiveCapture("lo", bpf=f"tcp port {echo_port}", count=4)
    cap.start()
    try:
        exchange(echo_port)
        assert cap.done.wait(5)
    finally:
        cap.stop()
    assert cap.captured == 4 and len(_drain(cap)) == 4
