"""Glue between a frame source and the engine: read a capture file, yield flows, build the summary.

This is the one place where capture I/O meets the sans-IO engine. Front ends (the CLI's text/JSON writers, and
later the TUI) call `read_capture` and consume what it yields; they never touch the engine's mutable state.
"""

from __future__ import annotations

import gc
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tlsinspect.analysis.observer import cross_flow_findings
from tlsinspect.capture.files import TLS_KEY_LOG_SECRETS, CaptureFile
from tlsinspect.engine.engine import Engine
from tlsinspect.model import SEVERITIES, Anomaly, CaptureInfo, Flow, Summary, evolve
from tlsinspect.parse.keylog import KeyLog

Progress = Callable[[int, int], None]
"""Called now and then with (bytes read so far, file size)."""

FRAMES_PER_BATCH = 16384
"""Frames read between two looks at the engine's finished flows (and the progress bar)."""
CROSS_WINDOW = 1024
"""Finished flows held back so findings that span connections (the same host over http and https, a cleartext
hop behind a TLS proxy) can see their neighbours; the older half is released when the window is full."""
CROSS_HISTORY = 1024
"""Flows already written that still serve as context for the ones held back."""
GC_THRESHOLD = (50_000, 20, 100)
"""The cyclic collector's thresholds while a capture is read (Python's default is 700, 10, 10). A read allocates
millions of short-lived objects; at the default the collector ran 160 times per 500k frames and scanned the live
flows each time, 5% of a worker's time. Flows that end are still collected (a finished flow's parsers refer to
each other), only less often: tens of thousands of objects at most wait for it."""


@dataclass
class ReadOptions:
    keylog: KeyLog | None = None
    analyse: Callable[[Flow], Flow] | None = None
    max_flows: int = 50_000
    flow_filter: Callable[[Flow], bool] | None = None
    progress: Progress | None = None
    show_secrets: bool = False
    """Whether finding evidence may quote secrets unmasked."""
    jobs: int = 1
    """Worker processes; flows are sharded by their addresses and ports (tlsinspect.parallel)."""


@dataclass
class ReadResult:
    """Filled while `read_capture` runs; complete once its iterator is exhausted."""

    info: CaptureInfo | None = None
    summary: Summary | None = None
    flows_written: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class EngineRun:
    """What reading a capture through the engine (or through several shards of it) leaves besides flows."""

    format: str = ""
    link_types: tuple[int, ...] = ()
    frames: int = 0
    bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    capture_anomalies: list[Anomaly] = field(default_factory=list)
    engine_anomalies: list[Anomaly] = field(default_factory=list)
    flows_evicted: int = 0
    fragments_pending: int = 0


def engine_flows(
    path: str | os.PathLike[str], opts: ReadOptions, run: EngineRun, *, shard: tuple[int, int] = (0, 1)
) -> Iterator[list[Flow]]:
    """Read a capture through one engine: batches of finished flows in order of first frame, `run` filled as it
    goes (complete once the iterator ends). With a `shard` (k, n), only the flows of shard k are kept."""
    cap = CaptureFile(path)
    engine = Engine(keylog=opts.keylog, analyse=opts.analyse, max_flows=opts.max_flows, shard=shard)
    run.format, run.link_types = cap.format, tuple(cap.link_types)
    size = _size(path)
    handle = engine.process_at
    progress = opts.progress
    with cap:
        secrets_seen = _absorb_secrets(cap, engine, 0)
        more = True
        while more:
            # Batches end at the engine's sweep points, so that a sweep due at a frame the reader passed over
            # (another shard's, with the C walker) happens at that frame, as in one process.
            more = cap.push(
                handle, min(FRAMES_PER_BATCH, engine.frames_to_sweep(cap.frames_read)), shard, engine.tcp_at
            )
            engine.passed(cap.frames_read, cap.last_ts)
            if len(cap.secrets) != secrets_seen:  # a pcapng Decryption Secrets Block: before the next frame
                secrets_seen = _absorb_secrets(cap, engine, secrets_seen)
            run.frames, run.bytes = cap.frames_read, cap.bytes_read
            if progress is not None:
                progress(cap.bytes_read, size)
            batch = list(engine.drain())
            if batch:
                yield batch
        last = list(engine.finish())
        run.format, run.link_types = cap.format, tuple(cap.link_types)
        run.frames, run.bytes = cap.frames_read, cap.bytes_read
        run.counts = dict(engine.counts)
        run.capture_anomalies = list(cap.anomalies)
        run.engine_anomalies = list(engine.anomalies)
        run.flows_evicted = engine.flows_evicted
        run.fragments_pending = engine.decoder.defrag.pending
        if last:
            yield last


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often (`GC_THRESHOLD`), and never over the objects that exist when
    the read starts (modules, tables, the trust store: `gc.freeze`, which also keeps forked workers from
    touching those pages); both undone at the end."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def read_capture(path: str | os.PathLike[str], opts: ReadOptions, result: ReadResult) -> Iterator[Flow]:
    """Yield the flows of a capture file in order of first frame. Raises CaptureError if it cannot be opened.

    With `opts.jobs` > 1 the flows are computed by that many worker processes (tlsinspect.parallel); the flows,
    their ids and the summary are the same as with one.
    """
    with fewer_collections():
        yield from _read_capture(path, opts, result)


