"""tlsinspect.output.jsonout: the observer object and exposure values come from the presentation layer."""

from __future__ import annotations

import pytest

from tlsinspect.model import Flow
from tlsinspect.output.jsonout import flow_dict
from tlsinspect.present import exposure_value, observer_view


@pytest.mark.parametrize("show_secrets", [False, True])
def test_observer_and_exposures_come_from_the_views(lab_flows: list[Flow], show_secrets: bool) -> None:
    for f in lab_flows:
        d = flow_dict(f, show_secrets=show_secrets)
        assert d["observer"] == observer_view(f, show_secrets=show_secrets).as_dict()
        assert [e["value"] for e in d["exposures"]] == [
            exposure_value(e.kind, e.value, show_secrets).text for e in f.exposures
        ]


def test_masked_json_differs_from_revealed(lab_flows: list[Flow]) -> None:
    login = next(f for f in lab_flows if f.server_port == 47080)
    masked, revealed = flow_dict(login), flow_dict(login, show_secrets=True)
    assert "correct-horse-battery" not in str(masked)
    assert "correct-horse-battery" in str(revealed)
