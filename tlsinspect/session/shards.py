"""One capture file read by N worker processes, merged back into the stream one engine would give.

Each worker maps the whole file itself and runs the one engine with a shard (k, N): the engine reads every
frame's headers where they lie in the mapping, and passes over (one unpack, no copy) the frames whose 4-tuple
hashes to another shard (`shard_of`, the same for both directions), so each flow lives in exactly one worker.
Passing over the other workers' frames costs about a quarter of a worker's time on the 1 GB benchmark; shipping
frames from a parent over pipes would cost more than that on two cores, and a pcap file cannot be cut at an
arbitrary offset (its records carry no sync marker).

Workers send a message per step (frozen `Flow`s, pickled) over a pipe; a thread per worker moves them to one
queue so that no worker waits on another. The parent then keeps three promises:

- **Ids as one engine gives them, fixed at a flow's first frame.** Ids are 1, 2, ... in order of first frame.
  Every step of worker k carries the (local id, first frame) of the flows born in it and the number of frames
  it has read (its watermark). A flow first seen at frame F gets its id as soon as every other worker's
  watermark has reached F: no worker can still announce a flow that began before it. Its updates and its final
  flow then carry that id.
- **Finished flows in order of first frame**, merged from the workers' ordered streams.
- **One summary**: counters summed; frames that belong to no flow are counted by worker 0 alone. The output is
  the same as with one process, except when the cap on open flows is hit: the cap applies per worker
  (`max_flows // N` each), so which flows are evicted early can differ.

`stop()` ends every worker at one common frame (the furthest any worker had reached, plus one step), so that
the frames read are still the frames accounted. Workers are started with ``fork`` (they inherit the options,
key log and analyser without pickling them); where ``fork`` is not available the file is read in one process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from tlsinspect.capture.files import CaptureFile
from tlsinspect.engine.engine import MAX_CAPTURE_ANOMALIES
from tlsinspect.errors import CaptureError
from tlsinspect.model import Flow, evolve
from tlsinspect.session.events import END_OF_FILE
from tlsinspect.session.reading import FRAMES_PER_BATCH, EngineRun, engine_steps
from tlsinspect.session.source import EngineOptions, Step, StopSignal

POLL = 0.2
"""Seconds the parent waits for a worker's message before it looks at the stop signal again."""


def can_fork() -> bool:
    return "fork" in mp.get_all_start_methods()


def default_jobs() -> int:
    """The number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Worker:
    """The parent's view of one worker."""

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        self.open = 0
        self.run: EngineRun | None = None
        self.born: deque[tuple[int, int]] = deque()
        self.finished: deque[Flow] = deque()
        self.waiting: dict[int, Flow] = {}
        """Updates whose flow has no global id yet, by local id (the latest wins)."""

    @property
    def done(self) -> bool:
        return self.run is not None


