"""The filter box: why a filter is wrong, shown as you type, and the history of applied filters."""

from __future__ import annotations

from tui_helpers import LAB, LAB_KEYLOG, make_app, sync, wait_for_capture


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
