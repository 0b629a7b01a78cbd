"""The TUI on a live interface (lo) with a real HTTP client: the flow appears as CLEARTEXT and its high finding
raises a toast. Needs capture rights (CI runs it as root)."""

from __future__ import annotations

import asyncio
import base64
import socket

import pytest
from live_helpers import can_capture, http_server  # type: ignore[import-not-found]
from tui_helpers import flow_list, list_lines, make_app, until

from tlsinspect.session.interface_source import InterfaceOptions, InterfaceSource

pytestmark = pytest.mark.live


def basic_auth_request(port: int) -> None:
    token = base64.b64encode(b"alice:hunter2").decode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(
            f"GET /private HTTP/1.1\r\nHost: intranet.example:{port}\r\nAuthorization: Basic {token}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        while c.recv(4096):
            pass


def test_live_flow_and_toast() -> None:
    if not can_capture():
        pytest.skip("no capture rights on lo")

    async def go(port: int) -> None:
        opts = InterfaceOptions(iface="lo", bpf=f"tcp port {port}")
        app = make_app(source=lambda: InterfaceSource(opts), live=True)
        async with app.run_test(size=(160, 45)) as pilot:
            await until(pilot, lambda: app.sub_title.startswith("lo"), rounds=1000)
            assert "capturing" in str(app.query_one("#status").content)  # type: ignore[attr-defined]
            await asyncio.to_thread(basic_auth_request, port)
            await until(pilot, lambda: any(app.store.finished), rounds=1500)
            fid = next(iter(app.store.finished))
            row = app.store.rows[fid]
            assert row.exposure == "CLEARTEXT" and row.name.startswith("intranet.example")
            await pilot.pause()
            assert any("CLEARTEXT" in line and "intranet.example" in line for line in list_lines(app))
            assert flow_list(app).flow_id == fid, "tail mode selects the new flow"
            toasts = [n for n in app._notifications if str(n.message).startswith(f"#{fid} ")]
            assert toasts and any("HIGH" in str(n.message) or "CRITICAL" in str(n.message) for n in toasts)
            await pilot.press("q")
        assert app.session is not None and app.session.stopping

    with http_server() as port:
        asyncio.run(go(port))
