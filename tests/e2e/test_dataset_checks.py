"""Dataset checks in a real browser: a broken upload gets row-located errors, columns get mapped from a
suggestion, and the token histogram and the loss-highlighted preview appear."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import ARTIFACTS, go_to_step

pytestmark = pytest.mark.e2e


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _upload(page, path) -> None:
    page.locator("#data-source").get_by_role("radio", name="upload").check()
    page.locator("#dataset-upload").wait_for(state="visible", timeout=15_000)
    page.locator("#dataset-upload input[type=file]").wait_for(state="attached", timeout=15_000)
    page.set_input_files("#dataset-upload input[type=file]", str(path))
    try:
        # Done when the file's row shows. Its name is split into a stem and an extension in a flex box (so innerText
        # may break it) and sits in hidden copies too: wait for the shown row labelled with the whole name.
        page.locator(f'#dataset-upload [aria-label="{path.name}"]').first.wait_for(state="visible", timeout=90_000)
    except Exception:
        _shot(page, "dataset-checks-upload-failure")
        raise


def _validate(page, expect: str) -> str:
    summary = page.locator("#validate-summary")
    before = summary.inner_text()
    page.click("#validate-btn")
    try:
        page.wait_for_function(
            "([before, expect]) => { const t = document.querySelector('#validate-summary')?.innerText || '';"
            " return t !== before && t.includes(expect); }", arg=[before, expect], timeout=90_000)
    except Exception:
        _shot(page, "dataset-checks-failure")
        raise AssertionError(f"expected {expect!r} in the validate summary; it says: {summary.inner_text()!r}") from None
    return summary.inner_text()


@pytest.fixture
def page(app_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(app_server, wait_until="load")
    page.wait_for_selector("#validate-btn")
    yield page
    page.close()


def test_broken_upload_shows_row_located_errors(page, tmp_path):
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    path = tmp_path / "broken_chat.jsonl"
    path.write_text("\n".join([
        json.dumps(good),
        '{"messages": [}',  # line 2: malformed JSON
        json.dumps({"messages": [{"role": "user", "content": "Q"}, {"role": "bot", "content": "A"}]}),  # line 3
    ]) + "\n")
    _upload(page, path)
    text = _validate(page, "Not valid")
    assert "2 error(s)" in text
    table = page.locator("#validate-errors")
    table.wait_for(state="visible", timeout=10_000)
    page.wait_for_function("() => document.querySelector('#validate-errors').innerText.includes('messages[1].role')",
                           timeout=10_000)
    lines = [line.strip() for line in table.inner_text().split("\n") if line.strip()]
    first = lines.index("(line)")
    assert lines[first - 1] == "2" and "not valid JSON" in lines[first + 1], lines
    second = lines.index("messages[1].role")
    assert lines[second - 1] == "3" and "'bot'" in lines[second + 1], lines
    _shot(page, "10-dataset-broken-upload")


def test_mapping_histogram_and_highlighted_preview(page, tmp_path):
    path = tmp_path / "faq.csv"
    rows = ["question,answer"] + [f'"What is {i} plus {i}?","It is {2 * i}, because {i} and {i} make {2 * i}."'
                                  for i in range(1, 13)]
    path.write_text("\n".join(rows) + "\n")
    _upload(page, path)

    # Unmapped: not valid, and the report names the columns and a mapping.
    text = _validate(page, "Not valid")
    assert "question, answer" in text and "needs mapping" in text

    # Suggest mapping fills the column-map box from synonyms.
    page.click("#suggest-mapping-btn")
    box = page.locator("#data-column-map textarea, #data-column-map input").first
    page.wait_for_function(
        "() => { const el = document.querySelector('#data-column-map textarea, #data-column-map input'); return el && el.value.includes('prompt'); }",
        timeout=30_000)
    assert json.loads(box.input_value()) == {"question": "prompt", "answer": "completion"}
    page.locator("#mapping-note").get_by_text("Suggested", exact=False).wait_for(timeout=10_000)

    # A small max length so some examples are truncated.
    go_to_step(page, 2)  # a setting of another step: Validate reads it from there
    max_len = page.get_by_label("Max length (tokens)")
    max_len.fill("24")
    max_len.press("Tab")
    go_to_step(page, 1)
    text = _validate(page, "Valid")
    assert "prompt_completion format" in text and "12 usable" in text
    assert "ready" in text  # the compatibility table

    hist = page.locator("#token-histogram")
    hist.wait_for(timeout=30_000)
    assert page.locator("#token-histogram .tok-bar").count() == 20
    assert page.locator("#max-length-marker").is_visible()
    assert float(hist.get_attribute("data-truncated-pct")) > 0
    assert page.locator("#token-histogram .tok-bar.over").count() > 0
    assert "over max length 24" in hist.inner_text()

    preview = page.locator("#rendered-preview")
    assert preview.locator(".tok.loss").count() > 0
    assert preview.locator(".tok.masked").count() > 0
    loss_text = "".join(preview.locator(".example").first.locator(".tok.loss").all_inner_texts())
    masked_text = "".join(preview.locator(".example").first.locator(".tok.masked").all_inner_texts())
    assert "It is 2" in loss_text and "What is 1" in masked_text
    page.locator("#validate-preview").scroll_into_view_if_needed()
    _shot(page, "11-dataset-mapped-histogram-preview")
