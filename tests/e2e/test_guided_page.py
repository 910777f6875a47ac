"""The guided page as a newcomer meets it: the five steps walked with the Next buttons at 1280 px (laptop) and 390 px
(phone), in English and in French (the browser's language), with a screenshot of every step.

Each step is checked for what a non-engineer must never see: nothing wider than the screen (the page does not
scroll sideways, and no visible element reaches past the right edge unless it sits in a box that scrolls), no
developer text (a traceback, "None", Trackio's "call trackio.init()", an untranslated i18n key) and, in French,
French labels. The estimate of every flavor, the held-out comparison and History must show every figure and every
answer on screen, with no horizontal scroll (wide tables wrap; on a phone each row is a card). In the results step,
the "did it learn?" box must say it learned (the walk trains the default demo run, which learns its facts) and one
blind A/B pick must reveal which answer was the fine-tuned one. Screenshots go to
test-artifacts/guided/<language>-<width>-<step>.png, and of each table to test-artifacts/tables/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, expect_valid

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "guided"
TABLE_SHOTS = ARTIFACTS / "tables"
WIDTHS = (1280, 390)
STEPS = ("data", "model", "cost", "train", "results")

# Every visible element must end inside the viewport, unless an ancestor that itself ends inside the viewport clips
# or scrolls it (a table in its scroll box); the page itself must not scroll sideways.
OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || r.right <= vw + 1) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.display === 'none') continue;
    let p = el.parentElement, contained = false;
    while (p && p !== document.body) {
      const ps = getComputedStyle(p);
      if (['auto', 'scroll', 'hidden', 'clip'].includes(ps.overflowX) && p.getBoundingClientRect().right <= vw + 1) {
        contained = true;
        break;
      }
      p = p.parentElement;
    }
    if (!contained) bad.push((el.id ? '#' + el.id : el.tagName.toLowerCase()) + ' right=' + Math.round(r.right));
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, bad: bad.slice(0, 10)};
}"""
# Every cell of a table (a card's line on a phone) must lie inside the viewport and inside every box that would
# clip or scroll it sideways, and its text must not be cut off: no figure or answer needs a horizontal scroll.
CELLS_JS = """(selector) => {
  const vw = document.documentElement.clientWidth;
  const root = document.querySelector(selector);
  if (!root) return {cells: 0, bad: ['no ' + selector]};
  const bad = [];
  let cells = 0;
  for (const c of root.querySelectorAll('td, th')) {
    const st = getComputedStyle(c);
    if (st.display === 'none') continue;  // a phone hides the header row: each card line names its column
    const r = c.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    cells++;
    let why = null;
    if (r.left < -1 || r.right > vw + 1) why = 'outside the screen (' + Math.round(r.left) + '..' + Math.round(r.right) + ')';
    else if (c.scrollWidth > c.clientWidth + 1) why = 'text cut off';
    else {
      for (let p = c.parentElement; p && p !== document.body; p = p.parentElement) {
        if (!['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(p).overflowX)) continue;
        const pr = p.getBoundingClientRect();
        if (r.left < pr.left - 1 || r.right > pr.right + 1) { why = 'needs a sideways scroll in ' + (p.id || p.className); break; }
      }
    }
    if (why) bad.push(JSON.stringify(c.innerText.slice(0, 30)) + ': ' + why);
  }
  return {cells, bad: bad.slice(0, 8)};
}"""
# Settled: nothing is loading (Gradio's progress text or bar) and the page's size stopped changing between two polls.
SETTLED_JS = """() => {
  const busy = !!document.querySelector('.progress-text, .eta-bar, .progress-level');
  const key = document.body.scrollHeight + 'x' + document.documentElement.scrollWidth;
  const same = window.__guidedLayout === key;
  window.__guidedLayout = key;
  return same && !busy;
}"""
DEVELOPER_TEXT = re.compile(r"trackio\.init|Traceback|\bNone\b|__i18n__|\bnull\b")
LEARNED = {"en": r"✅ Yes, it learned\.", "fr": r"✅ Oui, il a appris\."}
CHANGED = {"en": r"\d+ of 36 answers to questions it never saw", "fr": r"\d+ réponses sur 36 à des questions jamais vues"}
TALLY = {"en": "You preferred the tuned answer in", "fr": "Vous avez préféré la réponse affinée dans"}
FRENCH = {"data": "Étape 1 sur 5", "model": "Étape 2 sur 5", "cost": "Étape 3 sur 5", "train": "Étape 4 sur 5",
          "results": "Étape 5 sur 5"}


def _visible_text(page) -> str:
    texts = [page.locator("body").inner_text()]
    if not page.locator("#trackio-frame").is_visible():  # a hidden frame's innerText is its raw source
        return texts[0]
    body = page.frame_locator("#trackio-frame").locator("body")  # the embedded dashboard: wait for it, never skip it
    expect(body).to_be_attached(timeout=30_000)
    texts.append(body.inner_text(timeout=30_000))
    return "\n".join(texts)


