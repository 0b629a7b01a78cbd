"""`tlsinspect live`: capture an interface and feed the engine as frames arrive.

The run loop (`LiveSession.run`) takes frames from the sniffer thread's bounded queue (`capture.live`), feeds
`Engine.process`, saves them with `-w` (`capture.pcapng_writer`), and hands each flow to the writer when it ends:
on FIN/RST (after the engine's short linger), on the idle timeout, or when the capture stops. It stops on
Ctrl-C, `--duration`, `--count`, or when the `-- COMMAND` child exits.

Key logs are followed as they grow: `--keylog FILE` (or $SSLKEYLOGFILE), and the fresh key log a child command
writes through SSLKEYLOGFILE. New lines are merged into the engine's key log, and written to the `-w` file as a
Decryption Secrets Block before the packets that follow. Because a TLS client logs its secrets only after it has
received the server's handshake, frames are held back briefly (`hold`) while a key log is followed: a frame is
processed once the key logs have been read at least `hold` seconds after it was captured.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import IO, Any

from tlsinspect.errors import CaptureError
from tlsinspect.model import SEVERITIES, CaptureInfo, Flow, Summary
from tlsinspect.parse.keylog import KeyLog
from tlsinspect.runner import FlowTally, RecentCrossFlow

TICK = 0.2
"""Seconds between housekeeping passes: sweep idle/closed flows, write finished ones, check the child."""
KEYLOG_POLL = 0.05
"""Seconds between checks of a followed key log's size."""
DEFAULT_HOLD = 0.5
"""Seconds a frame waits for its secrets when a key log is followed."""
CHILD_DRAIN = 1.0
"""Seconds the capture goes on after the child command exits (its last packets, FIN/ACK)."""
MAX_BATCH = 512


