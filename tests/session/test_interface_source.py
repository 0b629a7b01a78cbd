"""A live interface as a session source, on lo: flows reported as they end, stop reasons, the -w file, drops."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from live_helpers import can_capture, exchange, http_server

from tlsinspect.capture.files import CaptureFile
from tlsinspect.errors import CaptureError
from tlsinspect.model import Flow
from tlsinspect.session import CaptureEnded, FlowFinished, Session, SessionOptions
from tlsinspect.session.interface_source import InterfaceOptions, InterfaceSource

live = pytest.mark.live
needs_capture = pytest.mark.skipif(not can_capture(), reason="no capture rights (run as root, CI does)")


def run(session: Session, seen: list[tuple[float, Flow]]) -> CaptureEnded:
    """Drive a session to its end as a front end does; finished flows with the time they arrived."""
    ended = None
    with session:
        for batch in session.batches():
            for e in batch:
                if isinstance(e, FlowFinished):
                    seen.append((time.monotonic(), e.flow))
                elif isinstance(e, CaptureEnded):
                    ended = e
    assert ended is not None
    return ended


@live
@needs_capture
def test_session_writes_flows_as_they_end(echo_port: int, tmp_path: Path) -> None:
    """A closed flow is written while an older flow is still open; the idle one ends by timeout; -w matches."""
    seen: list[tuple[float, Flow]] = []
    out = tmp_path / "s.pcapng"
    opts = InterfaceOptions(
        iface="lo", bpf=f"tcp port {echo_port}", duration=5.0, idle_timeout=3.5, write=str(out)
    )
    session = Session(InterfaceSource(opts), SessionOptions(updates=False))
    holder = (
        socket.create_connection
    )  # the long connection is opened in the worker below, after capture starts
    long_conn: list[socket.socket] = []

    def traffic() -> None:
        time.sleep(0.5)
        long_conn.append(holder(("127.0.0.1", echo_port), timeout=5))
        long_conn[0].sendall(b"hold")
        long_conn[0].recv(10)
        time.sleep(0.2)
        exchange(echo_port, b"short")

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    t0 = time.monotonic()
    result = run(session, seen)
    end = time.monotonic()
    t.join(5)
    for c in long_conn:
        c.close()
    assert result.reason == "duration"
    assert [f.id for _, f in seen] == [2, 1]  # written as they end, not in id order
    (t_short, short), (t_long, first) = seen
    assert short.bytes_client == 5 and short.state == "closed" and t_short < end - 1.0
    assert first.bytes_client == 4 and t_long >= t0
    assert result.summary.flows == 2 and result.summary.capture_errors == ()
    cap = CaptureFile(out)
    with cap:
        assert sum(1 for _ in cap) == result.summary.frames


@live
@needs_capture
def test_session_bad_filter_raises_before_capture() -> None:
    with pytest.raises(CaptureError, match="bad BPF filter"):
        run(Session(InterfaceSource(InterfaceOptions(iface="lo", bpf="port port", duration=1))), [])


@live
@needs_capture
def test_session_reports_queue_overflow() -> None:
    """A queue too small for the traffic (and frames held back 1 s): drops are counted and reported."""
    with http_server() as port:
        opts = InterfaceOptions(iface="lo", bpf=f"tcp port {port}", duration=2.0, queue_size=1, hold=1.0)
        session = Session(InterfaceSource(opts), SessionOptions(updates=False))

        def traffic() -> None:
            time.sleep(0.3)
            for i in range(5):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                    c.sendall(f"GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                    while c.recv(4096):
                        pass

        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        result = run(session, [])
        t.join(10)
    s = result.summary
    assert s is not None
    st = dict(result.stats)
    assert st["queue_dropped"] > 0
    assert st["captured"] == s.frames + st["queue_dropped"]
    assert any(
        f"{st['queue_dropped']} frames dropped" in e and "queue (1 frames)" in e for e in s.capture_errors
    )
