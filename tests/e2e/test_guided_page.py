"""The guided page as a newcomer meets it: the five steps walked with the Next buttons at 1280 px (laptop) and 390 px
(phone), in English and in French (the browser's language), with a screenshot of every step.

Each step is checked for what a non-engineer must never see: nothing wider than the screen (the page does not
scroll sideways, and no visible element reaches past the right edge unless it sits in a box that scrolls), no
developer text (a traceback, "None", Trackio's "call trackio.init()", an untranslated i18n key) and, in French,
French labels. In the results step, the "did it learn?" box must give its verdict and one blind A/B pick must reveal
which answer was the fine-tuned one. Screenshots go to test-artifacts/guided/<language>-<width>-<step>.png."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "guided"
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
DEVELOPER_TEXT = re.compile(r"trackio\.init|Traceback|\bNone\b|__i18n__|\bnull\b")
LEARNED = {"en": r"Yes, it learned|It learned a little|Not yet: it did not learn much",
           "fr": r"Oui, il a appris|Il a un peu appris|Pas encore"}
CHANGED = {"en": r"\d+ of 36 answers to questions it never saw", "fr": r"\d+ réponses sur 36 à des questions jamais vues"}
TALLY = {"en": "You preferred the tuned answer in", "fr": "Vous avez préféré la réponse affinée dans"}
FRENCH = {"data": "Étape 1 sur 5", "model": "Étape 2 sur 5", "cost": "Étape 3 sur 5", "train": "Étape 4 sur 5",
          "results": "Étape 5 sur 5"}


def _visible_text(page) -> str:
    texts = [page.locator("body").inner_text()]
    if not page.locator("#trackio-frame").is_visible():  # a hidden frame's innerText is its raw source
        return texts[0]
    for frame in page.frames[1:]:  # the embedded dashboard
        try:
            texts.append(frame.locator("body").inner_text(timeout=5_000))
        except Exception:  # a frame still loading has no body yet
            pass
    return "\n".join(texts)


def _check_step(page, lang: str, width: int, number: int, moment: str = "") -> None:
    step = STEPS[number - 1]
    page.wait_for_timeout(800)  # let the step's components lay out
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
    page.locator("#validate-summary").get_by_text("Valid" if lang == "en" else "Valide", exact=False).first.wait_for(
        timeout=90_000)
    _check_step(page, lang, width, 1)
    page.click("#next-1")

    # 2 Model & method: the defaults (a short run when this walk trains).
    page.locator("#step-model").wait_for(state="visible", timeout=15_000)
    if train:
        page.fill("#train-max-steps input", "10")
        page.locator("#train-max-steps input").press("Tab")
    _check_step(page, lang, width, 2)
    page.click("#next-2")

    # 3 Cost: the estimate and its table of every flavor.
    page.click("#estimate-btn")
    page.wait_for_function("() => /\\d/.test(document.querySelector('#estimate-summary')?.innerText || '')",
                           timeout=90_000)
    _check_step(page, lang, width, 3)
    page.click("#next-3")

    # 4 Train: before the first run the dashboard explains itself; then the run and its plot.
    page.locator("#step-train").wait_for(state="visible", timeout=15_000)
    if train:
        assert page.locator("#trackio-empty").is_visible()
        _check_step(page, lang, width, 4, "-before-the-first-run")
        page.click("#train-btn")
        page.wait_for_selector('.run-progress[data-state="completed"]', timeout=240_000)
        page.frame_locator("#trackio-frame").locator("canvas, svg").first.wait_for(timeout=60_000)
    _check_step(page, lang, width, 4)
    page.click("#next-4")

    # 5 Results: every held-out question asked to both models, side by side, "did it learn?" in plain words, and one
    # pick of the blind test (the comparison is computed once, by the walk that trained; later walks reuse it).
    page.locator("#step-results").wait_for(state="visible", timeout=15_000)
    page.click("#check-all-btn")
    page.wait_for_function("() => /[✅❌]/.test(document.querySelector('#scoreboard')?.innerText || '')",
                           timeout=120_000)
    summary = page.locator("#learning-summary").inner_text()
    assert re.search(LEARNED[lang], summary), f"no 'did it learn?' verdict in: {summary}"
    assert re.search(CHANGED[lang], summary), f"no count of changed answers in: {summary}"
    page.click("#blind-start")
    page.locator("#blind-pick-a").wait_for(state="visible", timeout=30_000)
    assert page.locator("#blind-reveal").inner_text().strip() == ""  # nothing revealed before the pick
    page.click("#blind-pick-a")
    page.locator("#blind-reveal").get_by_text(TALLY[lang], exact=False).wait_for(timeout=15_000)
    _check_step(page, lang, width, 5)
    context.close()


def test_guided_steps_fit_every_screen_in_two_languages(app_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nguided-page screenshots: {SHOTS}")
    _walk(browser, app_server, "en", 1280, train=True)  # the first walk trains: later ones see its results
    for lang, width in (("en", 390), ("fr", 1280), ("fr", 390)):
        _walk(browser, app_server, lang, width, train=False)
    names = sorted(p.name for p in SHOTS.glob("*.png"))
    assert len(names) >= 4 * len(STEPS), names
