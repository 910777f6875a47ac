"""A visitor on a public Space may validate and estimate, but sees Train disabled and why."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, expect_valid, go_to_step, start_app, stop_app

pytestmark = pytest.mark.e2e


def test_visitor_sees_train_disabled_with_reason(tmp_path, browser):
    server, url, _ = start_app(tmp_path, extra_env={"SPACE_ID": "owner/studio", "SPACE_AUTHOR_NAME": "owner"})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, wait_until="load")
        page.wait_for_selector("#validate-btn")
        go_to_step(page, 4)
        note = page.locator("#access-note")
        expect(note).to_contain_text("training is not", timeout=30_000)
        expect(note).to_contain_text(re.compile("duplicate", re.IGNORECASE))
        expect(page.locator("#train-btn")).to_be_disabled(timeout=30_000)
        expect(page.locator("#stop-btn")).to_be_disabled()
        note.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "09-visitor.png"), full_page=True)
        go_to_step(page, 1)
        page.click("#validate-btn")  # validation stays open to everyone
        expect_valid(page)  # "Not valid" would not do
        page.close()
    finally:
        stop_app(server)
