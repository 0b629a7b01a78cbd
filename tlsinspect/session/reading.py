"""One engine over one open capture file, step by step: what `FileSource` runs in one process and what each
worker of `shards.py` runs on its shard."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tlsinspect.capture.files import TLS_KEY_LOG_SECRETS, CaptureFile
from tlsinspect.engine.engine import Engine
from tlsinspect.model import Anomaly, CaptureInfo
from tlsinspect.parse.keylog import KeyLog
from tlsinspect.session.source import EngineOptions, SourceEnd, Step, StopSignal

FRAMES_PER_BATCH = 16384
"""Frames read between two steps (a look at the engine's finished and changed flows, and the progress)."""


@dataclass
class EngineRun:
    """What reading a capture through one engine leaves besides flows (sent by a shard to the parent)."""

    format: str = ""
    link_types: tuple[int, ...] = ()
    frames: int = 0
    bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    capture_anomalies: list[Anomaly] = field(default_factory=list)
    engine_anomalies: list[Anomaly] = field(default_factory=list)
    flows_evicted: int = 0
    fragments_pending: int = 0

    def end(self, source: str, reason: str) -> SourceEnd:
        return SourceEnd(
            info=CaptureInfo(source=source, link_types=self.link_types, format=self.format),
            reason=reason,
            frames=self.frames,
            bytes=self.bytes,
            counts=dict(self.counts),
            capture_anomalies=tuple(self.capture_anomalies),
            engine_anomalies=tuple(self.engine_anomalies),
            flows_evicted=self.flows_evicted,
            fragments_pending=self.fragments_pending,
        )


def engine_steps(
    cap: CaptureFile,
    opts: EngineOptions,
    run: EngineRun,
    *,
    shard: tuple[int, int] = (0, 1),
    stop: StopSignal | None = None,
    limit: Callable[[int], int] | None = None,
) -> Iterator[Step]:
    """Read an open capture through one engine: a step every FRAMES_PER_BATCH frames (finished flows in order of
    first frame, changed open flows), `run` filled as it goes and complete once the iterator ends. With a
    `shard` (k, n), only the flows of shard k are kept. `limit()` (shards) gives the frame number to stop at,
    0 for none; `stop` (one engine) ends the read at the next step."""
    engine = Engine(
        keylog=opts.keylog,
        analyse=opts.analyse,
        max_flows=opts.max_flows,
        shard=shard,
        track_updates=opts.updates,
    )
    run.format, run.link_types = cap.format, tuple(cap.link_types)
    handle = engine.process_at
    with cap:
        secrets_seen = _absorb_secrets(cap, engine, 0)
        more = True
        while more:
            n = min(FRAMES_PER_BATCH, engine.frames_to_sweep(cap.frames_read))
            if limit is not None:
                upto = limit(cap.frames_read)
                if upto:
                    if cap.frames_read >= upto:
                        break
                    n = min(n, upto - cap.frames_read)
            # Steps end at the engine's sweep points, so that a sweep due at a frame the reader passed over
            # (another shard's, with the C walker) happens at that frame, as in one process.
            more = cap.push(handle, n, shard, engine.tcp_at)
            engine.passed(cap.frames_read, cap.last_ts)
            if len(cap.secrets) != secrets_seen:  # a pcapng Decryption Secrets Block: before the next frame
                secrets_seen = _absorb_secrets(cap, engine, secrets_seen)
            run.frames, run.bytes = cap.frames_read, cap.bytes_read
            finished = list(engine.drain())
            updated = engine.updates()
            born = engine.born
            if born:
                engine.born = []
            yield Step(updated, finished, cap.frames_read, cap.bytes_read, engine.open_count, born=born)
            if stop is not None and stop.is_set():
                break
        last = list(engine.finish())
        run.format, run.link_types = cap.format, tuple(cap.link_types)
        run.frames, run.bytes = cap.frames_read, cap.bytes_read
        run.counts = dict(engine.counts)
        run.capture_anomalies = list(cap.anomalies)
        run.engine_anomalies = list(engine.anomalies)
        run.flows_evicted = engine.flows_evicted
        run.fragments_pending = engine.decoder.defrag.pending
        born = engine.born
        engine.born = []
        if last or born:
            yield Step((), last, cap.frames_read, cap.bytes_read, 0, born=born)


def _absorb_secrets(cap: CaptureFile, engine: Engine, seen: int) -> int:
    """Key logs embedded in pcapng Decryption Secrets Blocks join the key log as they are read."""
    for stype, data in cap.secrets[seen:]:
        if stype == TLS_KEY_LOG_SECRETS:
            engine.keylog.merge(KeyLog.parse(data))
    return len(cap.secrets)