def _check_table(page, selector: str, name: str, lang: str, width: int, min_cells: int) -> None:
    """Every figure and answer of the table at `selector` is on screen without a horizontal scroll; a screenshot of
    it goes to test-artifacts/tables/."""
    table = page.locator(selector)
    table.scroll_into_view_if_needed()
    table.screenshot(path=str(TABLE_SHOTS / f"{lang}-{width}-{name}.png"))
    found = page.evaluate(CELLS_JS, selector)
    assert found["cells"] >= min_cells, f"{name} at {width} px: {found['cells']} cells shown, expected {min_cells}+"
    assert not found["bad"], f"{name} at {width} px: not fully on screen: {found['bad']}"


def _check_step(page, lang: str, width: int, number: int, moment: str = "") -> None:
    step = STEPS[number - 1]
    page.wait_for_function(SETTLED_JS, polling=250, timeout=30_000)  # nothing loading, the layout stopped moving
    path = SHOTS / f"{lang}-{width}-{number}-{step}{moment}.png"
    page.screenshot(path=str(path), full_page=True)
    layout = page.evaluate(OVERFLOW_JS)
    assert layout["scrollWidth"] <= layout["innerWidth"], f"{path.name}: the page scrolls sideways: {layout}"
    assert not layout["bad"], f"{path.name}: cut off at the right edge: {layout['bad']}"
    text = _visible_text(page)
    found = DEVELOPER_TEXT.search(text)
    assert found is None, f"{path.name}: developer text {found.group(0)!r} in: ...{text[max(0, found.start() - 200):found.end() + 100]}"
    if lang == "fr":
        assert FRENCH[step] in text, f"{path.name}: the step is not in French"


def _walk(browser, url: str, lang: str, width: int, train: bool) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR" if lang == "fr" else "en-US")
    page = context.new_page()
    page.goto(url, wait_until="load")
    page.wait_for_selector("#validate-btn")

    # 1 Data: validate the built-in dataset.
    page.click("#validate-btn")
    expect_valid(page, "Valid" if lang == "en" else "Valide")
    expect(page.locator("#validate-preview")).to_contain_text("Zorbia", timeout=30_000)
    _check_step(page, lang, width, 1)
    page.click("#next-1")

    # 2 Model & method: the defaults, with a shorter run when this walk trains (40 steps answer 35 of the 36 held-out
    # questions right, the base none).
    page.locator("#step-model").wait_for(state="visible", timeout=15_000)
    if train:
        page.fill("#train-max-steps input", "40")
        page.locator("#train-max-steps input").press("Tab")
    _check_step(page, lang, width, 2)
    page.click("#next-2")

    # 3 Cost: the estimate and its table of every flavor.
    page.click("#estimate-btn")
    expect(page.locator("#estimate-summary")).to_contain_text(re.compile(r"\d"), timeout=90_000)
    expect(page.locator("#flavor-table")).to_be_visible(timeout=30_000)
    _check_step(page, lang, width, 3)
    _check_table(page, "#flavor-table", "estimate", lang, width, min_cells=5 * 6)
    page.click("#next-3")

    # 4 Train: before the first run the dashboard explains itself; then the run and its plot.
    page.locator("#step-train").wait_for(state="visible", timeout=15_000)
    if train:
        assert page.locator("#trackio-empty").is_visible()
        _check_step(page, lang, width, 4, "-before-the-first-run")
        page.click("#train-btn")
        page.wait_for_selector('.run-progress[data-state="completed"]', timeout=600_000)
        page.frame_locator("#trackio-frame").locator("canvas, svg").first.wait_for(timeout=60_000)
    _check_step(page, lang, width, 4)
    page.click("#next-4")

    # 5 Results: every held-out question asked to both models, side by side, "did it learn?" in plain words, and one
    # pick of the blind test (the comparison is computed once, by the walk that trained; later walks reuse it).
    page.locator("#step-results").wait_for(state="visible", timeout=15_000)
    page.click("#check-all-btn")
    expect(page.locator("#comparison-table")).to_contain_text(re.compile("[✅❌]"), timeout=600_000)  # 72 answers
    expect(page.locator("#learning-summary")).to_contain_text(re.compile(CHANGED[lang]), timeout=30_000)
    summary = page.locator("#learning-summary").inner_text()
    assert re.search(LEARNED[lang], summary), f"the 'did it learn?' verdict is not that it learned: {summary}"
    _check_table(page, "#comparison-table", "comparison", lang, width, min_cells=36 * 4)
    _check_table(page, "#runs-table", "history", lang, width, min_cells=9)
    page.click("#blind-start")
    page.locator("#blind-pick-a").wait_for(state="visible", timeout=30_000)
    assert page.locator("#blind-reveal").inner_text().strip() == ""  # nothing revealed before the pick
    page.click("#blind-pick-a")
    page.locator("#blind-reveal").get_by_text(TALLY[lang], exact=False).wait_for(timeout=15_000)
    _check_step(page, lang, width, 5)
    context.close()


def test_guided_steps_fit_every_screen_in_two_languages(app_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    TABLE_SHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nguided-page screenshots: {SHOTS}")
    _walk(browser, app_server, "en", 1280, train=True)  # the first walk trains: later ones see its results
    for lang, width in (("en", 390), ("fr", 1280), ("fr", 390)):
        _walk(browser, app_server, lang, width, train=False)
    names = sorted(p.name for p in SHOTS.glob("*.png"))
    assert len(names) >= 4 * len(STEPS), names