def _read_capture(path: str | os.PathLike[str], opts: ReadOptions, result: ReadResult) -> Iterator[Flow]:
    t0 = time.perf_counter()
    run = EngineRun()
    if opts.jobs > 1:
        from tlsinspect.parallel import sharded_flows

        batches = sharded_flows(path, opts, run, opts.jobs)
    else:
        batches = engine_flows(path, opts, run)
    source = os.fspath(path)
    tally = FlowTally()
    flt = opts.flow_filter
    cross = _CrossFlow(opts.show_secrets)
    for batch in batches:
        if result.info is None:
            result.info = CaptureInfo(source=source, link_types=run.link_types, format=run.format)
        for f in cross.push(batch):
            tally.add(f)
            if flt is None or flt(f):
                yield f
    for f in cross.push((), final=True):
        tally.add(f)
        if flt is None or flt(f):
            yield f
    result.info = CaptureInfo(source=source, link_types=run.link_types, format=run.format)
    c = run.counts
    result.summary = tally.summary(
        engine_counts=c,
        frames=run.frames,
        bytes=run.bytes,
        engine_anomalies=len(run.engine_anomalies) + len(run.capture_anomalies),
        elapsed_s=time.perf_counter() - t0,
        flows_evicted=run.flows_evicted,
        capture_anomalies=tuple(run.capture_anomalies) + tuple(run.engine_anomalies),
    )
    result.extra["counts"] = dict(c)
    result.extra["fragments_pending"] = run.fragments_pending


class FlowTally:
    """The per-flow part of a `Summary` (flows, TLS and HTTP flows, anomalies, findings by severity), counted
    over every flow the engine finished, before any --filter; `read` and `live` both keep one."""

    def __init__(self) -> None:
        self.flows = self.tls = self.http = self.anomalies = self.frames_in_flows = 0
        self.severity: dict[str, int] = dict.fromkeys(SEVERITIES, 0)

    def add(self, f: Flow) -> None:
        self.flows += 1
        self.frames_in_flows += f.frames
        if f.tls is not None:
            self.tls += 1
        if f.http:
            self.http += 1
        self.anomalies += len(f.anomalies)
        for x in f.findings:
            self.severity[x.severity] = self.severity.get(x.severity, 0) + 1

    def summary(
        self,
        *,
        engine_counts: dict[str, int],
        frames: int,
        bytes: int,  # noqa: A002 - the Summary field's name
        engine_anomalies: int,
        elapsed_s: float,
        flows_evicted: int,
        capture_anomalies: tuple[Anomaly, ...],
        capture_errors: tuple[str, ...] = (),
    ) -> Summary:
        """The `Summary`, with the engine's frame buckets; `engine_anomalies` counts the anomalies outside flows."""
        c = engine_counts
        return Summary(
            frames=frames,
            bytes=bytes,
            flows=self.flows,
            tls_flows=self.tls,
            http_flows=self.http,
            frames_undecodable=c["undecodable"],
            anomalies=self.anomalies + engine_anomalies,
            findings_by_severity=dict(self.severity),
            elapsed_s=elapsed_s,
            frames_not_ip=c["not_ip"] + c["unsupported_link"],
            frames_other_transport=c["other_transport"] + c["udp_other"],
            frames_in_flows=self.frames_in_flows,
            flows_evicted=flows_evicted,
            capture_errors=capture_errors,
            capture_anomalies=capture_anomalies,
        )


class _CrossFlow:
    """Holds finished flows in a bounded window and adds the cross-connection findings before release."""

    def __init__(self, show_secrets: bool) -> None:
        self.window: list[Flow] = []
        self.history: deque[Flow] = deque(maxlen=CROSS_HISTORY)
        self.show_secrets = show_secrets

    def push(self, flows: Iterable[Flow], *, final: bool = False) -> Iterator[Flow]:
        # One flow at a time, so what is released with what depends on the order of flows only, not on how
        # they were batched (one engine or several shards give the same findings).
        for f in flows:
            self.window.append(f)
            if len(self.window) >= CROSS_WINDOW:
                yield from self._release(CROSS_WINDOW // 2)
        if final:
            yield from self._release(len(self.window))

    def _release(self, n: int) -> Iterator[Flow]:
        if not self.window:
            return
        out, rest = self.window[:n], self.window[n:]
        extra = cross_flow_findings(
            [*self.history, *self.window], show_secrets=self.show_secrets, targets=out
        )
        self.window = rest
        for f in out:
            more = extra.get(f.id)
            if more:
                f = evolve(f, findings=_by_severity(f.findings + more))
            self.history.append(f)
            yield f


class RecentCrossFlow:
    """Cross-connection findings for flows written as soon as they end (live capture): each flow is judged
    against the flows that ended before it (a bounded history), since waiting for later ones would delay it.
    A relation whose other side ends later (an HTTPS page still open when its http:// resource was fetched) is
    therefore found only when the capture is read again from its file."""

    def __init__(self, show_secrets: bool, history: int = 256) -> None:
        self.history: deque[Flow] = deque(maxlen=history)
        self.show_secrets = show_secrets

    def add(self, f: Flow) -> Flow:
        extra = cross_flow_findings([*self.history, f], show_secrets=self.show_secrets, targets=(f,)).get(
            f.id
        )
        if extra:
            f = evolve(f, findings=_by_severity(f.findings + extra))
        self.history.append(f)
        return f


def _by_severity(findings: tuple[Any, ...]) -> tuple[Any, ...]:
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return tuple(sorted(findings, key=lambda x: (-order.get(x.severity, 0), x.rule)))


def _absorb_secrets(cap: CaptureFile, engine: Engine, seen: int) -> int:
    """Key logs embedded in pcapng Decryption Secrets Blocks join the key log as they are read."""
    for stype, data in cap.secrets[seen:]:
        if stype == TLS_KEY_LOG_SECRETS:
            engine.keylog.merge(KeyLog.parse(data))
    return len(cap.secrets)


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
