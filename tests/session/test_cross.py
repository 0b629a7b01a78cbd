"""The session's cross-connection stages: the bounded window for files, the history for live captures."""

from __future__ import annotations

from test_observer import flow, get, tls_info

from tlsinspect.session.cross import RecentCrossFlow


def test_live_history_finds_relations_to_earlier_flows_only() -> None:
    """Live flows are judged against flows that ended before them: HTTPS then HTTP to the same host is found;
    the HTTP flow written before any HTTPS flow to its host is not (it cannot wait)."""
    cross = RecentCrossFlow(show_secrets=False)
    early_http = cross.add(flow(1, http=(get("/", host="shop.example"),), t=10.0))
    assert "http.mixed-host" not in {f.rule for f in early_http.findings}
    cross.add(flow(2, tls=tls_info(sni="shop.example"), port=443, t=20.0))
    late_http = cross.add(flow(3, http=(get("/cart", host="shop.example"),), t=21.0))
    assert "http.mixed-host" in {f.rule for f in late_http.findings}


def test_live_history_is_bounded() -> None:
    cross = RecentCrossFlow(show_secrets=False, history=3)
    for i in range(10):
        cross.add(flow(i + 1, http=(get("/"),), t=float(i)))
    assert [f.id for f in cross.history] == [8, 9, 10]
