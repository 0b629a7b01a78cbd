"""A live interface as a source: frames from the sniffer thread's bounded queue (`capture.live`) fed to the
engine, saved with `-w` (`capture.pcapng_writer`), flows reported as they change and when they end: on FIN/RST
(after the engine's short linger), on the idle timeout, or when the capture stops. It stops on `Session.stop()`,
a duration, a frame count, or when the command it runs exits.

Key logs are followed as they grow: a key log file given by the user (or $SSLKEYLOGFILE), and the fresh key log
a child command writes through SSLKEYLOGFILE. New lines are merged into the engine's key log, and written to the
`-w` file as a Decryption Secrets Block before the packets that follow. Because a TLS client logs its secrets
only after it has received the server's handshake, frames are held back briefly (`hold`) while a key log is
followed: a frame is processed once the key logs have been read at least `hold` seconds after it was captured.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from tlsinspect.capture.child import ChildCommand
from tlsinspect.capture.inputs import KeyLogFollower
from tlsinspect.capture.live import LiveCapture, LiveFrame
from tlsinspect.capture.pcapng_writer import PcapngWriter
from tlsinspect.engine.engine import Engine
from tlsinspect.errors import CaptureError
from tlsinspect.model import CaptureInfo
from tlsinspect.parse.keylog import KeyLog
from tlsinspect.session.events import COMMAND_EXITED, COUNT, DURATION
from tlsinspect.session.source import EngineOptions, SourceEnd, Step, StopSignal

TICK = 0.2
"""Seconds between steps: sweep idle/closed flows, report changed and finished flows, check the child."""
KEYLOG_POLL = 0.05
"""Seconds between checks of a followed key log's size."""
DEFAULT_HOLD = 0.5
"""Seconds a frame waits for its secrets when a key log is followed."""
CHILD_DRAIN = 1.0
"""Seconds the capture goes on after the child command exits (its last packets, FIN/ACK)."""
MAX_BATCH = 512
"""Frames processed between two looks at the clock."""


@dataclass
class InterfaceOptions:
    """What a live capture was asked to do (the CLI builds it from its arguments)."""

    iface: str
    bpf: str | None = None
    write: str | None = None
    follow: list[str] = field(default_factory=list)
    """Key log files to follow as they grow (their current content is read at the start)."""
    duration: float | None = None
    count: int = 0
    command: list[str] | None = None
    child_stdout: int | IO[Any] | None = None
    idle_timeout: float = 60.0
    queue_size: int = 20_000
    hold: float | None = None
    """Seconds a frame waits for secrets; None: DEFAULT_HOLD while a key log is followed, else 0."""
    child_drain: float = CHILD_DRAIN