class Shards:
    def __init__(self, path: str | os.PathLike[str], opts: EngineOptions, jobs: int, size: int) -> None:
        self.path, self.jobs, self.size = path, jobs, size
        ctx = mp.get_context("fork")
        self._lock = ctx.Lock()
        self._positions = ctx.Array("q", jobs, lock=False)
        self._stop_at = ctx.Value("q", 0, lock=False)
        wopts = replace(opts, max_flows=max(1, opts.max_flows // jobs))
        self._updates = opts.updates
        self._queue: queue.SimpleQueue[tuple[int, tuple[Any, ...]]] = queue.SimpleQueue()
        self._procs: list[Any] = []
        self._threads: list[threading.Thread] = []
        for k in range(jobs):
            recv, send = ctx.Pipe(duplex=False)
            p = ctx.Process(target=self._work, args=(wopts, k, send), daemon=True, name=f"tlsinspect-{k}")
            p.start()
            send.close()
            t = threading.Thread(target=_drain_pipe, args=(recv, k, self._queue), daemon=True)
            t.start()
            self._procs.append(p)
            self._threads.append(t)

    # -- in a worker ------------------------------------------------------------------------------------------

    def _work(self, opts: EngineOptions, k: int, conn: Connection) -> None:
        """Run shard k and send ("step", ...) per step, then ("done", EngineRun)."""
        try:
            run = EngineRun()

            def limit(frames: int) -> int:
                with self._lock:
                    self._positions[k] = frames
                    return int(self._stop_at.value)

            with CaptureFile(self.path) as cap:
                for s in engine_steps(cap, opts, run, shard=(k, self.jobs), limit=limit):
                    conn.send(("step", s.updated, s.finished, s.frames, s.bytes_read, s.open_flows, s.born))
            conn.send(("done", run))
        except BaseException as e:  # reported to the parent, which raises it there
            try:
                conn.send(("error", e))
            except Exception:
                conn.send(("error", RuntimeError(f"{type(e).__name__}: {e}")))
        finally:
            conn.close()

    # -- in the parent ----------------------------------------------------------------------------------------

    def steps(self, stop: StopSignal) -> Iterator[Step]:
        workers = [_Worker() for _ in range(self.jobs)]
        ids: dict[tuple[int, int], int] = {}
        next_id = 1
        stopping = False
        while not all(w.done for w in workers):
            if stop.is_set() and not stopping:
                stopping = True
                with self._lock:
                    self._stop_at.value = max(self._positions) + FRAMES_PER_BATCH
            try:
                k, msg = self._queue.get(timeout=POLL)
            except queue.Empty:
                continue
            w = workers[k]
            updated: list[Flow] = []
            if msg[0] == "step":
                _, upd, fin, w.frames, w.bytes, w.open, born = msg
                w.born.extend(born)
                w.finished.extend(fin)
                if self._updates:
                    for f in (*upd, *fin):
                        w.waiting[f.id] = f
            elif msg[0] == "done":
                w.run = msg[1]
                w.open = 0
            else:
                self._fail(k, msg[1])
            next_id = _give_ids(workers, ids, next_id)
            finished = _merge(workers, ids)
            released = {f.id for f in finished}
            for j, wj in enumerate(workers):
                for lid in [lid for lid in wj.waiting if (j, lid) in ids]:
                    f = wj.waiting.pop(lid)
                    gid = ids[(j, lid)]
                    if gid not in released:
                        updated.append(evolve(f, id=gid) if f.id != gid else f)
            live = [x for x in workers if not x.done]
            yield Step(
                updated=sorted(updated, key=_id),
                finished=finished,
                frames=min(x.frames for x in live) if live else max(x.frames for x in workers),
                bytes_read=min(x.bytes for x in live) if live else max(x.bytes for x in workers),
                open_flows=sum(x.open for x in workers),
            )
        run = EngineRun()
        _merge_runs(run, [w.run for w in workers if w.run is not None])
        reason = stop.reason if stopping else END_OF_FILE
        yield Step(frames=run.frames, bytes_read=run.bytes, end=run.end(os.fspath(self.path), reason))

    def _fail(self, k: int, payload: BaseException) -> None:
        if isinstance(payload, CaptureError):
            raise payload
        # A worker that died (killed, or a crash in native code) or hit a bug: one line for the user, who can
        # read the capture in one process instead.
        raise CaptureError(
            f"cannot read {os.fspath(self.path)!r} with --jobs: worker {k + 1} failed ({payload}); try --jobs 1"
        ) from payload

    def close(self) -> None:
        for p in self._procs:
            if p.is_alive():
                p.terminate()
            p.join(10)
        for t in self._threads:
            t.join(1)


def _give_ids(workers: list[_Worker], ids: dict[tuple[int, int], int], next_id: int) -> int:
    """Give ids, in order of first frame, to every announced flow that no worker can still precede."""
    while True:
        best = -1
        first = 0
        for k, w in enumerate(workers):
            if w.born and (best < 0 or w.born[0][1] < first):
                best, first = k, w.born[0][1]
        if best < 0:
            return next_id
        if any(not w.done and w.frames < first for j, w in enumerate(workers) if j != best):
            return next_id
        lid, _ = workers[best].born.popleft()
        ids[(best, lid)] = next_id
        next_id += 1


def _merge(workers: list[_Worker], ids: dict[tuple[int, int], int]) -> list[Flow]:
    """Release finished flows in order of first frame while every worker that may still send an earlier one has
    something waiting (the workers' streams are each in order)."""
    out: list[Flow] = []
    while True:
        best = -1
        for k, w in enumerate(workers):
            if w.finished:
                if best < 0 or w.finished[0].first_frame < workers[best].finished[0].first_frame:
                    best = k
            elif not w.done:
                return out
        if best < 0:
            return out
        f = workers[best].finished.popleft()
        gid = ids.pop((best, f.id))
        workers[best].waiting.pop(f.id, None)
        out.append(evolve(f, id=gid) if f.id != gid else f)


def _id(f: Flow) -> int:
    return f.id


def _drain_pipe(conn: Connection, k: int, q: queue.SimpleQueue[tuple[int, tuple[Any, ...]]]) -> None:
    """In the parent, one thread per worker: move messages from the pipe to the queue as soon as they arrive."""
    try:
        while True:
            msg = conn.recv()
            q.put((k, msg))
            if msg[0] != "step":
                return
    except (EOFError, OSError):
        q.put((k, ("error", RuntimeError("it ended without finishing its shard"))))
    finally:
        conn.close()


def _merge_runs(run: EngineRun, done: list[EngineRun]) -> None:
    """Combine the workers' runs once all are done (every worker read the same frames)."""
    first = done[0]
    run.format, run.link_types = first.format, first.link_types
    run.frames, run.bytes = first.frames, first.bytes
    run.capture_anomalies = list(first.capture_anomalies)
    run.fragments_pending = first.fragments_pending
    counts: dict[str, int] = {}
    for r in done:
        for key, v in r.counts.items():
            counts[key] = counts.get(key, 0) + v
    run.counts = counts
    anomalies = [a for r in done for a in r.engine_anomalies]
    anomalies.sort(key=lambda a: a.frame if a.frame is not None else -1)
    run.engine_anomalies = anomalies if len(done) == 1 else anomalies[:MAX_CAPTURE_ANOMALIES]
    run.flows_evicted = sum(r.flows_evicted for r in done)
