"""`tlsinspect read FILE...`: each capture read through a session and written as a report.

Several files are reported one after another in the order given (`read_many`); a file that cannot be read is
one line on stderr and the others are still reported.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tlsinspect.cli.common import (
    EXIT_FAIL_ON,
    EXIT_INPUT,
    EXIT_OK,
    ProgressBar,
    err,
    fewer_collections,
    keylog_path,
    load_keylog,
    make_writer,
    output_setup,
    wants_tui,
)
from tlsinspect.cli.report import write_report
from tlsinspect.errors import CaptureError
from tlsinspect.model import SEVERITIES
from tlsinspect.session import FileSource, Session, SessionOptions
from tlsinspect.session.shards import default_jobs

AUTO_JOBS_MIN_BYTES = 64 << 20
"""Below this size the workers' start-up costs more than they save (measured: 100 MB 0.87 s with 2 workers)."""


def cmd_read(args: argparse.Namespace) -> int:
    keylog = None
    path = keylog_path(args)
    if path:
        keylog = load_keylog(path)
        if isinstance(keylog, int):
            return keylog
    if args.jobs is not None and args.jobs < 1:
        err("--jobs must be at least 1")
        return EXIT_INPUT
    if wants_tui(args, len(args.file)):
        return run_tui(args, keylog)
    setup = output_setup(args)
    if isinstance(setup, int):
        return setup
    flt, analyzer, out, writer = setup
    files: list[str] = args.file
    job = ReadJob(args, keylog, flt, analyzer)
    try:
        with fewer_collections():
            if len(files) == 1:
                progress = None if args.no_progress or not sys.stderr.isatty() else ProgressBar()
                jobs = args.jobs if args.jobs is not None else auto_jobs(files[0])
                worst, error = job.render(files[0], writer, jobs, progress)
                if error is not None:
                    err(error)
                    return EXIT_INPUT
                failed = False
            else:
                color = None if out.isatty() else False
                worst, failed = read_many(files, args, job, out, color)
    finally:
        if out is not sys.stdout:
            out.close()
    if failed:
        return EXIT_INPUT
    if args.fail_on and worst >= SEVERITIES.index(args.fail_on):
        return EXIT_FAIL_ON
    return EXIT_OK


class ReadJob:
    """What every file of one `read` shares: the options, key log, filter and analyser."""

    def __init__(self, args: argparse.Namespace, keylog: Any, flt: Any, analyzer: Any) -> None:
        self.args, self.keylog, self.flt, self.analyzer = args, keylog, flt, analyzer

    def render(self, path: str, writer: Any, jobs: int, progress: Any = None) -> tuple[int, str | None]:
        """Read one capture and write its report with `writer`: (worst severity index or -1, error or None).
        A capture that cannot be opened writes nothing and gives its one-line error."""
        options = SessionOptions(
            keylog=self.keylog,
            analyse=self.analyzer,
            max_flows=self.args.max_flows,
            updates=False,
            show_secrets=bool(getattr(self.args, "show_secrets", False)),
        )
        try:
            with Session(FileSource(path, jobs=jobs), options) as session:
                result = write_report(session, writer, flow_filter=self.flt, progress=progress)
        except CaptureError as e:
            return -1, str(e)
        finally:
            if progress is not None:
                progress.done()
        return result.worst, None


_MANY: tuple[list[str], ReadJob, str, bool | None, str] | None = None
"""(files, job, format, color, spool directory) for the worker processes of `read_many` (inherited by fork)."""


