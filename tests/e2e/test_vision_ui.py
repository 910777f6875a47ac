"""The vision demo in a real browser: with demo-vision chosen, Validate's preview shows the flags' thumbnails; the
default one-click run trains; the before/after box asks both models about a held-out flag; the chat
takes an attached flag picture, shows it in the conversation and answers it.
One app and one short run (the default demo-vision config, about 17 s of quiet CPU) for the module."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, expect_valid, go_to_step, start_app, stop_app
from training.data.demo_vision_data import demo_flags

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def vision_app(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("vision-app")
    proc, url, log = start_app(data_dir)
    yield url, data_dir
    stop_app(proc)
    if ARTIFACTS.exists():
        (ARTIFACTS / "vision-app.log").write_text(log.read_text())


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_vision_preview_train_and_chat_with_a_picture(vision_app, browser, tmp_path):
    url, data_dir = vision_app
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url, wait_until="load")
    page.wait_for_selector("#validate-btn")

    # Choose the vision demo: its model (step 2) and its dataset (step 1, by name).
    go_to_step(page, 2)
    model = page.locator("#model-name-or-path").locator("textarea, input").first
    model.fill("demo-vision")
    model.press("Tab")
    go_to_step(page, 1)
    page.locator("#data-source").get_by_role("radio", name="hub").check()
    hub_id = page.locator("#hub-id").locator("textarea, input").first
    hub_id.wait_for(state="visible", timeout=15_000)
    hub_id.fill("demo-vision")
    hub_id.press("Tab")

    # Validate: the preview shows the rows' flags as decoded pictures.
    page.click("#validate-btn")
    summary = expect_valid(page)
    assert "Image tokens" in summary, summary  # counted with demo-vision's processor
    thumbs = page.locator("#validate-preview .thumbs img")
    expect(thumbs.first).to_be_visible(timeout=30_000)
    assert thumbs.first.evaluate("img => img.complete && img.naturalWidth") > 0
    expect(page.locator("#rendered-preview .tok.image").first).to_be_attached(timeout=30_000)  # image tokens marked
    page.locator("#validate-preview").scroll_into_view_if_needed()
    _shot(page, "vision-01-preview")

    # Train the default run (the demo's own settings).
    go_to_step(page, 4)
    page.click("#train-btn")
    page.wait_for_selector('.run-progress[data-state="completed"]', timeout=600_000)

    # Before vs after: the box shows the demo's first held-out flag and its question; both models answer about it.
    go_to_step(page, 5)
    before_after = page.locator("#compare-picture img")
    expect(before_after).to_be_visible(timeout=30_000)
    assert before_after.evaluate("img => img.complete && img.naturalWidth") > 0
    expect(page.locator("#compare-prompt textarea")).to_have_value("What country does this flag belong to?")
    page.click("#compare-btn")
    expect(page.locator("#tuned-answer textarea")).to_have_value(re.compile(r"flag of \w+"), timeout=120_000)
    expect(page.locator("#base-answer textarea")).to_have_value(re.compile(r"flag of \w+"), timeout=60_000)
    page.locator("#compare-picture").scroll_into_view_if_needed()
    _shot(page, "vision-02-before-after")
    page.click("#compare-next-picture")  # the next held-out flag: the answers are cleared for it
    expect(page.locator("#tuned-answer textarea")).to_have_value("", timeout=30_000)

    # Chat with the run: attach a held-out flag, ask, see the picture and the answer.
    page.locator("#chat-picture").wait_for(state="visible", timeout=30_000)  # the finished run is picked: a VLM
    picture = tmp_path / "flag.png"
    shutil.copyfile(sorted((data_dir / "datasets").glob("demo-vision-v*/images/held_out_00_0.png"))[0], picture)
    page.set_input_files("#chat-picture input[type=file]", str(picture))
    expect(page.locator("#chat-picture img")).to_be_visible(timeout=30_000)
    page.locator("#chat-message textarea").fill("What country does this flag belong to?")
    page.click("#chat-send")
    tuned = page.locator("#chat-tuned")
    expect(tuned).to_contain_text(re.compile(r"flag of \w+"), timeout=120_000)
    expect(page.locator("#chat-base")).to_contain_text(re.compile(r"flag of \w+"), timeout=60_000)
    # The tuned model names one of the demo's countries, learned from their flags (wrong ones happen: 22/24 held out).
    places = {place for place, _ in demo_flags()}
    assert re.search(r"flag of (\w+)", tuned.inner_text()).group(1) in places, tuned.inner_text()
    shown = tuned.locator("img").first
    expect(shown).to_be_visible(timeout=30_000)
    assert shown.evaluate("img => img.complete && img.naturalWidth") > 0, "the attached picture shows in the chat"
    expect(page.locator("#chat-note")).not_to_contain_text("⚠️")
    page.locator("#chat-section").scroll_into_view_if_needed()
    _shot(page, "vision-03-chat")
    page.close()
