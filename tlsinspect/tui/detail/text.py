"""How the detail tabs turn view models into rich `Text`: every wire string through `visible()`, never markup."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree

from tlsinspect.present import Reveal, Shown, Tone
from tlsinspect.present.values import visible

TONE_STYLE: dict[Tone | None, str] = {
    None: "",
    Tone.MUTED: "dim",
    Tone.PUBLIC: "bold",
    Tone.PROTECTED: "green",
    Tone.EXPOSED: "bold red",
    Tone.WARNING: "yellow",
    Tone.INFO: "dim",
    Tone.LOW: "cyan",
    Tone.MEDIUM: "yellow",
    Tone.HIGH: "bold red",
    Tone.CRITICAL: "bold reverse red",
}
SEVERITY_STYLE = {
    "info": "dim",
    "low": "cyan",
    "medium": "yellow",
    "high": "bold red",
    "critical": "bold reverse red",
}
MASKED_STYLE = "italic magenta"
REVEALED_STYLE = "bold magenta"


def wire(text: str, style: str = "") -> Text:
    """Text from the wire (or built from it): escaped by `visible()` and taken literally."""
    return Text(visible(text), style=style)


def shown(value: Shown, style: str = "") -> Text:
    """A masked-or-revealed value: masked ones in the masked style, revealed ones marked as such."""
    if value.reveal is Reveal.MASKED:
        return wire(value.text, MASKED_STYLE)
    if value.reveal is Reveal.REVEALED:
        return wire(value.text, REVEALED_STYLE)
    return wire(value.text, style)


def labelled(label: str, value: Text | str, label_style: str = "bold") -> Text:
    """ "label: value" (the label is ours, the value may be wire text)."""
    v = value if isinstance(value, Text) else wire(value)
    return Text.assemble(Text(label, style=label_style), ": ", v)


def lines(text: str, style: str = "", indent: str = "    ") -> Text:
    """Multi-line wire text (a body sample): each line escaped on its own, so newlines stay line breaks."""
    out = Text()
    for i, line in enumerate(text.split("\n")):
        if i:
            out.append("\n")
        out.append(indent)
        out.append(visible(line), style=style)
    return out


class WireTree(Tree[None]):
    """A Tree whose string labels are plain text, never markup (Tree's default parses a `str` label as markup)."""

    def process_label(self, label: str | Text) -> Text:
        text = wire(label) if isinstance(label, str) else label
        return text.split()[0] if text.plain else text
