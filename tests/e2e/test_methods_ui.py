"""A non-SFT method through the UI: pick DPO with the demo dataset, set a few advanced settings (generated from their
declarations), train a few steps, see it complete with those settings and the dashboard open on DPO's key metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, go_to_step

pytestmark = pytest.mark.e2e


def _client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def test_dpo_on_demo_data_trains_from_the_ui(app_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(app_server, wait_until="load")
    page.wait_for_selector("#validate-btn")
    go_to_step(page, 2)

    # Choose DPO: its own settings (beta) appear, the reward editor stays hidden.
    page.locator("#method input").click()
    page.get_by_role("option", name="DPO: learn from preferred vs rejected answers").click()
    page.locator("#dpo-beta").wait_for(state="visible", timeout=15_000)
    expect(page.locator("#dpo-beta input")).to_have_value("0.1")
    expect(page.locator("#rewards")).to_be_hidden()

    # A few steps only.
    page.fill("#train-max-steps input", "6")
    page.locator("#train-max-steps input").press("Tab")

    # Advanced settings: the SFT-only ones are hidden for DPO, LoRA's show only with LoRA on.
    page.locator("#advanced-settings").get_by_text("Advanced settings").first.click()
    page.locator("#train-seed").wait_for(state="visible", timeout=15_000)
    expect(page.locator("#train-packing")).to_be_hidden()
    expect(page.locator("#lora-r")).to_be_hidden()
    page.locator("#lora-enabled input").check()
    page.locator("#lora-r").wait_for(state="visible", timeout=15_000)
    page.locator("#lora-enabled input").uncheck()  # the random-init demo model trains all weights
    page.locator("#lora-r").wait_for(state="hidden", timeout=15_000)
    page.fill("#train-seed input", "7")
    page.locator("#train-seed input").press("Tab")
    page.locator("#train-gradient-checkpointing").get_by_role("radio", name="off").check()
    page.locator("#run-name").locator("textarea, input").first.fill("dpo-from-the-ui")

    go_to_step(page, 4)
    page.click("#train-btn")
    page.wait_for_selector('.run-progress[data-state="completed"]', timeout=240_000)
    expect(page.locator("#train-status")).to_contain_text("completed", timeout=30_000)
    status = json.loads(_client(app_server).predict(api_name="/run_status"))
    config = json.loads((Path(status["output_dir"]) / "config.json").read_text())
    assert config["method"] == "dpo" and config["train"]["max_steps"] == 6 and config["train"]["seed"] == 7
    assert config["train"]["gradient_checkpointing"] is False and config["run_name"] == "dpo-from-the-ui"
    assert config["lora"]["enabled"] is False and config["method_args"]["beta"] == 0.1

    # The dashboard opens on the loss, then DPO's own metrics, plotted against the trainer's step.
    frame = page.locator("#trackio-frame")
    expect(frame).to_have_attribute("src", re.compile(re.escape("metrics=train/loss,train/rewards/margins,train/rewards/accuracies")),
                                    timeout=30_000)
    expect(frame).to_have_attribute("src", re.compile(re.escape("x_axis=train/global_step")))
    page.screenshot(path=str(ARTIFACTS / "methods-dpo-completed.png"), full_page=True)
    page.close()
