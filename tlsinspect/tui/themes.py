"""The TUI's themes: dark (the default), light, and a high-contrast one for a projector (dark text on white,
saturated colours, no faint text). `t` cycles them in this order. Every exposure and severity is also a word or
a glyph, so no theme has to carry meaning by colour alone."""

from __future__ import annotations

from textual.theme import Theme

DARK = Theme(
    name="tlsinspect-dark",
    primary="#4FA3E0",
    secondary="#7AA6C2",
    accent="#5FB3F9",
    foreground="#E6E6E6",
    background="#121417",
    surface="#1B1F24",
    panel="#252B33",
    success="#5CC46A",
    warning="#E8B23A",
    error="#F0625A",
    dark=True,
)

LIGHT = Theme(
    name="tlsinspect-light",
    primary="#1F6FB2",
    secondary="#4A6F8A",
    accent="#1565C0",
    foreground="#1E1E1E",
    background="#FAFAF7",
    surface="#F0F0EC",
    panel="#E2E4E8",
    success="#1E7B34",
    warning="#9A5B00",
    error="#B3261E",
    dark=False,
)

PROJECTOR = Theme(
    name="tlsinspect-projector",
    primary="#0000B0",
    secondary="#000060",
    accent="#0000D0",
    foreground="#000000",
    background="#FFFFFF",
    surface="#FFFFFF",
    panel="#D8D8D8",
    success="#006400",
    warning="#8A4000",
    error="#C00000",
    dark=False,
    luminosity_spread=0.1,
    text_alpha=1.0,
    variables={
        "text-muted": "#202020",
        "text-disabled": "#404040",
        "footer-key-foreground": "#0000B0",
        "block-cursor-text-style": "bold",
    },
)

THEMES: tuple[Theme, ...] = (DARK, LIGHT, PROJECTOR)
"""In the order `t` cycles them; the first is the default."""


def next_theme(current: str) -> str:
    """The theme after `current` (the first after any theme not ours)."""
    names = [t.name for t in THEMES]
    return names[(names.index(current) + 1) % len(names)] if current in names else names[0]
