"""A visitor on a public Space may validate and estimate, but sees Train disabled and why."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ARTIFACTS, go_to_step, start_app, stop_app

pytestmark = pytest.mark.e2e


def test_visitor_sees_train_disabled_with_reason(tmp_path, browser):
    server, url, _ = start_app(tmp_path, extra_env={"SPACE_ID": "owner/studio", "SPACE_AUTHOR_NAME": "owner"})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, wait_until="load")
        page.wait_for_selector("#validate-btn")
        go_to_step(page, 4)
        note = page.locator("#access-note")
        note.get_by_text("training is not", exact=False).wait_for(timeout=30_000)
        assert "duplicate" in note.inner_text().lower()
        page.wait_for_function("() => document.querySelector('#train-btn')?.disabled === true", timeout=30_000)
        assert page.locator("#stop-btn").is_disabled()
        note.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "09-visitor.png"), full_page=True)
        go_to_step(page, 1)
        page.click("#validate-btn")  # validation stays open to everyone
        page.locator("#validate-summary").get_by_text("Valid", exact=False).first.wait_for(timeout=60_000)
        page.close()
    finally:
        stop_app(server)
