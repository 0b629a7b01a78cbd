"""Wire text cannot act on the terminal or on Textual: a ClientHello whose SNI and an HTTP request whose Host and
cookie carry markup, an OSC title sequence, a BEL, a C1 CSI and a bidi override are shown as escapes and as
literal text, in the list, the detail and the toasts."""

from __future__ import annotations

import asyncio
import re
import struct
from pathlib import Path

import pytest
from helpers_pcap import write_pcap  # type: ignore[import-not-found]
from tui_helpers import flow_list, make_app, screen_text, tcp_frame, wait_for_capture

from tlsinspect.tui.detail import FlowDetail

EVIL = "[bold red]x[/]\x1b]0;pwned\x07\u202eevil\u009b31m"
"""Markup, an OSC set-title (ESC ... BEL), a right-to-left override and a one-character C1 CSI."""
SHOWN = ["[bold red]x[/]", "\\x1b]0;pwned\\x07", "\\u202eevil", "\\u009b31m"]
"""How each part must appear on screen (`present.values.visible`)."""
ACTIVE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Characters that must never reach the screen (C0 but newline and tab, DEL, C1, bidi controls)."""

CLIENT, SERVER = 0x0A000002, 0x0A000001


def client_hello(sni: bytes) -> bytes:
    """A TLS record holding a minimal ClientHello with one server_name."""
    names = b"\x00" + struct.pack("!H", len(sni)) + sni
    ext_sni = struct.pack("!HH", 0, len(names) + 2) + struct.pack("!H", len(names)) + names
    versions = struct.pack("!HHB", 43, 3, 2) + b"\x03\x04"
    exts = ext_sni + versions
    body = (
        b"\x03\x03"
        + bytes(range(32))
        + b"\x00"
        + struct.pack("!H", 2)
        + b"\x13\x01"
        + b"\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def http_request(value: bytes) -> bytes:
    return (
        b"GET /login HTTP/1.1\r\nHost: " + value + b"\r\nCookie: session=" + value + b"\r\n"
        b"Authorization: Basic dXNlcjpwYXNz\r\nUser-Agent: " + value + b"\r\n\r\n"
    )


def evil_capture(path: Path) -> Path:
    raw = EVIL.encode("utf-8")
    hello = client_hello(raw)
    req = http_request(raw)
    t = 1_795_524_241.0
    frames = [
        (t, tcp_frame(CLIENT, SERVER, 40000, 443, 1, 0x18, hello)),
        (t + 0.01, tcp_frame(CLIENT, SERVER, 40000, 443, 1 + len(hello), 0x04)),
        (t + 0.02, tcp_frame(CLIENT, SERVER, 40001, 80, 1, 0x18, req)),
        (t + 0.03, tcp_frame(CLIENT, SERVER, 40001, 80, 1 + len(req), 0x04)),
    ]
    return Path(write_pcap(path, frames))


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return evil_capture(tmp_path_factory.mktemp("evil") / "evil.pcap")


def assert_inert(text: str, where: str) -> None:
    bad = ACTIVE.search(text)
    assert bad is None, f"{where}: {bad.group()!r} reached the screen at {bad.start()}"


@pytest.mark.parametrize("fid", [1, 2])
def test_wire_text_is_shown_literally_and_inert(capture: Path, fid: int) -> None:
    async def go() -> None:
        app = make_app(capture, live=True)  # live: the high finding also raises a toast
        async with app.run_test(size=(200, 50)) as pilot:
            await wait_for_capture(pilot)
            assert len(app.store) == 2
            flows = flow_list(app)
            flows.select_id(fid)
            await pilot.pause()
            detail = app.query_one(FlowDetail)
            assert detail.flow is not None and detail.flow.id == fid
            text = screen_text(app)
            assert_inert(text, "screen")
            for part in SHOWN:
                assert part in text, f"{part!r} is not on the screen of flow {fid}:\n{text}"
            # The list line of each flow starts with the escaped name (cut to its column).
            lines = [flows.render_line(y).text for y in range(2)]
            assert all("[bold red]x[/]\\x1b]" in line for line in lines), lines
            assert_inert("".join(lines), "list")
            # A toast quoted the finding of the HTTP flow, and nothing in it is active either.
            assert any("HIGH" in str(n.message) for n in app._notifications)
            for n in app._notifications:
                assert_inert(f"{n.title} {n.message}", "toast")
            svg = app.export_screenshot()
            assert "\x1b" not in svg and "\u202e" not in svg and "\x07" not in svg
            assert "[bold red]x[/]" in svg.replace("&#160;", " ")

    asyncio.run(go())


def test_the_capture_really_carries_the_raw_bytes(capture: Path) -> None:
    """The test would prove nothing if the parser dropped the controls: the flows hold them raw."""
    from tui_helpers import options

    from tlsinspect.session import FileSource, Session, finished_flows

    with Session(FileSource(str(capture)), options()) as s:
        flows = {f.id: f for f in finished_flows(s)}
    ch = flows[1].tls.client_hello  # type: ignore[union-attr]
    assert ch is not None and ch.server_name == EVIL
    assert flows[2].http and flows[2].http[0].host == EVIL


def test_a_capture_file_name_is_inert_in_the_header(tmp_path: Path) -> None:
    name = tmp_path / "[bold red]cap[-]\x1b]0;pwned\x07\u202e.pcap"
    evil_capture(name)

    async def go() -> None:
        app = make_app(name)
        async with app.run_test(size=(200, 24)) as pilot:
            await wait_for_capture(pilot)
            header = screen_text(app).splitlines()[0]
            assert "[bold red]cap[-]" in header
            assert_inert(header, "header")

    asyncio.run(go())
