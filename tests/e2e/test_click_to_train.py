"""The whole demo path in a real browser: validate, estimate, train, live Trackio plot, before/after."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, expect_valid, go_to_step

pytestmark = pytest.mark.e2e


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_demo_click_to_train(app_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(app_server, wait_until="load")
    page.wait_for_selector("#validate-btn")
    _shot(page, "01-start")

    # 1. Validate the built-in demo dataset without typing anything.
    page.click("#validate-btn")
    summary = expect_valid(page)
    assert re.search(r"\d+ rows", summary)
    # The preview arrives in the same update, but the page may still show the progress bar over it for a moment.
    expect(page.locator("#validate-preview")).to_contain_text("Zorbia", timeout=30_000)
    _shot(page, "02-validated")

    # 2. Estimate on this machine.
    go_to_step(page, 3)
    page.click("#estimate-btn")
    expect(page.locator("#estimate-summary")).to_contain_text(re.compile(r"needs about [\d.]+ GB"), timeout=60_000)
    expect(page.locator("#estimate-summary")).to_contain_text("seconds")

    # 3. Train; a second Start while it trains is refused.
    go_to_step(page, 4)
    page.click("#train-btn")
    page.wait_for_selector('.run-progress[data-state="running"]', timeout=30_000)
    page.click("#train-btn")
    expect(page.get_by_text("A run is active", exact=False).first).to_be_visible(timeout=15_000)  # the warning toast
    page.wait_for_function(
        "() => { const el = document.querySelector('.run-progress'); return el && Number(el.dataset.step) >= 30; }",
        timeout=300_000,  # generous: a loaded 2-core machine trains at a tenth of its quiet speed
    )
    _shot(page, "03-training")

    # 4. The embedded Trackio dashboard shows this run's loss plot.
    frame = page.frame_locator("#trackio-frame")
    frame.get_by_text("loss", exact=True).first.wait_for(timeout=60_000)
    frame.locator("canvas, svg").first.wait_for(timeout=30_000)
    page.locator("#dashboard").scroll_into_view_if_needed()
    _shot(page, "04-dashboard")

    # 5. The run completes and the base and fine-tuned answers differ.
    page.wait_for_selector('.run-progress[data-state="completed"]', timeout=600_000)
    go_to_step(page, 5)
    page.click("#compare-btn")
    tuned = page.locator("#tuned-answer textarea")
    expect(tuned).to_have_value(re.compile(r"\S"), timeout=60_000)
    expect(page.locator("#base-answer textarea")).to_have_value(re.compile(r"\S"), timeout=10_000)
    base_text = page.locator("#base-answer textarea").input_value()
    tuned_text = tuned.input_value()
    assert tuned_text != base_text
    assert "Plimtown" in tuned_text
    assert "Plimtown" not in base_text
    page.locator("#compare-btn").scroll_into_view_if_needed()
    _shot(page, "05-before-after")
    page.close()


def test_bad_settings_get_a_clear_message(app_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(app_server, wait_until="load")
    page.wait_for_selector("#validate-btn")
    go_to_step(page, 2)
    page.fill("#train-learning-rate input", "0")
    go_to_step(page, 3)
    page.click("#estimate-btn")
    expect(page.locator("#estimate-summary")).to_contain_text("train.learning_rate", timeout=30_000)
    expect(page.locator("#estimate-summary")).to_contain_text("greater than 0")
    _shot(page, "06-bad-settings")
    page.close()
