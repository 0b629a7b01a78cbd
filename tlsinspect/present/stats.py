"""Statistics of a set of flows (the TUI's statistics screen, and any other front end): how many flows use each
TLS version and cipher suite, the most common server names, findings by severity, exposures by kind and what a
passive observer gets. Pure: computed from the flows alone; every label is inert text (`visible`).

    stats = flow_stats(flows, top=10)
    for tally in stats.tallies:                    # fixed order, see TALLY_KEYS
        print(tally.title, tally.total, tally.unit)
        for item in tally.items:
            print(bar(item.count, tally.peak, 20), item.count, item.label)
        if tally.more: print(f"... {tally.more} more ({tally.more_count} {tally.unit})")

`bar(count, peak, width)` draws a text bar (full and eighth blocks) so a count reads without colour.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tlsinspect.model import SEVERITIES, Flow
from tlsinspect.present.rows import GLYPHS, Exposure, exposure_of
from tlsinspect.present.values import suite_label, version_label, visible

TALLY_KEYS = ("observer", "versions", "suites", "sni", "findings", "exposures")
"""The tallies of `FlowStats.tallies`, in order."""

NO_SNI = "(no SNI)"
NOT_NEGOTIATED = "(not negotiated)"


@dataclass(frozen=True, slots=True)
class TallyItem:
    label: str
    """Inert text (wire names went through `visible`)."""
    count: int


@dataclass(frozen=True, slots=True)
class Tally:
    """One bar chart: its items, biggest first (or in a fixed order: severities, observer words)."""

    key: str
    title: str
    unit: str
    """What is counted ("flows", "findings", "exposures")."""
    items: tuple[TallyItem, ...]
    total: int
    """Everything counted, the items left out by `top` included."""
    more: int = 0
    """How many labels `top` left out."""
    more_count: int = 0
    """What those labels counted together."""

    @property
    def peak(self) -> int:
        return max((i.count for i in self.items), default=0)


@dataclass(frozen=True, slots=True)
class FlowStats:
    flows: int
    tls_flows: int
    tallies: tuple[Tally, ...]

    def tally(self, key: str) -> Tally:
        return next(t for t in self.tallies if t.key == key)


def _ranked(key: str, title: str, unit: str, counts: Counter[str], top: int | None) -> Tally:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ranked if top is None else ranked[:top]
    rest = ranked[len(shown) :]
    return Tally(
        key=key,
        title=title,
        unit=unit,
        items=tuple(TallyItem(label, n) for label, n in shown),
        total=sum(counts.values()),
        more=len(rest),
        more_count=sum(n for _, n in rest),
    )


def _fixed(key: str, title: str, unit: str, labels: Iterable[str], counts: Counter[str]) -> Tally:
    items = tuple(TallyItem(label, counts[label]) for label in labels if counts[label])
    return Tally(key=key, title=title, unit=unit, items=items, total=sum(counts.values()))


def flow_stats(flows: Iterable[Flow], top: int | None = 10) -> FlowStats:
    """The tallies of `flows` (the SNI and cipher-suite lists cut to the `top` most common; None: all)."""
    n = tls = 0
    observer: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    suites: Counter[str] = Counter()
    names: Counter[str] = Counter()
    severities: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for f in flows:
        n += 1
        exposure = exposure_of(f)
        observer[f"{GLYPHS[exposure]} {exposure.value}"] += 1
        t = f.tls
        if t is not None:
            tls += 1
            versions[version_label(t.version) or NOT_NEGOTIATED] += 1
            suites[suite_label(t.cipher_suite) or NOT_NEGOTIATED] += 1
            ch = t.client_hello
            names[visible(ch.server_name) if ch is not None and ch.server_name else NO_SNI] += 1
        for x in f.findings:
            severities[x.severity.upper()] += 1
        for e in f.exposures:
            kinds[visible(e.kind)] += 1
    order = [f"{GLYPHS[e]} {e.value}" for e in Exposure]
    known = [s.upper() for s in reversed(SEVERITIES)]
    tallies = (
        _fixed("observer", "What a passive observer gets", "flows", order, observer),
        _ranked("versions", "TLS versions", "TLS flows", versions, None),
        _ranked("suites", "Cipher suites", "TLS flows", suites, top),
        _ranked("sni", "Server names (SNI)", "TLS flows", names, top),
        _fixed(
            "findings",
            "Findings by severity",
            "findings",
            known + sorted(set(severities) - set(known)),
            severities,
        ),
        _ranked("exposures", "Exposures by kind", "exposures", kinds, None),
    )
    return FlowStats(flows=n, tls_flows=tls, tallies=tallies)


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(count: int, peak: int, width: int) -> str:
    """A bar of `width` cells at most, `count` against `peak`, in full and eighth blocks (at least one eighth for
    a count above zero, so a small count never looks like none)."""
    if width <= 0 or peak <= 0 or count <= 0:
        return ""
    eighths = max(1, round(8 * width * min(count, peak) / peak))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")
