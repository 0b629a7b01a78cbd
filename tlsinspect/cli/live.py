"""`tlsinspect live -i IFACE` and `tlsinspect interfaces`: a live interface read through a session and written
as a report while it runs (each flow when it ends)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from tlsinspect.cli.common import (
    EXIT_FAIL_ON,
    EXIT_INPUT,
    EXIT_OK,
    err,
    keylog_path,
    output_setup,
    tui_setup,
    wants_tui,
)
from tlsinspect.cli.report import write_report
from tlsinspect.errors import CaptureError
from tlsinspect.model import SEVERITIES


def cmd_live(args: argparse.Namespace) -> int:
    """`tlsinspect live`: see `tlsinspect.cli` for the arguments and exit statuses."""
    from tlsinspect.session import Session, SessionOptions
    from tlsinspect.session.interface_source import InterfaceSource

    command = list(args.child or [])
    if command and command[0] == "--":
        command = command[1:]
    if args.child and not command:
        err("nothing to run after `--`; e.g. tlsinspect live -i lo -- curl https://localhost:8443/")
        return EXIT_INPUT
    if args.duration is not None and args.duration <= 0:
        err("--duration must be a positive number of seconds")
        return EXIT_INPUT
    if args.count < 0:
        err("--count must be 0 (no limit) or more")
        return EXIT_INPUT
    follow: list[str] = []
    path = keylog_path(args)
    if path:
        # Followed as it grows; its current content is read first. $SSLKEYLOGFILE may not exist yet (a client
        # creates it); a --keylog file given by name must.
        try:
            with open(path, "rb"):
                pass
        except FileNotFoundError as e:
            if args.keylog:
                err(f"cannot read key log {path}: {e.strerror or e}")
                return EXIT_INPUT
        except OSError as e:
            err(f"cannot read key log {path}: {e.strerror or e}")
            return EXIT_INPUT
        follow.append(path)
    tui = wants_tui(args)
    if tui:
        return _run_tui(args, follow, command)
    setup = output_setup(args)
    if isinstance(setup, int):
        return setup
    flt, analyzer, out, writer = setup

    def flush() -> None:
        with contextlib.suppress(AttributeError, ValueError):
            out.flush()

    child_stdout: Any = None
    if command and out is sys.stdout:
        child_stdout = sys.stderr.fileno() if _has_fileno(sys.stderr) else subprocess.DEVNULL
    source = InterfaceSource(_interface_options(args, follow, command, child_stdout))
    options = SessionOptions(
        analyse=analyzer, max_flows=args.max_flows, updates=False, show_secrets=args.show_secrets
    )
    session = Session(source, options)
    restore = _install_signals(session)
    try:
        with session:
            result = write_report(session, writer, flow_filter=flt, flush=flush)
    except CaptureError as e:
        err(str(e))
        return EXIT_INPUT
    finally:
        restore()
        if out is not sys.stdout:
            out.close()
    ended = result.ended
    assert ended is not None
    kern = (
        f"kernel dropped {ended.stat('kernel_dropped')}"
        if ended.stat("kernel_stats")
        else "kernel drops unknown"
    )
    sys.stderr.write(
        f"tlsinspect: live capture on {args.interface} stopped ({ended.reason or 'done'}): "
        f"{ended.stat('captured')} frames captured, {kern}, queue dropped {ended.stat('queue_dropped')}\n"
    )
    if ended.child_status:
        sys.stderr.write(f"tlsinspect: note: {command[0]} exited with status {ended.child_status}\n")
    if args.fail_on and result.worst >= SEVERITIES.index(args.fail_on):
        return EXIT_FAIL_ON
    return EXIT_OK


def _interface_options(
    args: argparse.Namespace, follow: list[str], command: list[str], child_stdout: Any
) -> Any:
    from tlsinspect.session.interface_source import InterfaceOptions

    return InterfaceOptions(
        iface=args.interface,
        bpf=args.bpf,
        write=args.write,
        follow=follow,
        duration=args.duration,
        count=args.count,
        command=command or None,
        child_stdout=child_stdout,
        idle_timeout=args.idle_timeout,
        queue_size=args.queue_size,
    )


def _run_tui(args: argparse.Namespace, follow: list[str], command: list[str]) -> int:
    """`live -i IF` on a terminal: the TUI on a session of the interface (it opens in the TUI's worker; a setup
    error is shown there and printed again after the TUI closes)."""
    from tlsinspect.session import Session, SessionOptions
    from tlsinspect.session.interface_source import InterfaceSource
    from tlsinspect.tui.app import TlsInspectApp

    analyzer = tui_setup(args)
    if isinstance(analyzer, int):
        return analyzer
    opts = _interface_options(args, follow, command, subprocess.DEVNULL if command else None)
    options = SessionOptions(
        analyse=analyzer, max_flows=args.max_flows, updates=True, show_secrets=args.show_secrets
    )

    def make_session() -> Session:
        return Session(InterfaceSource(opts), options)

    app = TlsInspectApp(
        make_session,
        source_name=args.interface,
        live=True,
        show_secrets=args.show_secrets,
        initial_filter=args.filter or "",
    )
    app.run()
    if app.error is not None:
        err(app.error)
        return EXIT_INPUT
    return EXIT_OK


def _has_fileno(f: Any) -> bool:
    try:
        f.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _install_signals(session: Any) -> Callable[[], None]:
    """Ctrl-C (and SIGTERM) stop the capture cleanly, once; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        if session.stopping and signum == signal.SIGINT:
            raise KeyboardInterrupt
        session.stop("interrupted" if signum == signal.SIGINT else "terminated")

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
