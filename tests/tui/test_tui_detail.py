"""The detail tabs of the selected flow, driven as a user does: select a flow, open a tab (1-6), read the screen."""

from __future__ import annotations

from tui_helpers import LAB, LAB_KEYLOG, make_app, screen_text, sync, wait_for_capture

from tlsinspect.tui.app import TlsInspectApp
from tlsinspect.tui.flow_list import FlowList


def select(app: TlsInspectApp, server_port: int) -> None:
    fid = next(f.id for f in app.store.flows.values() if f.server_port == server_port)
    app.query_one(FlowList).select_id(fid)


async def open_flow(pilot, port: int, key: str) -> str:  # type: ignore[no-untyped-def]
    select(pilot.app, port)
    await pilot.pause()
    await pilot.press(key)
    await pilot.pause()
    return screen_text(pilot.app)


@sync
async def test_ladder_shows_static_rsa_without_forward_secrecy() -> None:
    app = make_app(LAB, keylog=LAB_KEYLOG)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for_capture(pilot)
        text = await open_flow(pilot, 47445, "2")  # legacy-rsa.lab.test: TLS_RSA_WITH_AES_128_CBC_SHA256
        assert "forward secrecy  NO: static RSA" in text
        assert "ClientHello ──▶" in text and "◀── ServerHello" in text and "◀── Certificate" in text
        text = await open_flow(pilot, 47451, "2")  # TLS 1.3: ephemeral, handshake encrypted
        assert "forward secrecy  yes" in text and "key share x25519" in text
        assert "EncryptedExtensions (decrypted)" in text


@sync
async def test_certificates_say_why_in_plain_words() -> None:
    app = make_app(LAB, keylog=LAB_KEYLOG)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for_capture(pilot)
        text = await open_flow(pilot, 47448, "3")  # expired.lab.test
        assert "NOT trusted" in text and "certificate has expired" in text
        assert "✗ leaf: CN=expired.lab.test" in text and "expired 419 days before the capture" in text
        assert "✓ intermediate 1" in text
        text = await open_flow(pilot, 47447, "3")  # django-zero asks, django-devops answers
        assert "name does NOT match" in text and "asked for django-zero.lab.test" in text


@sync
async def test_http_tab_masks_and_r_reveals() -> None:
    app = make_app(LAB, keylog=LAB_KEYLOG)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for_capture(pilot)
        text = await open_flow(pilot, 47080, "4")  # the cleartext login
        assert "POST www.lab.test:47080/login" in text and "CLEARTEXT" in text
        assert "Cookie: se****6d" in text
        await pilot.press("r")
        await pilot.pause()
        assert "Cookie: se****6d" not in screen_text(app)
        await pilot.press("r")
        await pilot.pause()
        assert "Cookie: se****6d" in screen_text(app)


@sync
async def test_http_tab_shows_the_cleartext_hop_behind_the_proxy() -> None:
    app = make_app(LAB, keylog=LAB_KEYLOG)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for_capture(pilot)
        text = await open_flow(pilot, 47446, "4")  # proxy.lab.test over TLS
        assert "inside TLS" in text
        assert "the same host on the other side of TLS" in text and "cleartext HTTP" in text


@sync
async def test_observer_and_endpoint_views() -> None:
    app = make_app(LAB, keylog=LAB_KEYLOG)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for_capture(pilot)
        text = await open_flow(pilot, 47443, "1")  # shop.lab.test, TLS 1.3, decrypted
        assert "anyone on the path reads" in text and "TLS server name (SNI): shop.lab.test" in text
        await pilot.press("o")
        await pilot.pause()
        text = screen_text(app)
        assert "the endpoints' view" in text and "inside TLS" in text


@sync
async def test_findings_tab_explains_and_gives_the_fix() -> None:
    from tlsinspect.analysis.findings import explain

    app = make_app(LAB, keylog=LAB_KEYLOG)
    async with app.run_test(size=(150, 60)) as pilot:
        await wait_for_capture(pilot)
        text = await open_flow(pilot, 47445, "5")
        assert "HIGH tls.no-forward-secrecy" in text
        first_words = explain("tls.no-forward-secrecy").split("\n\n", 1)[-1].split()[:4]
        assert " ".join(first_words) in " ".join(text.split())


@sync
async def test_filter_box_says_why_and_keeps_history() -> None:
    from textual.widgets import Static

    from tlsinspect.tui.filter_box import FilterBox

    app = make_app(LAB, keylog=LAB_KEYLOG)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for_capture(pilot)
        for text in ("proto:http", "version<1.3"):
            await pilot.press("slash")
            box = app.query_one(FilterBox)
            box.value = text
            await pilot.press("enter")
            await pilot.pause()
        assert len(app.store.view) < len(app.store)
        await pilot.press("slash")
        box = app.query_one(FilterBox)
        box.value = "colour:red"
        await pilot.pause()
        error = app.query_one("#filter-error", Static)
        assert error.has_class("visible") and "unknown field 'colour'" in str(error.content)
        await pilot.press("up")
        assert box.value == "version<1.3"
        await pilot.press("up")
        assert box.value == "proto:http"
        await pilot.press("down", "down")
        assert box.value == ""
