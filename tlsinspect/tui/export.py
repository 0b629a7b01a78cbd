"""Export from the TUI: the shown (filtered) flows as JSON lines, the screen as SVG, or the flows' frames as
pcapng with their secrets in a Decryption Secrets Block.

`ExportScreen` asks which (and optionally where); the App runs `run_export(job)` in a worker thread and posts
`ExportDone`, whose text the App shows in a toast. Files go to the current directory with a timestamped name
unless a path was typed (a directory: the timestamped name in it).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tlsinspect import __version__
from tlsinspect.errors import CaptureError
from tlsinspect.model import CaptureInfo, Flow
from tlsinspect.parse.keylog import KeyLog

KINDS: dict[str, tuple[str, str]] = {
    "json": ("ndjson", "the shown flows as JSON lines (as --format ndjson writes them)"),
    "svg": ("svg", "a screenshot of the screen as SVG"),
    "pcapng": ("pcapng", "the shown flows' frames as pcapng, their TLS secrets embedded (opens decrypted)"),
}
"""kind -> (file extension, what it writes)."""

LIVE_PCAPNG = "pcapng export of a live capture is not available yet without -w FILE (start live with -w)"


@dataclass(frozen=True)
class ExportJob:
    kind: str
    path: str
    flows: tuple[Flow, ...] = ()
    info: CaptureInfo | None = None
    show_secrets: bool = False
    svg: str | None = None
    source: str | None = None
    """The capture file to take the frames from (pcapng)."""
    keylog: KeyLog | None = None


class ExportDone(Message):
    """An export finished (`error` None) or failed; `text` is the toast."""

    def __init__(self, text: str, error: bool = False) -> None:
        super().__init__()
        self.text = text
        self.error = error


def target_path(kind: str, typed: str = "", now: float | None = None, cwd: str = ".") -> str:
    """Where an export of `kind` goes: the typed path, or a timestamped name in the typed directory or in
    `cwd` (``tlsinspect-20261203-101500.ndjson``, with -2, -3... if that name exists)."""
    typed = os.path.expanduser(typed.strip())
    if typed and not typed.endswith(os.sep) and not os.path.isdir(typed):
        return os.path.abspath(typed)
    folder = typed or cwd
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    ext = KINDS[kind][0]
    path = os.path.join(folder, f"tlsinspect-{stamp}.{ext}")
    n = 1
    while os.path.exists(path):
        n += 1
        path = os.path.join(folder, f"tlsinspect-{stamp}-{n}.{ext}")
    return os.path.abspath(path)


def capture_file_of(source: object) -> tuple[str | None, str]:
    """The capture file a session's source reads or writes (a file source's path, a live source's `-w` file),
    or None and why not."""
    path = getattr(source, "path", None)
    if path is not None:
        return os.fspath(path), ""
    opts = getattr(source, "opts", None)
    if opts is not None and hasattr(opts, "write"):
        return (opts.write, "") if opts.write else (None, LIVE_PCAPNG)
    return None, "pcapng export needs a capture file (not available for this source)"


def run_export(job: ExportJob) -> str:
    """Write one export (in a worker thread); the toast text. Raises OSError or CaptureError."""
    if job.kind == "json":
        from tlsinspect.output.jsonout import NdjsonWriter

        with open(job.path, "w", encoding="utf-8") as out:
            writer = NdjsonWriter(out, show_secrets=job.show_secrets)
            if job.info is not None:
                writer.capture(job.info, __version__)
            for f in job.flows:
                writer.flow(f)
        return f"{len(job.flows)} flows written to {job.path}"
    if job.kind == "svg":
        with open(job.path, "w", encoding="utf-8") as out:
            out.write(job.svg or "")
        return f"screenshot saved to {job.path}"
    if job.kind == "pcapng":
        from tlsinspect.capture.export import export_flows

        if job.source is None:
            raise CaptureError("no capture file to take the frames from")
        r = export_flows(job.source, job.path, job.flows, job.keylog)
        text = f"{r.frames} frames of {r.flows} flows written to {r.path}, {r.secrets} key log lines embedded"
        if r.without_secrets:
            n = r.without_secrets
            text += f" ({n} TLS flow{'s have' if n > 1 else ' has'} no secrets)"
        return text
    raise ValueError(f"unknown export {job.kind!r}")


class ExportScreen(ModalScreen[tuple[str, str] | None]):
    """Pick what to export (j, s, p or Enter on a line), optionally after typing where; Esc cancels."""

    HELP_TITLE = "Export dialog"
    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical {
        width: 90%; max-width: 100; height: auto; border: thick $accent; background: $surface; padding: 0 1;
    }
    ExportScreen OptionList { height: auto; }
    ExportScreen Label { width: 100%; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("j", "pick('json')", "JSON"),
        Binding("s", "pick('svg')", "SVG"),
        Binding("p", "pick('pcapng')", "pcapng"),
    ]

    def __init__(self, flows: int, pcapng_note: str = "") -> None:
        super().__init__()
        self.flows = flows
        self.pcapng_note = pcapng_note

    def compose(self) -> ComposeResult:
        keys = {"json": "j", "svg": "s", "pcapng": "p"}
        with Vertical():
            yield Label(f"Export ({self.flows} flows shown)", id="export-title")
            options = []
            for kind, (_ext, what) in KINDS.items():
                note = f" ({self.pcapng_note})" if kind == "pcapng" and self.pcapng_note else ""
                options.append(Option(f"{keys[kind]}  {what}{note}", id=kind))
            yield OptionList(*options, id="export-kind")
            yield Input(
                placeholder="where: a file or a directory (empty: here, a timestamped name)",
                id="export-path",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_pick(self, kind: str) -> None:
        self.dismiss((kind, self.query_one("#export-path", Input).value))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.action_pick(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        option_list = self.query_one(OptionList)
        index = option_list.highlighted if option_list.highlighted is not None else 0
        kind = option_list.get_option_at_index(index).id
        if kind is not None:
            self.action_pick(kind)
