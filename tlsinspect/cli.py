"""Command line: `tlsinspect read FILE...`, `tlsinspect live -i IFACE`, `tlsinspect interfaces`, `tlsinspect explain RULE`.

`read` with several files reports them one after another in the order given (see `_read_many`); a file that
cannot be read is one line on stderr and the others are still reported.

Exit status:
  0  the capture was read (anomalies in it are reported, not fatal)
  2  bad usage, or an input that cannot be read at all (not a capture file, missing file, unreadable key log);
     with several files, when any of them cannot be read
  3  `--fail-on SEVERITY` was given and a finding at or above that severity exists
  130 interrupted (Ctrl-C)
Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tlsinspect import __version__
from tlsinspect.errors import CaptureError
from tlsinspect.model import SEVERITIES, Flow

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_FAIL_ON = 3
EXIT_INTERRUPTED = 130

EPILOG = """exit status: 0 read fine; 2 bad usage or unreadable input (one line on stderr);
3 a finding at or above --fail-on exists; 130 interrupted."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tlsinspect",
        description="TLS handshake inspector: what anyone on the path can read, and what TLS hides.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"tlsinspect {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser("read", help="analyse a pcap/pcapng file (optionally gzip-compressed)", epilog=EPILOG)
    r.add_argument(
        "file",
        nargs="+",
        metavar="FILE",
        help="capture file (.pcap, .pcapng, .gz); several are reported one after another, read --jobs at once",
    )
    _common_output(r)
    e = sub.add_parser("explain", help="print the full explanation of a finding rule")
    e.add_argument("rule", nargs="?", help="rule id, e.g. tls.no-forward-secrecy (omit to list all rules)")
    _live_parser(sub)
    return p


LIVE_EPILOG = """exit status: 0 the capture ran and stopped (Ctrl-C, --duration, --count, or COMMAND exited; the
child's own status is shown on stderr); 2 cannot capture (no permission, unknown interface, bad filter; one
line on stderr); 3 a finding at or above --fail-on exists.
examples: tlsinspect live -i lo -f 'tcp port 8443' -w out.pcapng
          tlsinspect live -i lo -- curl https://localhost:8443/   (decrypts: SSLKEYLOGFILE is set for curl)"""


def _live_parser(sub: Any) -> None:
    lv = sub.add_parser(
        "live",
        help="capture an interface and report flows as they end (needs capture rights)",
        epilog=LIVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lv.add_argument(
        "-i",
        "--interface",
        required=True,
        metavar="IFACE",
        help="interface to capture (see `tlsinspect interfaces`)",
    )
    lv.add_argument(
        "-f", "--bpf", metavar="BPF", help="capture filter in pcap-filter syntax, e.g. 'tcp port 443'"
    )
    lv.add_argument(
        "-w", "--write", metavar="FILE", help="also save the frames as pcapng (with the key log in it)"
    )
    lv.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    lv.add_argument("--count", type=int, default=0, metavar="N", help="stop after N frames")
    lv.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="end a flow after S seconds without a frame (default 60)",
    )
    lv.add_argument(
        "--queue-size",
        type=int,
        default=20_000,
        metavar="N",
        help="frames buffered between capture and analysis (default 20000)",
    )
    _common_output(lv)
    lv.add_argument(
        "child",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND ARGS",
        help="run COMMAND with SSLKEYLOGFILE set, capture while it runs",
    )
    i = sub.add_parser("interfaces", help="list capture interfaces (name, link type, addresses)")
    i.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")


def cmd_live(args: argparse.Namespace) -> int:
    from tlsinspect.live import cmd_live as run

    return run(args)


def cmd_interfaces(args: argparse.Namespace) -> int:
    from tlsinspect.live import cmd_interfaces as run

    return run(args)


def _common_output(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=("text", "json", "ndjson"), default="text", help="output format (default text)"
    )
    p.add_argument(
        "--keylog", metavar="FILE", help="NSS key log (SSLKEYLOGFILE) to decrypt TLS; default $SSLKEYLOGFILE"
    )
    p.add_argument("--no-env-keylog", action="store_true", help="ignore $SSLKEYLOGFILE")
    p.add_argument("--show-secrets", action="store_true", help="print exposed secrets unmasked")
    p.add_argument(
        "--filter",
        metavar="EXPR",
        help="keep flows matching all terms: sni:NAME host:IP port:N, or a bare word matched against SNI/host/IP",
    )
    p.add_argument(
        "--ca-file",
        metavar="PEM",
        action="append",
        default=[],
        help="extra trusted CA certificates (repeatable)",
    )
    p.add_argument(
        "--no-default-roots",
        action="store_true",
        help="trust only --ca-file, not the Mozilla (certifi) and system roots",
    )
    p.add_argument(
        "--fail-on",
        choices=SEVERITIES[1:],
        help="exit with status 3 when a finding at or above this severity exists",
    )
    p.add_argument(
        "--max-flows",
        type=int,
        default=50_000,
        help="cap on open flows (the oldest is finished early and counted)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="worker processes, flows sharded by address; output is the same as with 1 "
        "(default: the number of CPUs for captures of 64 MB and more, else 1)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")


def parse_filter(expr: str) -> Callable[[Flow], bool]:
    """A small AND-filter over flows: `sni:example.com port:443 host:10.0.0.1 proto:tls word`. Raises ValueError."""
    terms = [_filter_term(tok) for tok in expr.split()]
    return lambda f: all(t(f) for t in terms)


def _filter_term(tok: str) -> Callable[[Flow], bool]:
    key, sep, val = tok.partition(":")
    if not sep:
        key, val = "any", tok
    if not val:
        raise ValueError(f"empty value in filter term {tok!r}")
    v = val.lower()

    def sni(f: Flow) -> bool:
        return v in (_sni(f) or "\0")

    def host(f: Flow) -> bool:
        return v in (f.client_ip, f.server_ip) or any((h.host or "").lower() == v for h in f.http)

    def proto(f: Flow) -> bool:
        return f.app_protocol == v

    def any_(f: Flow) -> bool:
        return (
            v
            in " ".join([_sni(f) or "", f.client_ip, f.server_ip, *[(h.host or "") for h in f.http]]).lower()
        )

    if key == "port":
        if not val.isdigit():
            raise ValueError(f"port must be a number in {tok!r}")
        port = int(val)
        return lambda f: port in (f.client_port, f.server_port)
    table: dict[str, Callable[[Flow], bool]] = {
        "sni": sni,
        "host": host,
        "ip": host,
        "proto": proto,
        "any": any_,
    }
    if key not in table:
        raise ValueError(f"unknown filter key {key!r} (use sni:, host:, port:, proto:)")
    return table[key]


def _sni(f: Flow) -> str | None:
    ch = f.tls.client_hello if f.tls else None
    return ch.server_name.lower() if ch and ch.server_name else None


def _err(msg: str) -> None:
    print(f"tlsinspect: error: {msg}", file=sys.stderr)


def cmd_read(args: argparse.Namespace) -> int:
    from tlsinspect.parse.keylog import KeyLog

    keylog = None
    keylog_path = args.keylog or (None if args.no_env_keylog else os.environ.get("SSLKEYLOGFILE"))
    if keylog_path:
        try:
            keylog = KeyLog.from_file(keylog_path)
        except OSError as e:
            _err(f"cannot read key log {keylog_path}: {e.strerror or e}")
            return EXIT_INPUT
    if args.jobs is not None and args.jobs < 1:
        _err("--jobs must be at least 1")
        return EXIT_INPUT
    setup = output_setup(args)
    if isinstance(setup, int):
        return setup
    flt, analyzer, out, writer = setup
    files: list[str] = args.file
    try:
        if len(files) == 1:
            progress = None if args.no_progress or not sys.stderr.isatty() else _Progress()
            jobs = args.jobs if args.jobs is not None else _auto_jobs(files[0])
            job = _ReadJob(args, keylog, flt, analyzer)
            worst, error = job.render(files[0], writer, jobs, progress)
            if error is not None:
                _err(error)
                return EXIT_INPUT
            failed = False
        else:
            color = None if out.isatty() else False
            worst, failed = _read_many(files, args, _ReadJob(args, keylog, flt, analyzer), out, color)
    finally:
        if out is not sys.stdout:
            out.close()
    if failed:
        return EXIT_INPUT
    if args.fail_on and worst >= SEVERITIES.index(args.fail_on):
        return EXIT_FAIL_ON
    return EXIT_OK


class _ReadJob:
    """What every file of one `read` shares: the options, key log, filter and analyser."""

    def __init__(self, args: argparse.Namespace, keylog: Any, flt: Any, analyzer: Any) -> None:
        self.args, self.keylog, self.flt, self.analyzer = args, keylog, flt, analyzer

    def render(self, path: str, writer: Any, jobs: int, progress: Any = None) -> tuple[int, str | None]:
        """Read one capture and write its report with `writer`: (worst severity index or -1, error or None).
        A capture that cannot be opened writes nothing and gives its one-line error."""
        from tlsinspect.runner import ReadOptions, ReadResult, read_capture

        opts = ReadOptions(
            keylog=self.keylog,
            analyse=self.analyzer,
            max_flows=self.args.max_flows,
            flow_filter=self.flt,
            progress=progress,
            jobs=jobs,
        )
        result = ReadResult()
        worst = -1
        try:
            first = True
            for flow in read_capture(path, opts, result):
                if first:
                    assert result.info is not None
                    writer.capture(result.info, __version__)
                    first = False
                writer.flow(flow)
                for x in flow.findings:
                    worst = max(worst, SEVERITIES.index(x.severity))
            if first and result.info is not None:
                writer.capture(result.info, __version__)
            if progress is not None:
                progress.done()
            assert result.summary is not None
            writer.summary(result.summary)
        except CaptureError as e:
            return worst, str(e)
        return worst, None


_MANY: tuple[list[str], _ReadJob, str, bool | None, str] | None = None
"""(files, job, format, color, spool directory) for the worker processes of `_read_many` (inherited by fork)."""


def _read_many(
    files: list[str], args: argparse.Namespace, job: _ReadJob, out: Any, color: bool | None
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

    from tlsinspect.parallel import default_jobs

    jobs = min(args.jobs if args.jobs is not None else default_jobs(), len(files))
    worst, failed, written = -1, False, 0
    between = {"json": ",\n", "text": "\n"}.get(args.format, "")
    if args.format == "json":
        out.write("[\n")

    def done(index: int, w: int, error: str | None) -> bool:
        nonlocal worst, failed
        if error is not None:
            _err(error if files[index] in error else f"{files[index]}: {error}")
            failed = True
            return False
        worst = max(worst, w)
        return True

    if jobs <= 1 or "fork" not in mp.get_all_start_methods():
        for i, path in enumerate(files):
            stream = _Prefixed(out, between if written else "")
            w, error = job.render(path, _writer(args.format, stream, args.show_secrets, color), 1)
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
    """In a worker of `_read_many`: render file `index` to its spool file."""
    assert _MANY is not None
    files, job, fmt, color, spool = _MANY
    with open(os.path.join(spool, f"{index}.out"), "w", encoding="utf-8") as fh:
        w, error = job.render(files[index], _writer(fmt, fh, job.args.show_secrets, color), 1)
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


AUTO_JOBS_MIN_BYTES = 64 << 20
"""Below this size the workers' start-up costs more than they save (measured: 100 MB 0.87 s with 2 workers)."""


def _auto_jobs(path: str) -> int:
    """--jobs by default: every CPU for a large capture, one process for a small one."""
    from tlsinspect.parallel import default_jobs

    try:
        size = os.path.getsize(path)
    except OSError:
        return 1
    return default_jobs() if size >= AUTO_JOBS_MIN_BYTES else 1


def output_setup(args: argparse.Namespace) -> tuple[Callable[[Flow], bool] | None, Any, Any, Any] | int:
    """What `read` and `live` share: the flow filter, the analyser (trust store), the output stream and the
    writer; or the exit status after a one-line error."""
    from tlsinspect.analysis.pipeline import Analyzer

    try:
        flt = parse_filter(args.filter) if args.filter else None
    except ValueError as e:
        _err(f"--filter: {e}")
        return EXIT_INPUT
    try:
        analyzer = Analyzer.create(ca_files=args.ca_file, use_default_roots=not args.no_default_roots)
    except (OSError, ValueError) as e:
        _err(f"--ca-file: {e}")
        return EXIT_INPUT
    out = sys.stdout
    if args.output:
        try:
            out = open(args.output, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            _err(f"cannot write {args.output}: {e.strerror or e}")
            return EXIT_INPUT
    return flt, analyzer, out, _writer(args.format, out, args.show_secrets)


def _writer(fmt: str, out: Any, show_secrets: bool, color: bool | None = None) -> Any:
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


class _Progress:
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


def cmd_explain(args: argparse.Namespace) -> int:
    from tlsinspect.analysis.findings import RULES, explain

    if not args.rule:
        for r in RULES:
            print(f"{r.id:32} {r.severity:8} {r.title}")
        return EXIT_OK
    try:
        print(explain(args.rule))
    except KeyError:
        _err(f"no rule {args.rule!r}; `tlsinspect explain` lists them")
        return EXIT_INPUT
    return EXIT_OK


COMMANDS = {"read": cmd_read, "explain": cmd_explain, "live": cmd_live, "interfaces": cmd_interfaces}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_INPUT
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly. Point stdout at /dev/null so the interpreter's final
        # flush does not fail again on the closed pipe.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
