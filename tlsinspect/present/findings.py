"""The findings of one flow as the TUI's Findings tab lists them: severity, title, what was seen, and the rule's
long explanation and fix, the same text `tlsinspect explain RULE` prints (`analysis.findings.explain`).

Rules written as "... What to change: ..." are split there into the explanation and the fix. Cross-flow rules
(http.*, websocket.*) have no long text in the registry: their finding's own detail is the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlsinspect.analysis.findings import explain, rule
from tlsinspect.model import Flow

FIX_MARK = "What to change:"


@dataclass(frozen=True, slots=True)
class FindingView:
    severity: str
    rule: str
    title: str
    detail: str
    evidence: str
    explanation: str
    """The rule's long text (without the fix), or "" when the registry has none."""
    fix: str
    """What to change, or ""."""
    explain_text: str
    """`tlsinspect explain RULE` exactly, or "" for a rule it does not know."""


def finding_views(flow: Flow) -> tuple[FindingView, ...]:
    out = []
    for x in flow.findings:
        try:
            r = rule(x.rule)
            text = explain(x.rule)
        except KeyError:
            explanation, fix, text = "", "", ""
        else:
            explanation, _, fix = r.explain.partition(FIX_MARK)
            explanation, fix = explanation.strip(), fix.strip()
        out.append(FindingView(x.severity, x.rule, x.title, x.detail, x.evidence, explanation, fix, text))
    return tuple(out)