class KeyLogFollower:
    """Read a key log file as it grows: each `poll()` returns the complete new lines (bytes) since the last one.

    A file that shrinks (rewritten) is read again from its start; a missing file is not an error (it may appear
    later). A partial last line waits for its newline.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self._partial = b""
        self.lines = 0

    def poll(self) -> bytes:
        try:
            size = os.stat(self.path).st_size
        except OSError:
            return b""
        if size < self.offset:
            self.offset = 0
            self._partial = b""
        if size == self.offset:
            return b""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(size - self.offset)
        except OSError:
            return b""
        self.offset += len(data)
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        done = data[:cut]
        self.lines += done.count(b"\n")
        return done


@dataclass
class LiveOptions:
    """What `tlsinspect live` was asked to do (the CLI builds it from its arguments)."""

    iface: str
    bpf: str | None = None
    write: str | None = None
    keylog: KeyLog | None = None
    """A key log known up front (already read)."""
    follow: list[str] = field(default_factory=list)
    """Key log files to follow as they grow (their current content is read at the start)."""
    duration: float | None = None
    count: int = 0
    command: list[str] | None = None
    child_stdout: int | IO[Any] | None = None
    analyse: Callable[[Flow], Flow] | None = None
    flow_filter: Callable[[Flow], bool] | None = None
    max_flows: int = 50_000
    idle_timeout: float = 60.0
    queue_size: int = 20_000
    hold: float | None = None
    """Seconds a frame waits for secrets; None: DEFAULT_HOLD while a key log is followed, else 0."""
    child_drain: float = CHILD_DRAIN
    show_secrets: bool = False
    """Whether finding evidence may quote secrets unmasked."""


@dataclass
class LiveResult:
    summary: Summary | None = None
    stop_reason: str = ""
    child_status: int | None = None
    stats: dict[str, Any] = field(default_factory=dict)


class LiveSession:
    """One live capture run. `run()` blocks until a stop condition; `request_stop()` may come from a signal."""

    def __init__(
        self,
        opts: LiveOptions,
        *,
        on_capture: Callable[[CaptureInfo], None] | None = None,
        on_flow: Callable[[Flow], None] | None = None,
    ) -> None:
        self.opts = opts
        self.on_capture = on_capture
        self.on_flow = on_flow
        self._stop = threading.Event()
        self.stop_reason = ""
        self.result = LiveResult()
        self.worst = -1
        self._tally = FlowTally()
        self._cross = RecentCrossFlow(opts.show_secrets)

    def request_stop(self, reason: str = "interrupted") -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    # -- the run ----------------------------------------------------------------------------------------------

    def run(self) -> LiveResult:
        """Capture until a stop condition. Raises CaptureError (before capturing) for a setup problem."""
        from tlsinspect.capture.live import LiveCapture
        from tlsinspect.capture.pcapng_writer import PcapngWriter
        from tlsinspect.engine.engine import Engine

        opts = self.opts
        t0 = time.perf_counter()
        tmpdir: str | None = None
        followers = [KeyLogFollower(p) for p in opts.follow]
        if opts.command and shutil.which(opts.command[0]) is None:
            raise CaptureError(f"cannot run {opts.command[0]!r}: not found (or not executable)")
        if opts.command:
            tmpdir = tempfile.mkdtemp(prefix="tlsinspect-keylog-")
            child_keylog = os.path.join(tmpdir, "sslkeylog.txt")
            fd = os.open(child_keylog, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
            os.close(fd)
            followers.append(KeyLogFollower(child_keylog))
        keylog = opts.keylog
        if followers and keylog is None:
            keylog = KeyLog()
        hold = opts.hold if opts.hold is not None else (DEFAULT_HOLD if followers else 0.0)
        cap = LiveCapture(opts.iface, bpf=opts.bpf, queue_size=opts.queue_size, count=opts.count)
        pcap: PcapngWriter | None = None
        child: subprocess.Popen[bytes] | None = None
        try:
            cap.open()
            if opts.write:
                try:
                    pcap = PcapngWriter(opts.write, application="tlsinspect live", interface_name=opts.iface)
                except OSError as e:
                    raise CaptureError(f"cannot write {opts.write}: {e.strerror or e}") from e
            engine = Engine(
                keylog=keylog, analyse=opts.analyse, max_flows=opts.max_flows, idle_timeout=opts.idle_timeout
            )
            if pcap is not None:
                pcap.interface(cap.link_type)
                if keylog is not None:
                    # Written even when empty so that a reader attaches a key log to every flow from the start.
                    pcap.secrets(
                        b"# tlsinspect live: TLS key log, continued in later blocks as secrets arrive\n"
                    )
            self._poll_keylogs(followers, engine, pcap)
            if self.on_capture is not None:
                self.on_capture(CaptureInfo(source=opts.iface, link_types=(cap.link_type,), format="live"))
            cap.start()
            if opts.command:
                assert tmpdir is not None
                child = self._start_child(opts.command, os.path.join(tmpdir, "sslkeylog.txt"))
            held = self._loop(cap, engine, pcap, followers, child, hold)
            # Stop capturing, then process everything captured before the stop.
            cap.stop()
            self._poll_keylogs(followers, engine, pcap)
            n = engine.counts["frames"]
            q = cap.queue
            while True:
                if held is not None:
                    ts, lt, data, orig = held
                    held = None
                else:
                    try:
                        ts, lt, data, orig = q.get_nowait()
                    except queue.Empty:
                        break
                n += 1
                engine.process(n, ts, lt, data)
                if pcap is not None:
                    pcap.packet(ts, lt, data, orig)
            for f in engine.finish(ordered=False):
                self._emit(f)
            if child is not None:
                self.result.child_status = _end_child(child)
                child = None
            self.result.stats = cap.stats()
            self.result.summary = self._summary(engine, cap, time.perf_counter() - t0)
            self.result.stop_reason = self.stop_reason
            return self.result
        finally:
            cap.stop()
            if child is not None:
                _end_child(child)
            if pcap is not None:
                pcap.close()
            if tmpdir is not None:
                shutil.rmtree(tmpdir, ignore_errors=True)

    def _start_child(self, command: list[str], keylog_path: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["SSLKEYLOGFILE"] = keylog_path
        try:
            return subprocess.Popen(command, env=env, stdout=self.opts.child_stdout)
        except OSError as e:
            raise CaptureError(f"cannot run {command[0]!r}: {e.strerror or e}") from e

    def _loop(
        self, cap: Any, engine: Any, pcap: Any, followers: list[KeyLogFollower], child: Any, hold: float
    ) -> tuple[float, int, bytes, int] | None:
        """Process frames until a stop condition; returns the frame held back for its secrets, if any."""
        opts = self.opts
        q = cap.queue
        get = q.get
        get_nowait = q.get_nowait
        empty = queue.Empty
        process = engine.process
        mono = time.monotonic
        start = mono()
        deadline = start + opts.duration if opts.duration else None
        next_tick = start
        child_exit: float | None = None
        last_poll_wall = time.time()
        pending: tuple[float, int, bytes, int] | None = None
        while True:
            now = mono()
            if now >= next_tick:
                next_tick = now + TICK
                engine.sweep(time.time())
                for f in engine.drain(ordered=False):
                    self._emit(f)
                if pcap is not None:
                    pcap.flush()
                if child is not None and child_exit is None and child.poll() is not None:
                    child_exit = now
            if self._stop.is_set():
                return pending
            if deadline is not None and now >= deadline:
                self.request_stop("duration")
                return pending
            if child_exit is not None and now >= child_exit + opts.child_drain:
                self.request_stop("command exited")
                return pending
            if cap.done.is_set() and pending is None and q.empty():
                self.request_stop("count" if not cap.error else cap.error)
                return None
            if hold and time.time() - last_poll_wall >= KEYLOG_POLL:
                last_poll_wall = time.time()
                self._poll_keylogs(followers, engine, pcap)
            if pending is None:
                try:
                    pending = get(timeout=KEYLOG_POLL if hold else 0.1)
                except empty:
                    continue
            for _ in range(MAX_BATCH):
                if pending is None:
                    try:
                        pending = get_nowait()
                    except empty:
                        break
                ts = pending[0]
                if hold and last_poll_wall < ts + hold:
                    # Its secrets may not be logged yet: wait (briefly, so the loop stays responsive).
                    wait = ts + hold - time.time()
                    if wait > 0:
                        time.sleep(min(wait, KEYLOG_POLL))
                    break
                process(engine.counts["frames"] + 1, ts, pending[1], pending[2])
                if pcap is not None:
                    pcap.packet(ts, pending[1], pending[2], pending[3])
                pending = None

    def _poll_keylogs(self, followers: list[KeyLogFollower], engine: Any, pcap: Any) -> None:
        for fl in followers:
            text = fl.poll()
            if not text:
                continue
            if engine.keylog is None:
                engine.keylog = KeyLog()
            engine.keylog.merge(KeyLog.parse(text))
            if pcap is not None:
                pcap.secrets(text)

    def _emit(self, f: Flow) -> None:
        f = self._cross.add(f)
        self._tally.add(f)
        flt = self.opts.flow_filter
        if flt is not None and not flt(f):
            return
        for x in f.findings:
            self.worst = max(self.worst, SEVERITIES.index(x.severity))
        if self.on_flow is not None:
            self.on_flow(f)

    def _summary(self, engine: Any, cap: Any, elapsed: float) -> Summary:
        c = engine.counts
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
        return self._tally.summary(
            engine_counts=c,
            frames=c["frames"],
            bytes=c["bytes"],
            engine_anomalies=len(engine.anomalies),
            elapsed_s=elapsed,
            flows_evicted=engine.flows_evicted,
            capture_errors=tuple(errors),
            capture_anomalies=tuple(engine.anomalies),
        )


def _end_child(child: subprocess.Popen[bytes]) -> int:
    """The child's exit status, terminating it (then killing it) if it is still running."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(2.0)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(2.0)
    return child.returncode


