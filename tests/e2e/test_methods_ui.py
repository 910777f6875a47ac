"""A non-SFT method through the UI: pick DPO with the demo dataset, train a few steps, see it complete and the
dashboard open on DPO's key metrics."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e


def test_dpo_on_demo_data_trains_from_the_ui(app_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(app_server, wait_until="load")
    page.wait_for_selector("#method")

    # Choose DPO: its own settings (beta) appear, the reward editor stays hidden.
    page.locator("#method input").click()
    page.get_by_role("option", name="DPO: learn from preferred vs rejected answers").click()
    page.locator("#dpo-beta").wait_for(state="visible", timeout=15_000)
    assert page.locator("#dpo-beta input").input_value() == "0.1"
    assert not page.locator("#rewards-editor").is_visible()

    # A few steps only.
    page.fill("#max-steps input", "6")
    page.locator("#max-steps input").press("Tab")
    page.click("#train-btn")
    page.wait_for_selector('.run-progress[data-state="completed"]', timeout=240_000)
    assert "completed" in page.locator("#train-status").inner_text()

    # The dashboard opens on DPO's metrics first.
    src = page.locator("#trackio-frame").get_attribute("src")
    assert "metrics=train/rewards/margins,train/rewards/accuracies" in src
    page.screenshot(path=str(ARTIFACTS / "methods-dpo-completed.png"), full_page=True)
    page.close()
