"""The session as a front end sees it: the order of events, ids fixed at a flow's first frame (with any number
of shards), progress, stop() from another thread, first events long before the end of a large capture, and a
file source and a live source giving the same flows for the same traffic. Nothing here is timed."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from helpers_pcap import write_pcap  # type: ignore[import-not-found]
from live_helpers import can_capture, http_server  # type: ignore[import-not-found]
from session_helpers import Read, many_flows, read

from tlsinspect.capture.inputs import read_keylog
from tlsinspect.model import Flow
from tlsinspect.session import (
    END_OF_FILE,
    CaptureEnded,
    CaptureStarted,
    FileSource,
    FlowFinished,
    FlowUpdated,
    Progress,
    Session,
    SessionOptions,
)
from tlsinspect.session.interface_source import InterfaceOptions, InterfaceSource

ROOT = Path(__file__).resolve().parent.parent.parent
LAB = ROOT / "captures" / "observer-lab.pcapng"
LAB_KEYLOG = ROOT / "captures" / "observer-lab.keylog"
BASIC = ROOT / "captures" / "basic-tls12-tls13.pcap"


@pytest.fixture(scope="module")
def big_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(write_pcap(tmp_path_factory.mktemp("many") / "many.pcap", many_flows(100_000)))


def check_order(r: Read) -> None:
    """CaptureStarted first, CaptureEnded last; every update of a flow before its one final flow; progress
    monotone; every flow finished exactly once; frames read = frames accounted."""
    assert isinstance(r.events[0], CaptureStarted) and isinstance(r.events[-1], CaptureEnded)
    assert sum(isinstance(e, CaptureEnded | CaptureStarted) for e in r.events) == 2
    finished: set[int] = set()
    for e in r.events:
        if isinstance(e, FlowUpdated):
            assert e.flow.id not in finished, f"update of flow {e.flow.id} after its final flow"
        elif isinstance(e, FlowFinished):
            assert e.flow.id not in finished
            finished.add(e.flow.id)
    assert sorted(finished) == list(range(1, len(finished) + 1))
    for a, b in zip(r.progress, r.progress[1:], strict=False):
        assert b.frames >= a.frames and b.bytes_read >= a.bytes_read and b.finished_flows >= a.finished_flows
    s = r.summary
    assert s.frames_in_flows + s.frames_not_ip + s.frames_other_transport + s.frames_undecodable <= s.frames


def same_flow(update: Flow, final: Flow) -> bool:
    return (
        update.client_ip,
        update.client_port,
        update.server_ip,
        update.server_port,
        update.first_frame,
    ) == (
        final.client_ip,
        final.client_port,
        final.server_ip,
        final.server_port,
        final.first_frame,
    )


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_updates_precede_the_final_flow_with_the_same_id(jobs: int) -> None:
    r = read(LAB, keylog=read_keylog(LAB_KEYLOG), updates=True, jobs=jobs)
    check_order(r)
    final = {f.id: f for f in r.flows}
    assert r.updates, "the lab capture's flows change between steps"
    for u in r.updates:
        assert same_flow(u, final[u.id]), f"update {u.id} is not the flow that finishes with that id"
    assert r.ended is not None and r.ended.reason == END_OF_FILE


def test_ids_and_flows_equal_across_jobs(big_capture: Path) -> None:
    one = read(big_capture, updates=True, jobs=1)
    two = read(big_capture, updates=True, jobs=2)
    check_order(one)
    check_order(two)
    assert two.flows == one.flows
    assert two.summary.frames == one.summary.frames == 200_000
    assert two.summary.flows == one.summary.flows == 100_000
    final = {f.id: f for f in one.flows}
    for u in two.updates:
        assert same_flow(u, final[u.id])


def test_first_events_long_before_the_end(big_capture: Path) -> None:
    """On a capture of 100k flows, flows are seen (updated) in the first step and finished ones arrive while
    most of the file is still unread."""
    for jobs in (1, 2):
        r = read(big_capture, updates=True, jobs=jobs)
        frames_at_first_update = frames_at_first_finished = None
        seen_progress = 0
        batch_has: dict[str, bool] = {}
        for e in r.events:
            if isinstance(e, FlowUpdated) and not batch_has.get("u"):
                batch_has["u"] = True
            elif isinstance(e, FlowFinished) and not batch_has.get("f"):
                batch_has["f"] = True
            elif isinstance(e, Progress):
                seen_progress = e.frames
                if batch_has.get("u") and frames_at_first_update is None:
                    frames_at_first_update = seen_progress
                if batch_has.get("f") and frames_at_first_finished is None:
                    frames_at_first_finished = seen_progress
        assert frames_at_first_update is not None and frames_at_first_update <= 20_000, jobs
        assert frames_at_first_finished is not None and frames_at_first_finished <= 40_000, jobs
        assert r.batches > 10


@pytest.mark.parametrize("jobs", [1, 2])
def test_stop_from_another_thread(big_capture: Path, jobs: int) -> None:
    """stop() from another thread ends the read early with CaptureEnded("stopped"); what was read is fully
    accounted (every frame read belongs to a finished flow here)."""
    events = []
    session = Session(FileSource(big_capture, jobs=jobs), SessionOptions(updates=True))
    stopper = None
    with session:
        for batch in session.batches():
            events.extend(batch)
            if stopper is None and any(isinstance(e, FlowFinished) for e in batch):
                stopper = threading.Thread(target=session.stop)
                stopper.start()
                stopper.join(5)
    assert stopper is not None
    end = events[-1]
    assert isinstance(end, CaptureEnded) and end.reason == "stopped"
    assert 0 < end.summary.frames < 200_000
    assert end.summary.frames_in_flows == end.summary.frames
    finished = [e.flow for e in events if isinstance(e, FlowFinished)]
    assert len(finished) == end.summary.flows and sum(f.frames for f in finished) == end.summary.frames


def test_batches_usable_from_a_worker_thread() -> None:
    """A TUI runs batches() in a worker thread and hands each batch to the UI thread."""
    got: list[tuple[object, ...]] = []

    def work() -> None:
        with Session(FileSource(BASIC), SessionOptions()) as s:
            got.extend(s.batches())

    t = threading.Thread(target=work)
    t.start()
    t.join(30)
    assert not t.is_alive()
    kinds = [type(e) for b in got for e in b]
    assert kinds[0] is CaptureStarted and kinds[-1] is CaptureEnded and kinds.count(FlowFinished) == 2


def test_open_errors_are_one_line(tmp_path: Path) -> None:
    from tlsinspect.errors import CaptureError

    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    with pytest.raises(CaptureError) as e, Session(FileSource(bad)) as s:
        list(s.batches())
    assert "\n" not in str(e.value)


@pytest.mark.live
@pytest.mark.skipif(not can_capture(), reason="no capture rights (run as root, CI does)")
def test_file_and_live_sources_give_the_same_flows(tmp_path: Path) -> None:
    """The same traffic through an interface source (saved with -w) and then through a file source of what it
    saved: the same flows, ids and content."""
    out = tmp_path / "live.pcapng"
    with http_server() as port:
        opts = InterfaceOptions(iface="lo", bpf=f"tcp port {port}", duration=3.0, write=str(out))
        session = Session(InterfaceSource(opts), SessionOptions(updates=True))

        def traffic() -> None:
            time.sleep(0.3)
            for i in range(4):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                    c.sendall(f"GET /{i}?password=hunter{i} HTTP/1.1\r\nHost: shop.example\r\n\r\n".encode())
                    while c.recv(4096):
                        pass

        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        events = []
        with session:
            for batch in session.batches():
                events.extend(batch)
        t.join(10)
    live_flows = sorted((e.flow for e in events if isinstance(e, FlowFinished)), key=lambda f: f.id)
    assert len(live_flows) == 4 and all(f.http for f in live_flows)
    assert isinstance(events[-1], CaptureEnded) and events[-1].reason == "duration"
    from_file = read(out).flows
    key = lambda f: (f.id, f.client_port, f.frames, f.bytes_client, f.bytes_server, f.http, f.exposures)  # noqa: E731
    assert [key(f) for f in from_file] == [key(f) for f in live_flows]