# -- command line ---------------------------------------------------------------------------------------------


def cmd_live(args: argparse.Namespace) -> int:
    """`tlsinspect live`: see `tlsinspect.cli` for the arguments and exit statuses."""
    from tlsinspect import __version__
    from tlsinspect.cli import EXIT_FAIL_ON, EXIT_INPUT, EXIT_OK, _err, output_setup

    command = list(args.child or [])
    if command and command[0] == "--":
        command = command[1:]
    if args.child and not command:
        _err("nothing to run after `--`; e.g. tlsinspect live -i lo -- curl https://localhost:8443/")
        return EXIT_INPUT
    if args.duration is not None and args.duration <= 0:
        _err("--duration must be a positive number of seconds")
        return EXIT_INPUT
    if args.count < 0:
        _err("--count must be 0 (no limit) or more")
        return EXIT_INPUT
    follow: list[str] = []
    keylog_path = args.keylog or (None if args.no_env_keylog else os.environ.get("SSLKEYLOGFILE"))
    if keylog_path:
        # Followed as it grows; its current content is read first. $SSLKEYLOGFILE may not exist yet (a client
        # creates it); a --keylog file given by name must.
        try:
            with open(keylog_path, "rb"):
                pass
        except FileNotFoundError as e:
            if args.keylog:
                _err(f"cannot read key log {keylog_path}: {e.strerror or e}")
                return EXIT_INPUT
        except OSError as e:
            _err(f"cannot read key log {keylog_path}: {e.strerror or e}")
            return EXIT_INPUT
        follow.append(keylog_path)
    setup = output_setup(args)
    if isinstance(setup, int):
        return setup
    flt, analyzer, out, writer = setup

    def on_flow(f: Flow) -> None:
        writer.flow(f)
        with contextlib.suppress(AttributeError, ValueError):
            out.flush()

    def on_capture(info: CaptureInfo) -> None:
        writer.capture(info, __version__)
        with contextlib.suppress(AttributeError, ValueError):
            out.flush()

    child_stdout: Any = None
    if command and out is sys.stdout:
        child_stdout = sys.stderr.fileno() if _has_fileno(sys.stderr) else subprocess.DEVNULL
    opts = LiveOptions(
        iface=args.interface,
        bpf=args.bpf,
        write=args.write,
        follow=follow,
        duration=args.duration,
        count=args.count,
        command=command or None,
        child_stdout=child_stdout,
        analyse=analyzer,
        flow_filter=flt,
        show_secrets=args.show_secrets,
        max_flows=args.max_flows,
        idle_timeout=args.idle_timeout,
        queue_size=args.queue_size,
    )
    session = LiveSession(opts, on_capture=on_capture, on_flow=on_flow)
    restore = _install_signals(session)
    try:
        result = session.run()
    except CaptureError as e:
        _err(str(e))
        return EXIT_INPUT
    finally:
        restore()
        if out is not sys.stdout:
            out.close()
    assert result.summary is not None
    writer.summary(result.summary)
    st = result.stats
    kern = (
        f"kernel dropped {st.get('kernel_dropped', 0)}" if st.get("kernel_stats") else "kernel drops unknown"
    )
    sys.stderr.write(
        f"tlsinspect: live capture on {args.interface} stopped ({result.stop_reason or 'done'}): "
        f"{st.get('captured', 0)} frames captured, {kern}, queue dropped {st.get('queue_dropped', 0)}\n"
    )
    if result.child_status:
        sys.stderr.write(f"tlsinspect: note: {command[0]} exited with status {result.child_status}\n")
    if args.fail_on and session.worst >= SEVERITIES.index(args.fail_on):
        return EXIT_FAIL_ON
    return EXIT_OK