class InterfaceSource:
    ordered = False
    bytes_total = 0

    def __init__(self, opts: InterfaceOptions) -> None:
        self.opts = opts
        self._cap: LiveCapture | None = None
        self._pcap: PcapngWriter | None = None
        self._child: ChildCommand | None = None
        self._engine: Engine | None = None
        self._followers: list[KeyLogFollower] = []
        self._closed = False

    def open(self, eopts: EngineOptions) -> CaptureInfo:
        """Open the interface (and the -w file); raises CaptureError for a setup problem."""
        opts = self.opts
        try:
            self._followers = [KeyLogFollower(p) for p in opts.follow]
            if opts.command:
                self._child = ChildCommand(opts.command, stdout=opts.child_stdout)
                self._followers.append(KeyLogFollower(self._child.keylog_path))
            keylog = eopts.keylog
            if self._followers and keylog is None:
                keylog = KeyLog()
            cap = self._cap = LiveCapture(
                opts.iface, bpf=opts.bpf, queue_size=opts.queue_size, count=opts.count
            )
            cap.open()
            if opts.write:
                try:
                    self._pcap = PcapngWriter(
                        opts.write, application="tlsinspect live", interface_name=opts.iface
                    )
                except OSError as e:
                    raise CaptureError(f"cannot write {opts.write}: {e.strerror or e}") from e
                self._pcap.interface(cap.link_type)
                if keylog is not None:
                    # Written even when empty so that a reader attaches a key log to every flow from the start.
                    self._pcap.secrets(
                        b"# tlsinspect live: TLS key log, continued in later blocks as secrets arrive\n"
                    )
            self._engine = Engine(
                keylog=keylog,
                analyse=eopts.analyse,
                max_flows=eopts.max_flows,
                idle_timeout=opts.idle_timeout,
                track_updates=eopts.updates,
            )
            self._poll_keylogs()
        except BaseException:
            self.close()
            raise
        return CaptureInfo(source=opts.iface, link_types=(cap.link_type,), format="live")

    def steps(self, stop: StopSignal) -> Iterator[Step]:
        cap, engine, opts = self._cap, self._engine, self.opts
        assert cap is not None and engine is not None, "open() first"
        t0 = time.perf_counter()
        hold = opts.hold if opts.hold is not None else (DEFAULT_HOLD if self._followers else 0.0)
        cap.start()
        if self._child is not None:
            self._child.start()
        loop = _Loop(self, stop, hold)
        yield from loop.run()
        # Stop capturing, then process everything captured before the stop.
        cap.stop()
        self._poll_keylogs()
        held = loop.pending
        while True:
            if held is not None:
                frame, held = held, None
            else:
                try:
                    frame = cap.queue.get_nowait()
                except queue.Empty:
                    break
            self._process(frame)
        finished = list(engine.finish(ordered=False))
        child_status = self._child.end() if self._child is not None else None
        yield Step(
            finished=finished, frames=engine.counts["frames"], dropped=cap.queue_dropped + cap.kernel_dropped
        )
        yield Step(
            frames=engine.counts["frames"],
            dropped=cap.queue_dropped + cap.kernel_dropped,
            end=self._end(stop.reason, child_status, time.perf_counter() - t0),
        )

    def _process(self, frame: LiveFrame) -> None:
        engine = self._engine
        assert engine is not None
        ts, lt, data, orig = frame
        engine.process(engine.counts["frames"] + 1, ts, lt, data)
        if self._pcap is not None:
            self._pcap.packet(ts, lt, data, orig)

    def _poll_keylogs(self) -> None:
        engine = self._engine
        assert engine is not None
        for fl in self._followers:
            text = fl.poll()
            if not text:
                continue
            engine.keylog.merge(KeyLog.parse(text))
            if self._pcap is not None:
                self._pcap.secrets(text)

    def _end(self, reason: str, child_status: int | None, elapsed: float) -> SourceEnd:
        cap, engine = self._cap, self._engine
        assert cap is not None and engine is not None
        errors: list[str] = []
        if cap.queue_dropped:
            errors.append(
                f"{cap.queue_dropped} frames dropped: the analysis fell behind and the capture queue "
                f"({cap.queue_size} frames) was full"
            )
        if cap.kernel_dropped:
            errors.append(f"the kernel dropped {cap.kernel_dropped} frames (capture socket buffer full)")
        if cap.error:
            errors.append(cap.error)
        c = engine.counts
        stats = tuple((k, int(v)) for k, v in cap.stats().items())
        return SourceEnd(
            info=CaptureInfo(source=self.opts.iface, link_types=(cap.link_type,), format="live"),
            reason=reason,
            frames=c["frames"],
            bytes=c["bytes"],
            counts=dict(c),
            engine_anomalies=tuple(engine.anomalies),
            flows_evicted=engine.flows_evicted,
            fragments_pending=engine.decoder.defrag.pending,
            capture_errors=tuple(errors),
            child_status=child_status,
            stats=stats,
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._cap is not None:
            self._cap.stop()
        if self._child is not None:
            self._child.end()
        if self._pcap is not None:
            self._pcap.close()


class _Loop:
    """The capture loop of one live source: frames until a stop condition, a step every TICK."""

    def __init__(self, src: InterfaceSource, stop: StopSignal, hold: float) -> None:
        self.src, self.stop, self.hold = src, stop, hold
        self.pending: LiveFrame | None = None
        """The frame held back for its secrets when the loop ended."""

    def run(self) -> Iterator[Step]:
        src, stop, hold = self.src, self.stop, self.hold
        cap, engine, opts, child = src._cap, src._engine, src.opts, src._child
        assert cap is not None and engine is not None
        get, get_nowait, empty = cap.queue.get, cap.queue.get_nowait, queue.Empty
        mono = time.monotonic
        start = mono()
        deadline = start + opts.duration if opts.duration else None
        next_tick = start
        child_exit: float | None = None
        last_poll_wall = time.time()
        while True:
            now = mono()
            if now >= next_tick:
                next_tick = now + TICK
                engine.sweep(time.time())
                finished = list(engine.drain(ordered=False))
                updated = engine.updates()
                if src._pcap is not None:
                    src._pcap.flush()
                if child is not None and child_exit is None and child.exited():
                    child_exit = now
                yield Step(
                    updated=updated,
                    finished=finished,
                    frames=engine.counts["frames"],
                    open_flows=engine.open_count,
                    dropped=cap.queue_dropped + cap.kernel_dropped,
                )
            if stop.is_set():
                return
            if deadline is not None and now >= deadline:
                stop.set(DURATION)
                return
            if child_exit is not None and now >= child_exit + opts.child_drain:
                stop.set(COMMAND_EXITED)
                return
            if cap.done.is_set() and self.pending is None and cap.queue.empty():
                stop.set(COUNT if not cap.error else cap.error)
                return
            if hold and time.time() - last_poll_wall >= KEYLOG_POLL:
                last_poll_wall = time.time()
                src._poll_keylogs()
            if self.pending is None:
                try:
                    self.pending = get(timeout=KEYLOG_POLL if hold else 0.1)
                except empty:
                    continue
            for _ in range(MAX_BATCH):
                if self.pending is None:
                    try:
                        self.pending = get_nowait()
                    except empty:
                        break
                ts = self.pending[0]
                if hold and last_poll_wall < ts + hold:
                    # Its secrets may not be logged yet: wait (briefly, so the loop stays responsive).
                    wait = ts + hold - time.time()
                    if wait > 0:
                        time.sleep(min(wait, KEYLOG_POLL))
                    break
                src._process(self.pending)
                self.pending = None
