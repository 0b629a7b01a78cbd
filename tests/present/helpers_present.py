"""Helpers for the presentation-layer tests: every string a view shows, and the secrets a flow carries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields, is_dataclass

from tlsinspect.analysis.exposures import PUBLIC_KINDS
from tlsinspect.model import Flow
from tlsinspect.present import Shown


def shown_strings(obj: object) -> Iterator[str]:
    """Every string a view holds, except the raw value behind a `Shown` (which only a reveal shows)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Shown):
        yield obj.text
    elif isinstance(obj, tuple | list):
        for item in obj:
            yield from shown_strings(item)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from shown_strings(key)
            yield from shown_strings(value)
    elif is_dataclass(obj) and not isinstance(obj, type):
        for f in fields(obj):
            yield from shown_strings(getattr(obj, f.name))


def secrets_of(flow: Flow, min_len: int = 8) -> set[str]:
    """The secret values of a flow's exposures (and the part after "=" or ":"), long enough that masking
    them must hide them."""
    out: set[str] = set()
    for e in flow.exposures:
        if e.kind in PUBLIC_KINDS:
            continue
        for candidate in (e.value, e.value.partition("=")[2], e.value.partition(":")[2]):
            if len(candidate) >= min_len:
                out.add(candidate)
    return out
