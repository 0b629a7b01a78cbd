"""What the commands share: one-line errors, the edge loading of key logs and trust stores, the flow filter,
the writers, the progress bar and the collector tuning of a read."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tlsinspect.model import Flow
from tlsinspect.parse.keylog import KeyLog

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_FAIL_ON = 3
EXIT_INTERRUPTED = 130

GC_THRESHOLD = (50_000, 20, 100)
"""The cyclic collector's thresholds while a capture is read (Python's default is 700, 10, 10). A read allocates
millions of short-lived objects; at the default the collector ran 160 times per 500k frames and scanned the live
flows each time, 5% of a worker's time. Flows that end are still collected (a finished flow's parsers refer to
each other), only less often: tens of thousands of objects at most wait for it."""


def err(msg: str) -> None:
    print(f"tlsinspect: error: {msg}", file=sys.stderr)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often (`GC_THRESHOLD`), and never over the objects that exist when
    the read starts (modules, tables, the trust store: `gc.freeze`, which also keeps forked workers from
    touching those pages); both undone at the end. A process-wide setting: the entry point's to make."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def keylog_path(args: argparse.Namespace) -> str | None:
    """--keylog, else $SSLKEYLOGFILE unless --no-env-keylog."""
    path: str | None = args.keylog or (None if args.no_env_keylog else os.environ.get("SSLKEYLOGFILE"))
    return path


def load_keylog(path: str) -> KeyLog | int:
    """The key log at `path`, or the exit status after a one-line error."""
    from tlsinspect.capture.inputs import read_keylog

    try:
        return read_keylog(path)
    except OSError as e:
        err(f"cannot read key log {path}: {e.strerror or e}")
        return EXIT_INPUT


def parse_filter(expr: str) -> Callable[[Flow], bool]:
    """The flow filter of `--filter` (the language of `tlsinspect.analysis.query`: `sni:shop port:80`,
    `version<1.3 and not decrypted`, ...). Raises ValueError (a `QueryError`) with a one-line message."""
    from tlsinspect.analysis.query import compile_query

    return compile_query(expr)


def wants_tui(args: argparse.Namespace, files: int = 1) -> bool:
    """The TUI opens when stdout is a terminal and no report was asked for (--format, -o, --no-tui, a pipe);
    otherwise `args.format` is settled to "text" when it was left out."""
    tui = (
        args.format is None
        and not args.output
        and not getattr(args, "no_tui", False)
        and files == 1
        and sys.stdout.isatty()
        and os.environ.get("TERM") != "dumb"
    )
    if not tui and args.format is None:
        args.format = "text"
    return tui


def analyzer_for(args: argparse.Namespace) -> Any:
    """The analyser (trust store read here at the edge, and the clock), or the exit status after one line."""
    from tlsinspect.analysis.pipeline import Analyzer
    from tlsinspect.analysis.validation import TrustStoreError
    from tlsinspect.capture.inputs import load_trust_store

    try:
        trust = load_trust_store(
            tuple(args.ca_file), use_certifi=not args.no_default_roots, use_system=not args.no_default_roots
        )
    except TrustStoreError as e:
        err(f"--ca-file: {e}")
        return EXIT_INPUT
    return Analyzer(trust, now=time.time())


def tui_setup(args: argparse.Namespace) -> Any:
    """What the TUI needs before it opens: the --filter checked (the TUI shows it in its filter box) and the
    analyser; or the exit status after a one-line error."""
    from tlsinspect.analysis.query import validate

    problem = validate(args.filter) if args.filter else None
    if problem is not None:
        err(f"--filter: {problem}")
        return EXIT_INPUT
    return analyzer_for(args)


def output_setup(args: argparse.Namespace) -> tuple[Callable[[Flow], bool] | None, Any, Any, Any] | int:
    """What `read` and `live` share: the flow filter, the analyser (trust store, read here at the edge, and the
    clock), the output stream and the writer; or the exit status after a one-line error."""
    try:
        flt = parse_filter(args.filter) if args.filter else None
    except ValueError as e:
        err(f"--filter: {e}")
        return EXIT_INPUT
    analyzer = analyzer_for(args)
    if isinstance(analyzer, int):
        return analyzer
    out = sys.stdout
    if args.output:
        try:
            out = open(args.output, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            err(f"cannot write {args.output}: {e.strerror or e}")
            return EXIT_INPUT
    return flt, analyzer, out, make_writer(args.format, out, args.show_secrets)


def make_writer(fmt: str, out: Any, show_secrets: bool, color: bool | None = None) -> Any:
    if fmt == "ndjson":
        from tlsinspect.output.jsonout import NdjsonWriter

        return NdjsonWriter(out, show_secrets=show_secrets)
    if fmt == "json":
        from tlsinspect.output.jsonout import JsonWriter

        return JsonWriter(out, show_secrets=show_secrets)
    from tlsinspect.output.text import TextWriter

    if color is None and not out.isatty():
        color = False
    return TextWriter(out, show_secrets=show_secrets, color=color)


class ProgressBar:
    """A progress bar on stderr for long reads (only when stderr is a terminal)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        self.p = Progress(BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True, console=None)
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            self.p.start()
            self.task = self.p.add_task("read", total=total or None)
        self.p.update(self.task, completed=done)

    def done(self) -> None:
        if self.task is not None:
            self.p.stop()
