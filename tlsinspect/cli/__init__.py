"""Command line: `tlsinspect read FILE...`, `tlsinspect live -i IFACE`, `tlsinspect interfaces`, `tlsinspect explain RULE`.

A thin argument layer: each command (`read.py`, `live.py`) builds a session (`tlsinspect.session`) from its
arguments and writes its events as a report (`report.py`); `common.py` holds what they share. `read` with
several files reports them one after another in the order given; a file that cannot be read is one line on
stderr and the others are still reported.

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
from collections.abc import Sequence
from typing import Any

from tlsinspect import __version__
from tlsinspect.cli.common import EXIT_FAIL_ON, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, err
from tlsinspect.model import SEVERITIES

__all__ = ["EXIT_FAIL_ON", "EXIT_INPUT", "EXIT_INTERRUPTED", "EXIT_OK", "build_parser", "main"]

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


def _common_output(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=("text", "json", "ndjson"),
        default=None,
        help="output format: a report instead of the TUI (default: the TUI on a terminal, else text)",
    )
    p.add_argument(
        "--keylog", metavar="FILE", help="NSS key log (SSLKEYLOGFILE) to decrypt TLS; default $SSLKEYLOGFILE"
    )
    p.add_argument("--no-env-keylog", action="store_true", help="ignore $SSLKEYLOGFILE")
    p.add_argument("--show-secrets", action="store_true", help="print exposed secrets unmasked")
    p.add_argument(
        "--filter",
        metavar="EXPR",
        help="keep flows matching EXPR, e.g. 'sni:*.example.com and version<1.3', 'finding:cert.* or cleartext', "
        "'ip:10.0.0.0/8 port:443 not decrypted' (fields: sni host ip port proto transport version suite alpn "
        "finding severity exposure cleartext decrypted resumed state; README 'Filters')",
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
    p.add_argument("--no-tui", action="store_true", help="print the text report even on a terminal")


def cmd_explain(args: argparse.Namespace) -> int:
    from tlsinspect.analysis.findings import RULES, explain

    if not args.rule:
        for r in RULES:
            print(f"{r.id:32} {r.severity:8} {r.title}")
        return EXIT_OK
    try:
        print(explain(args.rule))
    except KeyError:
        err(f"no rule {args.rule!r}; `tlsinspect explain` lists them")
        return EXIT_INPUT
    return EXIT_OK


def cmd_read(args: argparse.Namespace) -> int:
    from tlsinspect.cli.read import cmd_read as run

    return run(args)


def cmd_live(args: argparse.Namespace) -> int:
    from tlsinspect.cli.live import cmd_live as run

    return run(args)


def cmd_interfaces(args: argparse.Namespace) -> int:
    from tlsinspect.cli.live import cmd_interfaces as run

    return run(args)


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
        err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly. Point stdout at /dev/null so the interpreter's final
        # flush does not fail again on the closed pipe.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