def _has_fileno(f: Any) -> bool:
    try:
        f.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _install_signals(session: LiveSession) -> Callable[[], None]:
    """Ctrl-C (and SIGTERM) stop the capture cleanly, once; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        if session._stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        session.request_stop("interrupted" if signum == signal.SIGINT else "terminated")

    for s in old:
        signal.signal(s, handler)

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore


def cmd_interfaces(args: argparse.Namespace) -> int:
    """`tlsinspect interfaces`: the capture interfaces, their link type and addresses."""
    import json

    from tlsinspect.capture.live import list_interfaces
    from tlsinspect.cli import EXIT_OK

    ifaces = list_interfaces()
    if getattr(args, "format", "text") == "json":
        doc = [
            {
                "name": i.name,
                "index": i.index,
                "link_type": i.link_type,
                "link_type_name": i.link_type_name,
                "up": i.up,
                "addresses": list(i.addresses),
                "mac": i.mac,
            }
            for i in ifaces
        ]
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        return EXIT_OK
    w = max([4] + [len(i.name) for i in ifaces])
    sys.stdout.write(f"{'name':<{w}}  {'link type':<16}  {'state':<5}  addresses\n")
    for i in ifaces:
        sys.stdout.write(
            f"{i.name:<{w}}  {i.link_type_name:<16}  {'up' if i.up else 'down':<5}  {', '.join(i.addresses) or '-'}\n"
        )
    return EXIT_OK
