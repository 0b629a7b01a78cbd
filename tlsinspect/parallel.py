"""`read --jobs N`: the flows of one capture computed by N worker processes, merged into one ordered stream.

Each worker maps the whole file itself and runs the one engine with a shard (k, N): the engine reads every
frame's headers where they lie in the mapping, and passes over (one unpack, no copy) the frames whose 4-tuple
hashes to another shard (`tlsinspect.engine.engine.shard_of`, the same for both directions), so each flow lives
in exactly one worker. Passing over the other workers' frames costs about a quarter of a worker's time on the
1 GB benchmark; shipping frames from a parent over pipes would cost more than that on two cores, and a
pcap file cannot be cut at an arbitrary offset (its records carry no sync marker).

Workers send their finished flows (frozen `Flow` snapshots, pickled) in order of first frame over a pipe, a batch
as soon as their engine has one, so that the parent writes while they parse; a thread
per worker drains its pipe into a queue so that no worker waits on another. The parent merges the N ordered
streams by first frame and renumbers the ids 1, 2, ... as one engine would have numbered them. Counters are
summed; frames that belong to no flow are counted by worker 0 alone. The output is therefore the same as with
one process, except when the cap on open flows is hit: the cap applies per worker (`max_flows // N` each), so
which flows are evicted early can differ.

Workers are started with ``fork`` (they inherit the options, key log and analyser without pickling them); where
``fork`` is not available the read runs in one process.
"""

from __future__ import annotations

import heapq
import multiprocessing as mp
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from tlsinspect.capture.files import CaptureFile
from tlsinspect.errors import CaptureError
from tlsinspect.model import Flow, evolve
from tlsinspect.runner import EngineRun, ReadOptions, engine_flows

BATCH = 256
"""Flows per batch handed back to the runner."""


def default_jobs() -> int:
    """The number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def sharded_flows(
    path: str | os.PathLike[str], opts: ReadOptions, run: EngineRun, jobs: int
) -> Iterator[list[Flow]]:
    """Batches of flows in order of first frame, computed by `jobs` workers; `run` is filled at the end."""
    with CaptureFile(path) as cap:  # fail here, in the caller's process, if the file cannot be opened
        run.format, run.link_types = cap.format, tuple(cap.link_types)
    if "fork" not in mp.get_all_start_methods():
        yield from engine_flows(path, opts, run)
        return
    ctx = mp.get_context("fork")
    wopts = replace(opts, progress=None, max_flows=max(1, opts.max_flows // jobs), jobs=1)
    procs, queues, threads = [], [], []
    for k in range(jobs):
        recv, send = ctx.Pipe(duplex=False)
        p = ctx.Process(
            target=_worker, args=(path, wopts, (k, jobs), send), daemon=True, name=f"tlsinspect-{k}"
        )
        p.start()
        send.close()
        q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        t = threading.Thread(target=_drain_pipe, args=(recv, q), daemon=True)
        t.start()
        procs.append(p)
        queues.append(q)
        threads.append(t)
    runs: list[EngineRun | None] = [None] * jobs
    try:
        streams = [_stream(q, runs, k, opts, path) for k, q in enumerate(queues)]
        next_id = 1
        out: list[Flow] = []
        for f in heapq.merge(*streams, key=_first_frame):
            out.append(evolve(f, id=next_id) if f.id != next_id else f)
            next_id += 1
            if len(out) >= BATCH:
                _merge_runs(run, runs)
                yield out
                out = []
        _merge_runs(run, runs)
        yield out
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(10)
        for t in threads:
            t.join(1)


def _first_frame(f: Flow) -> int:
    return f.first_frame


def _worker(
    path: str | os.PathLike[str], opts: ReadOptions, shard: tuple[int, int], conn: Connection
) -> None:
    """In a worker process: run shard `shard` and send ("flows", [Flow...], bytes read), then ("done", EngineRun)."""
    try:
        run = EngineRun()
        # Each batch goes as soon as the engine has it (every few thousand frames), so the parent writes while
        # the workers work and has little left to do when they end.
        for batch in engine_flows(path, opts, run, shard=shard):
            conn.send(("flows", batch, run.bytes))
        conn.send(("done", run, run.bytes))
    except BaseException as e:  # reported to the parent, which raises it there
        try:
            conn.send(("error", e, 0))
        except Exception:
            conn.send(("error", RuntimeError(f"{type(e).__name__}: {e}"), 0))
    finally:
        conn.close()


def _drain_pipe(conn: Connection, q: queue.SimpleQueue[Any]) -> None:
    """In the parent, one thread per worker: move messages from the pipe to a queue as soon as they arrive."""
    try:
        while True:
            msg = conn.recv()
            q.put(msg)
            if msg[0] != "flows":
                return
    except (EOFError, OSError):
        q.put(("error", RuntimeError("it ended without finishing its shard"), 0))
    finally:
        conn.close()


def _stream(
    q: queue.SimpleQueue[Any],
    runs: list[EngineRun | None],
    k: int,
    opts: ReadOptions,
    path: str | os.PathLike[str],
) -> Iterator[Flow]:
    size = _size(path)
    while True:
        kind, payload, nbytes = q.get()
        if kind == "flows":
            if k == 0 and opts.progress is not None:
                opts.progress(nbytes, size)
            yield from payload
        elif kind == "done":
            runs[k] = payload
            return
        else:
            if isinstance(payload, CaptureError):
                raise payload
            # A worker that died (killed, or a crash in native code) or hit a bug: one line for the user,
            # who can read the capture in one process instead.
            raise CaptureError(
                f"cannot read {str(path)!r} with --jobs: worker {k + 1} failed ({payload}); try --jobs 1"
            ) from payload


def _merge_runs(run: EngineRun, runs: list[EngineRun | None]) -> None:
    """Combine the workers' runs once all are done (every worker read the same frames)."""
    if any(r is None for r in runs):
        return
    done = [r for r in runs if r is not None]
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
    run.engine_anomalies = anomalies[: len(anomalies) if len(done) == 1 else _cap(anomalies)]
    run.flows_evicted = sum(r.flows_evicted for r in done)


def _cap(anomalies: list[Any]) -> int:
    from tlsinspect.engine.engine import MAX_CAPTURE_ANOMALIES

    return min(len(anomalies), MAX_CAPTURE_ANOMALIES)


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
