"""The findings engine: the registry of rules and `evaluate(flow)`.

Zeek-style: each rule is data (`Rule`: id, default severity, title, long explanation) paired with one small
pure check `(flow) -> list[Finding]`, listed explicitly in the `CHECKS` table of `rules_tls` and `rules_cert`
and concatenated here, in display order. Adding a rule means adding a row, never a branch.

`evaluate` expects `Flow.tls.validation` to be filled already (the engine calls
`validation.validate_chain(...)` before it); without it the trust rules stay silent and the date and name
rules still work from the certificates. A check that raises is a bug: `evaluate` does not hide it.
"""

from __future__ import annotations

from tlsinspect.analysis import rules_cert, rules_tls
from tlsinspect.analysis.rules_common import Check, Rule
from tlsinspect.model import SEVERITIES, Finding, Flow

__all__ = ["CHECKS", "RULES", "SEVERITIES", "Rule", "evaluate", "explain", "rule", "severity_at_least"]

CHECKS: tuple[tuple[Rule, Check], ...] = rules_tls.CHECKS + rules_cert.CHECKS
RULES: tuple[Rule, ...] = tuple(r for r, _ in CHECKS)
_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
if len(_BY_ID) != len(RULES):  # pragma: no cover - a registry bug, caught at import
    raise RuntimeError("duplicate rule id in the findings registry")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def evaluate(flow: Flow) -> tuple[Finding, ...]:
    """All findings for one flow, most severe first, then by rule id (stable within a rule)."""
    found: list[Finding] = []
    for _rule, check in CHECKS:
        found.extend(check(flow))
    return tuple(sorted(found, key=lambda f: (-_RANK[f.severity], f.rule)))


def rule(rule_id: str) -> Rule:
    """The rule with this id (KeyError if there is none)."""
    return _BY_ID[rule_id]


def explain(rule_id: str) -> str:
    """The long plain-language text for a rule: title, default severity, explanation. KeyError if unknown."""
    r = _BY_ID[rule_id]
    return f"{r.id} ({r.severity}): {r.title}\n\n{r.explain}"


def severity_at_least(severity: str, threshold: str) -> bool:
    """True when `severity` is `threshold` or worse (for --fail-on). ValueError for an unknown name."""
    try:
        return _RANK[severity] >= _RANK[threshold]
    except KeyError as exc:
        raise ValueError(
            f"unknown severity {exc.args[0]!r}; expected one of {', '.join(SEVERITIES)}"
        ) from None
