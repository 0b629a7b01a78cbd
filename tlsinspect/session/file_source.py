"""A capture file as a source: read through one engine, or sharded over worker processes (`shards.py`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tlsinspect.capture.files import CaptureFile
from tlsinspect.model import CaptureInfo
from tlsinspect.session.events import END_OF_FILE
from tlsinspect.session.reading import EngineRun, engine_steps
from tlsinspect.session.source import EngineOptions, Step, StopSignal

if TYPE_CHECKING:
    from tlsinspect.session.shards import Shards


class FileSource:
    """One capture file (pcap or pcapng, optionally gzip-compressed). With `jobs` > 1 its flows are computed by
    that many worker processes (`tlsinspect.session.shards`); the flows, their ids and the summary are the same
    as with one."""

    ordered = True

    def __init__(self, path: str | os.PathLike[str], *, jobs: int = 1) -> None:
        self.path = path
        self.jobs = max(1, jobs)
        self.bytes_total = _size(path)
        self._cap: CaptureFile | None = None
        self._opts = EngineOptions()
        self._shards: Shards | None = None

    @property
    def name(self) -> str:
        return os.fspath(self.path)

    def open(self, opts: EngineOptions) -> CaptureInfo:
        self._opts = opts
        cap = CaptureFile(self.path)  # raises CaptureError, here in the caller's process
        self._cap = cap
        return CaptureInfo(source=self.name, link_types=tuple(cap.link_types), format=cap.format)

    def steps(self, stop: StopSignal) -> Iterator[Step]:
        assert self._cap is not None, "open() first"
        if self.jobs > 1:
            from tlsinspect.session.shards import Shards, can_fork

            if can_fork():
                self._cap.close()
                shards = Shards(self.path, self._opts, self.jobs, self.bytes_total)
                self._shards = shards
                yield from shards.steps(stop)
                return
        yield from self._one_engine(stop)

    def _one_engine(self, stop: StopSignal) -> Iterator[Step]:
        cap = self._cap
        assert cap is not None
        run = EngineRun()
        yield from engine_steps(cap, self._opts, run, stop=stop)
        yield Step(
            frames=run.frames,
            bytes_read=run.bytes,
            end=run.end(self.name, stop.reason if stop.is_set() else END_OF_FILE),
        )

    def close(self) -> None:
        if self._cap is not None:
            self._cap.close()
        shards = self._shards
        if shards is not None:
            shards.close()


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
