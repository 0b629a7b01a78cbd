"""The presentation layer: what every front end shows about a capture, computed once (pure, no I/O).

The text report (`tlsinspect.output.text`), the JSON writer's ``observer`` object and the TUI all read these
views, so they show and mask the same things. Nothing here renders: no rich, no textual, no colours.
Layering: present imports model, registry and analysis; output (and the TUI) import present; present never
imports output.

- `flow_view(flow, show_secrets=False) -> FlowView`: a `FlowHeader` plus `Section` objects in a fixed order
  (tls, protection, http, exposures, findings, anomalies), each a tuple of `Row` (label, `Span` runs with a
  `Tone`, and the `Shown` wire values behind it), and the flow's `ObserverView`.
- `observer_view(flow, show_secrets=False) -> ObserverView`: what a passive observer reads (``visible``) and
  what TLS hides (``hidden``), ``unlocked`` when a key log let us read it anyway.
- `capture_view(info, tool_version)` and `summary_view(summary)`: the lines before and after the flows.
- `Shown`: a wire value that knows its raw text, the text to show and whether it is public, masked or
  revealed (`Reveal`); the raw text stays out of ``repr``.

How a TUI consumes a FlowView (see the style guide, §8; ``STYLES`` maps each `Tone` to the app's style,
as `tlsinspect.output.text.TONE_STYLE` does for the report)::

    class FlowDetail(Widget):
        view: reactive[FlowView | None] = reactive(None)

        def watch_view(self, view: FlowView | None) -> None:
            if view is None:
                return
            h = view.header
            self.border_title = f"#{h.id} {h.client} → {h.server} {h.transport}/{h.protocol}"
            for section in view.sections:          # one tab per section key, fixed order
                table = self.query_one(f"#tab-{section.key}", DataTable)
                table.clear()
                for row in section.rows:
                    label = Text(row.label, style=STYLES.get(row.label_tone, ""))
                    value = Text.assemble(*((s.text, STYLES.get(s.tone, "")) for s in row.spans))
                    table.add_row(label, value)
            self.observer_tab.show(view.observer.visible, view.observer.hidden)

The App computes ``flow_view(store[selected_id], show_secrets=self.presenter_reveals)`` when the selection or
the flow changes and assigns it; a "reveal field" key reads ``row.secrets[i].raw`` for that one row. Wire
text always goes in as `Text`/`Content`, never as markup.
"""

from __future__ import annotations

from tlsinspect.present.capture import CaptureView, SummaryView, capture_view, summary_view
from tlsinspect.present.flow import SECTION_KEYS, FlowHeader, FlowView, Row, Section, flow_view
from tlsinspect.present.observer import ObserverItem, ObserverView, observer_view
from tlsinspect.present.values import Reveal, Shown, Span, Tone, exposure_value, uri_value

__all__ = [
    "SECTION_KEYS",
    "CaptureView",
    "FlowHeader",
    "FlowView",
    "ObserverItem",
    "ObserverView",
    "Reveal",
    "Row",
    "Section",
    "Shown",
    "Span",
    "SummaryView",
    "Tone",
    "capture_view",
    "exposure_value",
    "flow_view",
    "observer_view",
    "summary_view",
    "uri_value",
]