def read_many(
    files: list[str], args: argparse.Namespace, job: ReadJob, out: Any, color: bool | None
) -> tuple[int, bool]:
    """Several captures: each report in turn, in the order given, as if read one after the other (ndjson:
    the line streams one after another; json: an array of the documents; text: the reports in turn).

    With `--jobs N` (default: every CPU) N processes read whole files at once. Each writes its report to a
    spool file, and the reports are copied to the output in order as they complete, so memory does not grow
    with the reports waiting their turn. Returns (worst severity index, whether any file failed)."""
    import multiprocessing as mp
    import shutil
    import tempfile
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    jobs = min(args.jobs if args.jobs is not None else default_jobs(), len(files))
    worst, failed, written = -1, False, 0
    between = {"json": ",\n", "text": "\n"}.get(args.format, "")
    if args.format == "json":
        out.write("[\n")

    def done(index: int, w: int, error: str | None) -> bool:
        nonlocal worst, failed
        if error is not None:
            err(error if files[index] in error else f"{files[index]}: {error}")
            failed = True
            return False
        worst = max(worst, w)
        return True

    if jobs <= 1 or "fork" not in mp.get_all_start_methods():
        for i, path in enumerate(files):
            stream = _Prefixed(out, between if written else "")
            w, error = job.render(path, make_writer(args.format, stream, args.show_secrets, color), 1)
            written += done(i, w, error)
    else:
        global _MANY
        spool = tempfile.mkdtemp(prefix="tlsinspect-")
        _MANY = (files, job, args.format, color, spool)
        try:
            # A process pool that notices a worker dying (BrokenProcessPool) instead of waiting for it forever.
            with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("fork")) as pool:
                futures = [pool.submit(_render_spooled, i) for i in range(len(files))]
                for i, future in enumerate(futures):
                    try:
                        _, w, error = future.result()
                    except BrokenProcessPool:
                        # A worker died: every file the pool still held fails with it, so each is read
                        # again alone, and only the one that kills its process is reported.
                        w, error = _render_alone(i)
                    name = os.path.join(spool, f"{i}.out")
                    if done(i, w, error):
                        if written:
                            out.write(between)
                        with open(name, encoding="utf-8") as fh:
                            shutil.copyfileobj(fh, out)
                        written += 1
                    if os.path.exists(name):
                        os.unlink(name)
        finally:
            _MANY = None
            shutil.rmtree(spool, ignore_errors=True)
    if args.format == "json":
        out.write("]\n")
    out.flush()
    return worst, failed


def _render_alone(index: int) -> tuple[int, str | None]:
    """Render file `index` in a process of its own (after a worker died): (worst, error)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    assert _MANY is not None
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork")) as pool:
            _, w, error = pool.submit(_render_spooled, index).result()
    except BrokenProcessPool:
        return -1, f"{_MANY[0][index]}: the process reading it ended unexpectedly"
    return w, error


def _render_spooled(index: int) -> tuple[int, int, str | None]:
    """In a worker of `read_many`: render file `index` to its spool file."""
    assert _MANY is not None
    files, job, fmt, color, spool = _MANY
    with open(os.path.join(spool, f"{index}.out"), "w", encoding="utf-8") as fh:
        w, error = job.render(files[index], make_writer(fmt, fh, job.args.show_secrets, color), 1)
    return index, w, error


class _Prefixed:
    """An output stream that writes `prefix` before its first write (the separator between two reports, only
    once the second report really starts: a file that cannot be opened writes nothing)."""

    def __init__(self, out: Any, prefix: str) -> None:
        self.out, self.prefix = out, prefix

    def write(self, s: str) -> int:
        if self.prefix:
            self.out.write(self.prefix)
            self.prefix = ""
        return int(self.out.write(s))

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return bool(self.out.isatty())


def run_tui(args: argparse.Namespace, keylog: Any) -> int:
    """`read FILE` on a terminal: the TUI on a session of the file (the session opens in its worker)."""
    from tlsinspect.cli.common import tui_setup
    from tlsinspect.tui.app import TlsInspectApp

    analyzer = tui_setup(args)
    if isinstance(analyzer, int):
        return analyzer
    path = args.file[0]
    jobs = args.jobs if args.jobs is not None else auto_jobs(path)
    options = SessionOptions(keylog=keylog, analyse=analyzer, max_flows=args.max_flows, updates=True)

    def make_session() -> Session:
        return Session(FileSource(path, jobs=jobs), options)

    app = TlsInspectApp(
        make_session, source_name=path, show_secrets=args.show_secrets, initial_filter=args.filter or ""
    )
    with fewer_collections():
        app.run()
    return EXIT_OK


def auto_jobs(path: str) -> int:
    """--jobs by default: every CPU for a large capture, one process for a small one."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return 1
    return default_jobs() if size >= AUTO_JOBS_MIN_BYTES else 1
