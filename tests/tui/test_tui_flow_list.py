"""The flow list, the filter box and the status line driven through Pilot: every list key, sort, filter, tail mode
on a live-like source, a mouse click, quit. Nothing here is timed."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, Static
from tui_helpers import (
    LAB,
    LAB_KEYLOG,
    QueueSource,
    flow_list,
    lab_flows,
    list_lines,
    make_app,
    until,
    wait_for_capture,
)

from tlsinspect.present.rows import COLUMNS
from tlsinspect.tui.detail import FlowDetail

SMALL = (80, 24)


def status(app: object) -> str:
    return str(app.query_one("#status", Static).content)  # type: ignore[attr-defined]


def lab_app(**kw: object) -> object:
    return make_app(LAB, keylog=LAB_KEYLOG, **kw)  # type: ignore[arg-type]


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_the_capture_fills_the_list_in_order_and_the_status_says_so() -> None:
    async def go() -> None:
        app = lab_app()
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for_capture(pilot)
            assert len(app.store) == 16
            assert app.store.view == list(range(1, 17))
            lines = list_lines(app)
            assert lines[0].split()[:2] == ["1", "12:44:01.321"]
            assert "CLEARTEXT" in lines[0] and "DECRYPTED" in lines[4]
            s = status(app)
            assert s.startswith("16 flows · 256 frames · ended: end of file"), s
            assert "%" not in s, "no read percentage once the capture has ended"
            # A file read starts in tail mode: the cursor is on the last flow and the detail shows it.
            fl = flow_list(app)
            assert fl.cursor == 15 and fl.flow_id == 16
            assert app.query_one(FlowDetail).flow is not None and app.query_one(FlowDetail).flow.id == 16

    run(go())


def test_up_down_j_k_move_the_cursor_and_the_detail_follows() -> None:
    async def go() -> None:
        app = lab_app()
        async with app.run_test(size=SMALL) as pilot:
            await wait_for_capture(pilot)
            fl = flow_list(app)
            detail = app.query_one(FlowDetail)
            await pilot.press("home")
            assert fl.cursor == 0 and fl.flow_id == 1
            await pilot.press("j")
            assert fl.cursor == 1
            await pilot.press("down", "down")
            assert fl.cursor == 3
            await pilot.press("k")
            assert fl.cursor == 2
            await pilot.press("up", "up", "up", "up")
            assert fl.cursor == 0, "the cursor stops on the first flow"
            await pilot.pause()
            assert detail.flow is not None and detail.flow.id == 1
            await pilot.press("j")
            await pilot.pause()
            assert detail.flow is not None and detail.flow.id == 2
            assert not fl.tail

    run(go())


def test_page_keys_move_by_a_screen_and_scroll() -> None:
    async def go() -> None:
        app = lab_app()
        async with app.run_test(size=SMALL) as pilot:
            await wait_for_capture(pilot)
            fl = flow_list(app)
            h = fl.scrollable_content_region.height
            assert 2 < h < 16, "the small terminal shows part of the lab's 16 flows"
            await pilot.press("g")
            assert fl.cursor == 0 and fl.scroll_offset.y == 0
            await pilot.press("pagedown")
            assert fl.cursor == h - 1
            await pilot.press("pagedown")
            assert fl.cursor == min(15, 2 * (h - 1))
            await pilot.pause()
            assert fl.scroll_offset.y <= fl.cursor < fl.scroll_offset.y + h, "the cursor is on screen"
            assert list_lines(app)[fl.cursor - fl.scroll_offset.y].split()[0] == str(fl.flow_id)
            await pilot.press("pagedown", "pagedown", "pagedown")
            assert fl.cursor == 15, "page down stops on the last flow"
            await pilot.press("pageup")
            assert fl.cursor == 15 - (h - 1)
            await pilot.press("pageup", "pageup", "pageup")
            assert fl.cursor == 0
            await pilot.pause()
            assert fl.scroll_offset.y == 0
            assert list_lines(app)[0].split()[0] == "1"

    run(go())


def test_g_G_home_end() -> None:
    async def go() -> None:
        app = lab_app()
        async with app.run_test(size=SMALL) as pilot:
            await wait_for_capture(pilot)
            fl = flow_list(app)
            await pilot.press("g")
            assert (fl.cursor, fl.tail) == (0, False)
            await pilot.press("G")
            assert (fl.cursor, fl.tail) == (15, True)
            await pilot.press("home")
            assert (fl.cursor, fl.tail) == (0, False)
            await pilot.pause()
            assert list_lines(app)[0].split()[0] == "1"
            await pilot.press("end")
            assert (fl.cursor, fl.tail) == (15, True)
            await pilot.pause()
            assert fl.scroll_offset.y > 0
            assert list_lines(app)[fl.cursor - fl.scroll_offset.y].split()[0] == "16"

    run(go())


def test_tail_mode_on_a_live_source() -> None:
    """New rows keep the cursor on the last one until the user moves up; End (or moving down onto the last row)
    resumes it."""
    flows = lab_flows()
    src = QueueSource()

    async def go() -> None:
        app = make_app(source=lambda: src, live=True)
        async with app.run_test(size=SMALL) as pilot:
            fl = flow_list(app)
            src.put(flows[:4])
            await until(pilot, lambda: len(app.store) == 4)
            assert (fl.cursor, fl.flow_id, fl.tail) == (3, 4, True)
            src.put(flows[4:6])
            await until(pilot, lambda: len(app.store) == 6)
            assert (fl.cursor, fl.flow_id) == (5, 6), "tail mode follows new flows"
            await pilot.press("k")
            assert (fl.flow_id, fl.tail) == (5, False)
            src.put(flows[6:8])
            await until(pilot, lambda: len(app.store) == 8)
            assert fl.flow_id == 5, "off tail mode the selection stays put"
            await pilot.press("end")
            assert (fl.flow_id, fl.tail) == (8, True)
            src.put(flows[8:12])
            await until(pilot, lambda: len(app.store) == 12)
            assert fl.flow_id == 12, "End resumed tail mode"
            await pilot.pause()
            assert list_lines(app)[fl.cursor - fl.scroll_offset.y].split()[0] == "12", "the last row is shown"
            await pilot.press("k", "j")
            assert (fl.flow_id, fl.tail) == (12, True), "moving down onto the last row resumes tail mode"
            src.put(flows[12:13])
            await until(pilot, lambda: len(app.store) == 13)
            assert fl.flow_id == 13
            assert "capturing" in status(app)
            src.end()
            await wait_for_capture(pilot)
            assert "ended" in status(app)

    run(go())


def test_enter_moves_focus_to_the_detail() -> None:
    async def go() -> None:
        app = lab_app()
        async with app.run_test(size=SMALL) as pilot:
            await wait_for_capture(pilot)
            fl = flow_list(app)
            assert app.focused is fl
            await pilot.press("home", "j", "enter")
            await pilot.pause()
            detail = app.query_one(FlowDetail)
            assert app.focused is not fl
            assert app.focused is detail or detail in app.focused.ancestors  # type: ignore[union-attr]
            assert detail.flow is not None and detail.flow.id == 2

    run(go())


def _sorted_ids(app: object, key: str, reverse: bool) -> list[int]:
    column = next(c for c in COLUMNS if c.key == key)
    rows = app.store.rows  # type: ignore[attr-defined]
    return sorted(rows, key=lambda i: (column.sort(rows[i]), i), reverse=reverse)


def test_s_cycles_the_sort_column_and_S_reverses() -> None:
    async def go() -> None:
        app = lab_app()
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for_capture(pilot)
            fl = flow_list(app)
            await pilot.press("home")
            for col in COLUMNS[1:]:
                selected = fl.flow_id
                await pilot.press("s")
                assert app.store.column.key == col.key
                assert app.store.view == _sorted_ids(app, col.key, False), col.key
                assert f"sort {col.title} ↑" in status(app)
                assert fl.flow_id == selected, "sorting keeps the selected flow"
            await pilot.press("s")
            assert app.store.column.key == "id" and app.store.view == list(range(1, 17))
            await pilot.press("s", "s", "s")  # server
            await pilot.press("S")
            assert app.store.reverse and app.store.view == _sorted_ids(app, "server", True)
            assert "sort server ↓" in status(app)
            await pilot.pause()
            first = list_lines(app)[0]
            assert first.split()[0] == str(app.store.view[0])
            await pilot.press("S")
            assert not app.store.reverse and app.store.view == _sorted_ids(app, "server", False)

    run(go())


def test_filter_box_valid_invalid_and_escape() -> None:
    async def go() -> None:
        app = lab_app()
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for_capture(pilot)
            box = app.query_one("#filter", Input)
            assert not box.display
            await pilot.press("slash")
            assert box.display and app.focused is box
            await pilot.press(*"cleartext")
            assert not box.has_class("-invalid")
            await pilot.press("enter")
            await pilot.pause()
            ids = app.store.view
            assert ids == [1, 2, 3, 4, 6, 10, 15]
            assert status(app).startswith("7 of 16 flows"), status(app)
            assert "filter: cleartext" in status(app)
            assert not box.display, "Enter on a valid filter closes the box"
            assert app.focused is flow_list(app)
            assert all("CLEARTEXT" in line for line in list_lines(app) if line.strip())

            # An invalid filter is marked as typed; Enter keeps the old filter and says why.
            await pilot.press("slash")
            box.value = ""
            await pilot.press(*"port:")
            await pilot.pause()
            assert box.has_class("-invalid")
            await pilot.press("enter")
            await pilot.pause()
            assert app.store.view == ids, "the old filter stays"
            assert box.display and app.focused is box, "the box stays open to fix the text"
            assert any(n.title == "filter" and n.severity == "error" for n in app._notifications)
            await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace")
            await pilot.pause()
            assert not box.has_class("-invalid"), "the empty text is a filter (every flow)"
            await pilot.press("escape")
            assert not box.display and app.focused is flow_list(app)
            assert app.store.view == ids, "Esc closes without applying"

            # The empty filter shows every flow again.
            await pilot.press("slash")
            box.value = ""
            await pilot.press("enter")
            await pilot.pause()
            assert app.store.view == list(range(1, 17))
            assert status(app).startswith("16 flows")

    run(go())


def test_initial_filter() -> None:
    async def go() -> None:
        app = lab_app(initial_filter="finding:cert.*")
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for_capture(pilot)
            assert app.store.view == [11, 12, 13]
            assert status(app).startswith("3 of 16 flows")

    run(go())


def test_mouse_click_selects_the_row() -> None:
    async def go() -> None:
        app = lab_app()
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for_capture(pilot)
            fl = flow_list(app)
            assert await pilot.click("#flows", offset=(10, 4))
            await pilot.pause()
            assert fl.cursor == 4 and fl.flow_id == 5 and not fl.tail
            assert app.query_one(FlowDetail).flow.id == 5  # type: ignore[union-attr]
            await pilot.press("home")
            assert await pilot.click("#flows", offset=(3, 0))
            assert fl.flow_id == 1

    run(go())


def test_q_quits() -> None:
    async def go() -> None:
        app = lab_app()
        async with app.run_test(size=SMALL) as pilot:
            await wait_for_capture(pilot)
            await pilot.press("q")
            await pilot.pause()
            assert not app.is_running

    run(go())


def test_q_quits_while_reading_and_stops_the_session() -> None:
    src = QueueSource()

    async def go() -> None:
        app = make_app(source=lambda: src, live=True)
        async with app.run_test(size=SMALL) as pilot:
            src.put(lab_flows()[:2])
            await until(pilot, lambda: len(app.store) == 2)
            await pilot.press("q")
            await pilot.pause()
        assert app.session is not None and app.session.stopping

    run(go())
